"""Backups and restore jobs on the wire (snake_case, as `pinecone` 10.2.0 decodes them).

BackupModel requires `backup_id, source_index_name, source_index_id, status, cloud, region`; RestoreJobModel
requires `restore_job_id, backup_id, target_index_name, target_index_id, status`. Listings are
`{"data": [...], "pagination": {"next": token} | null}`. `dimension` and `metric` are kept beside `schema`
for the SDKs of API 2025-04/2025-10, whose BackupModel had them at the top level. Optional fields without
a value are left out rather than sent as null: the generated client of pinecone 7.x types them `str`/`int`
and refuses a null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spruce.errors import InvalidArgumentError
from spruce.service.backup_files import Backup, RestoreJob
from spruce.wire import index_model

Json = dict[str, Any]


def backup_json(b: Backup) -> Json:
    out: Json = {
        "backup_id": b.backup_id,
        "source_index_name": b.source_index_name,
        "source_index_id": b.source_index_id,
        "status": b.status,
        "cloud": b.cloud,
        "region": b.region,
        "name": b.name,
        "description": b.description,
        "record_count": b.record_count,
        "namespace_count": b.namespace_count,
        "size_bytes": b.size_bytes,
        "tags": dict(b.tags) if b.tags else None,
        "created_at": b.created_at,
        "metric": b.metric,
        "dimension": b.dimension,
    }
    if b.index is not None:
        out["schema"] = index_model.index_json(b.index, "", None)["schema"]
    return {k: v for k, v in out.items() if v is not None}


def restore_job_json(j: RestoreJob) -> Json:
    out: Json = {
        "restore_job_id": j.restore_job_id,
        "backup_id": j.backup_id,
        "target_index_name": j.target_index_name,
        "target_index_id": j.target_index_id,
        "status": j.status,
        "created_at": j.created_at,
        "completed_at": j.completed_at,
        "percent_complete": j.percent_complete,
    }
    if j.error is not None:
        out["error"] = j.error  # not in Pinecone's model (ignored by the SDK); says why a job failed
    return {k: v for k, v in out.items() if v is not None}


def list_json(items: Sequence[Json], token: str | None) -> Json:
    return {"data": list(items), "pagination": {"next": token} if token else None}


@dataclass(frozen=True, slots=True)
class CreateBackup:
    name: str | None
    description: str | None


def create_backup_request(body: Mapping[str, Any]) -> CreateBackup:
    return CreateBackup(_opt_str(body, "name"), _opt_str(body, "description"))


@dataclass(frozen=True, slots=True)
class CreateIndexFromBackup:
    name: str
    deletion_protection: str | None
    tags: dict[str, str] | None


def create_index_from_backup_request(body: Mapping[str, Any]) -> CreateIndexFromBackup:
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError("name is required: the name of the index to create from the backup")
    tags = body.get("tags")
    if tags is not None and (
        not isinstance(tags, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items())
    ):
        raise InvalidArgumentError("tags must be an object of string keys and values")
    capacity = body.get("read_capacity")
    if capacity is not None and (
        not isinstance(capacity, dict) or capacity.get("mode", "OnDemand") != "OnDemand"
    ):
        raise InvalidArgumentError("read_capacity: only {'mode': 'OnDemand'} is supported on this server")
    return CreateIndexFromBackup(name, _opt_str(body, "deletion_protection"), tags)


def _opt_str(body: Mapping[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidArgumentError(f"{key} must be a string")
    return value


def limit_param(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgumentError(f"limit must be an integer, got {raw!r}") from None


def bool_param(raw: str | None, key: str) -> bool:
    if raw is None or raw == "":
        return False
    if raw.lower() not in ("true", "false"):
        raise InvalidArgumentError(f"{key} must be true or false, got {raw!r}")
    return raw.lower() == "true"

"""Backups and restore jobs as records, and the checksummed documents they are kept in.

    <root>/backups/<backup_id>/backup.json  {"format":"spruce-backup","version":1,"backup":{...},"crc32"}
    <root>/backups/restore-jobs.json        {"format":"spruce-restore-jobs","version":1,"jobs":[...],"crc32"}

Each document carries its format, version and a CRC-32 of its body, so a damaged or foreign file is
reported as `BackupCorruptionError` instead of being read as a backup (service/backups.py).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from spruce.errors import BackupCorruptionError
from spruce.types import EmbedSpec, IndexInfo

BACKUP_FORMAT = "spruce-backup"
JOBS_FORMAT = "spruce-restore-jobs"
FORMAT_VERSION = 1
BACKUP_FILE = "backup.json"
JOBS_FILE = "restore-jobs.json"


@dataclass(slots=True)
class Backup:
    backup_id: str
    source_index_name: str
    source_index_id: str
    status: str
    cloud: str
    region: str
    dimension: int | None
    metric: str
    vector_type: str
    record_count: int
    namespace_count: int
    size_bytes: int
    created_at: str
    name: str | None = None
    description: str | None = None
    tags: dict[str, str] | None = None
    lsn: int = 0  # WAL position the backup captured
    index: IndexInfo | None = None  # the source's settings, to create the restored index with


@dataclass(slots=True)
class RestoreJob:
    restore_job_id: str
    backup_id: str
    target_index_name: str
    target_index_id: str
    status: str  # Pending | Completed | Failed
    created_at: str
    completed_at: str | None = None
    percent_complete: float | None = None
    error: str | None = None


def backup_key(b: Backup) -> str:
    """Listing order and paging key: oldest first, the id breaking ties between equal timestamps."""
    return f"{b.created_at}|{b.backup_id}"


def job_key(j: RestoreJob) -> str:
    return f"{j.created_at}|{j.restore_job_id}"


def encode_doc(fmt: str, body: dict[str, Any]) -> bytes:
    doc: dict[str, Any] = {"format": fmt, "version": FORMAT_VERSION, **body}
    doc["crc32"] = zlib.crc32(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))
    return orjson.dumps(doc)


def read_doc(path: Path, fmt: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise BackupCorruptionError(f"{path} cannot be read: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise BackupCorruptionError(f"{path} is not a {fmt} file")
    if doc.get("version") != FORMAT_VERSION:
        raise BackupCorruptionError(
            f"{path} has version {doc.get('version')}; this Spruce reads version {FORMAT_VERSION}"
        )
    body = {k: val for k, val in doc.items() if k not in ("format", "version", "crc32")}
    if doc.get("crc32") != zlib.crc32(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)):
        raise BackupCorruptionError(f"{path} fails its checksum")
    return body


def read_backup(path: Path) -> Backup:
    raw = dict(read_doc(path, BACKUP_FORMAT)["backup"])
    index = dict(raw.pop("index"))
    embed = index.pop("embed", None)
    raw["index"] = IndexInfo(**index, embed=EmbedSpec(**embed) if embed else None)
    return Backup(**raw)

"""What an import will read, decided when it starts and before any job exists.

The request's options and the source's layout are checked first, then every file's schema and row
count from its Parquet footer alone, so bad input is refused at once with a 400 naming the file
instead of failing a job later. The job table (import_jobs.py) records the resulting plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from spruce.config import ImportConfig
from spruce.errors import InvalidArgumentError
from spruce.service import validation as v
from spruce.service.import_jobs import PlannedFile
from spruce.service.import_rows import check_schema
from spruce.service.import_sources import Layout, discover, display_path, open_uri

if TYPE_CHECKING:
    from spruce.service.data import IndexService


@dataclass(frozen=True, slots=True)
class ImportSource:
    """An import request whose options are valid, with its source opened and listed."""

    uri: str
    error_mode: str  # "continue" | "abort"
    integration_id: str | None
    fs: Any
    base: str
    layout: Layout


@dataclass(frozen=True, slots=True)
class ImportPlan:
    files: dict[str, list[PlannedFile]]  # namespace -> its files, namespaces sorted
    total_rows: int


def open_source(
    svc: IndexService,
    index: str,
    uri: object,
    error_mode: object,
    integration_id: object,
    config: ImportConfig,
) -> ImportSource:
    if svc.info.embed is not None:
        raise InvalidArgumentError(
            f"index {index!r} has integrated embedding; imports load vectors, so use an index "
            "created with a dimension (or upsert_records for text)"
        )
    if svc.store.path is None:
        raise InvalidArgumentError("imports need an index on disk; open the client with a path")
    mode = "abort" if error_mode is None else str(error_mode).lower()
    if mode not in ("continue", "abort"):
        raise InvalidArgumentError(f"errorMode.onError must be 'continue' or 'abort', got {error_mode!r}")
    if integration_id is not None and not isinstance(integration_id, str):
        raise InvalidArgumentError("integrationId must be a string")
    fs, base = open_uri(uri, config, integration_id)
    assert isinstance(uri, str)
    layout = discover(fs, base, uri)
    if not layout.namespaces:
        raise InvalidArgumentError(
            f"no .parquet files under {uri!r}: files go in <uri>/<namespace>/ (__default__ for the "
            "default namespace)"
        )
    if len(layout.namespaces) > config.max_namespaces:
        raise InvalidArgumentError(
            f"{uri!r} holds {len(layout.namespaces)} namespaces; one import may create at most "
            f"{config.max_namespaces}"
        )
    return ImportSource(uri, mode, integration_id, fs, base, layout)


def plan_files(
    svc: IndexService, index: str, source: ImportSource, claimed: set[str], config: ImportConfig
) -> ImportPlan:
    """Every namespace's files with their row counts. `claimed` holds the namespaces that unfinished
    jobs will create: an import only creates namespaces, so those count as existing."""
    uri, fs, base = source.uri, source.fs, source.base
    plan: dict[str, list[PlannedFile]] = {}
    total = 0
    for ns in sorted(source.layout.namespaces):
        v.check_namespace(ns)
        shown = ns or "__default__"
        if svc.store.has_namespace(ns) or ns in claimed:
            raise InvalidArgumentError(
                f"namespace {shown!r} already exists in index {index!r}; an import only creates new "
                "namespaces (delete it first, or import under another prefix)"
            )
        files = []
        for f in source.layout.namespaces[ns]:
            where = f"{display_path(uri, base, f.path)}"
            try:
                meta = pq.read_metadata(fs.open_input_file(f.path))
            except (OSError, pa.ArrowInvalid) as exc:
                raise InvalidArgumentError(f"{where} is not a readable Parquet file: {exc}") from None
            check_schema(meta.schema.to_arrow_schema(), svc.info, where)
            files.append(PlannedFile(f.path, meta.num_rows))
            total += meta.num_rows
        plan[ns] = files
    if total > config.max_records:
        raise InvalidArgumentError(
            f"{uri!r} holds {total} records; one import may hold at most {config.max_records}"
        )
    return ImportPlan(plan, total)

"""Bulk import jobs and their durable table (one per index, in its data directory).

`<index dir>/imports.jsonl` is an append-only log: a header line, then one full snapshot of a job per
line, each line `<crc32 hex8> <json>`. Opening keeps the last valid snapshot of every job; a torn or
corrupt line (a crash mid-append) ends the readable log and is dropped. Every append is fsync'd: status
changes are rare (start, each namespace published, the end), progress lives in memory. The log is
rewritten compactly (atomically) when it has grown well past the number of jobs.
"""

from __future__ import annotations

import threading
import zlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from spruce.engine.fsutil import atomic_write_bytes, fsync_file
from spruce.errors import CorruptionError

JOBS_FORMAT = "spruce-import-jobs"
JOBS_VERSION = 1
FILE_NAME = "imports.jsonl"

PENDING, IN_PROGRESS, COMPLETED, FAILED, CANCELLED = (
    "Pending",
    "InProgress",
    "Completed",
    "Failed",
    "Cancelled",
)
TERMINAL = (COMPLETED, FAILED, CANCELLED)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(slots=True)
class PlannedFile:
    path: str
    rows: int


@dataclass(slots=True)
class ImportJob:
    id: str
    index: str
    uri: str
    error_mode: str  # "continue" | "abort"
    integration_id: str | None
    created_at: str
    status: str = PENDING
    finished_at: str | None = None
    records_imported: int = 0
    error: str | None = None
    # The plan, fixed at start: namespace -> files (with row counts from their footers).
    plan: dict[str, list[PlannedFile]] = field(default_factory=dict)
    total_rows: int = 0
    done: dict[str, int] = field(default_factory=dict)  # published namespace -> its record count
    publishing: str | None = None  # namespace whose publication may have happened before a crash
    skipped_rows: int = 0
    # In memory only:
    rows_read: int = 0

    @property
    def percent_complete(self) -> float:
        if self.status == COMPLETED:
            return 100.0
        if not self.total_rows:
            return 0.0
        return round(min(100.0, 100.0 * self.rows_read / self.total_rows), 2)

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("rows_read")
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> ImportJob:
        plan = {ns: [PlannedFile(**f) for f in files] for ns, files in doc.pop("plan").items()}
        return cls(**doc, plan=plan)


class JobTable:
    """The jobs of one index; thread-safe. `path` None keeps them in memory."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.jobs: dict[str, ImportJob] = {}
        self._lines = 0
        self.next_id = 1
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        raw = path.read_bytes().split(b"\n")
        torn = False
        for i, line in enumerate(raw):
            if not line:
                continue
            doc = _decode_line(line)
            if doc is None:
                torn = True  # a crash mid-append: everything before it was acknowledged
                break
            if i == 0:
                if doc.get("format") != JOBS_FORMAT or doc.get("version") != JOBS_VERSION:
                    raise CorruptionError(f"{path}: unknown import job table format")
                continue
            job = ImportJob.from_json(doc)
            job.rows_read = sum(f.rows for ns in job.done for f in job.plan.get(ns, []))
            self.jobs[job.id] = job
            self._lines += 1
        if self.jobs:
            self.next_id = max(int(j) for j in self.jobs) + 1
        if torn:
            self._rewrite()  # so the next append does not land after the torn bytes

    def new_id(self) -> str:
        with self._lock:
            jid = str(self.next_id)
            self.next_id += 1
            return jid

    def save(self, job: ImportJob) -> None:
        """Make the job's current state durable (and the table's record of it)."""
        with self._lock:
            self.jobs[job.id] = job
            if self.path is None:
                return
            if not self.path.exists() or self._lines > 4 * len(self.jobs) + 64:
                self._rewrite()
                return
            with open(self.path, "ab") as f:
                f.write(_encode_line(job.to_json()))
                fsync_file(f)
            self._lines += 1

    def _rewrite(self) -> None:
        assert self.path is not None
        lines = [_encode_line({"format": JOBS_FORMAT, "version": JOBS_VERSION})]
        lines += [_encode_line(j.to_json()) for j in self.jobs.values()]
        atomic_write_bytes(self.path, b"".join(lines))
        self._lines = len(self.jobs)

    def ordered(self) -> list[ImportJob]:
        with self._lock:
            return sorted(self.jobs.values(), key=lambda j: int(j.id))


def _encode_line(doc: dict[str, Any]) -> bytes:
    body = orjson.dumps(doc)
    return b"%08x " % zlib.crc32(body) + body + b"\n"


def _decode_line(line: bytes) -> dict[str, Any] | None:
    if len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        doc = orjson.loads(body)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def table_path(index_dir: Path | None) -> Path | None:
    return None if index_dir is None else index_dir / FILE_NAME

"""What a running Spruce process is doing: version, uptime, memory, and each index's storage.

One function collects it for every front end (the console's server panel through `GET /admin/status`,
the metrics scrape, `spruce stats`), so they all report the same figures.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from spruce.engine.stats import COUNTERS, EngineCounters, StoreStats
from spruce.errors import SpruceError
from spruce.service.catalog import Catalog


def version() -> str:
    try:
        return metadata.version("spruce")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    pid: int
    rss_bytes: int
    peak_rss_bytes: int
    open_files: int
    threads: int


def process_info() -> ProcessInfo:
    return ProcessInfo(
        pid=os.getpid(),
        rss_bytes=_rss_bytes(),
        # ru_maxrss is in KiB on Linux.
        peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        open_files=_count_entries("/proc/self/fd"),
        threads=_count_entries("/proc/self/task"),
    )


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _count_entries(directory: str) -> int:
    try:
        return len(os.listdir(directory))
    except OSError:
        return -1  # not Linux: unknown


@dataclass(frozen=True, slots=True)
class IndexStatus:
    name: str
    records: int
    storage: StoreStats


@dataclass(frozen=True, slots=True)
class ServerStatus:
    version: str
    data_dir: str | None
    started_at: float  # unix time
    uptime_seconds: float
    process: ProcessInfo
    engine: EngineCounters
    indexes: tuple[IndexStatus, ...]

    @property
    def graph_builds_pending(self) -> int:
        return sum(i.storage.graphs_pending for i in self.indexes)


def index_statuses(catalog: Catalog) -> tuple[IndexStatus, ...]:
    out = []
    for info in catalog.list_indexes():
        try:
            storage = catalog.index(info.name).store.stats()
        except SpruceError:
            continue  # deleted (or the catalogue closed) between list and open
        out.append(IndexStatus(info.name, sum(n.records for n in storage.namespaces), storage))
    return tuple(out)


def server_status(catalog: Catalog, started_at: float) -> ServerStatus:
    path: Path | None = catalog.path
    return ServerStatus(
        version=version(),
        data_dir=str(path.resolve()) if path is not None else None,
        started_at=started_at,
        uptime_seconds=max(0.0, time.time() - started_at),
        process=process_info(),
        engine=COUNTERS.snapshot(),
        indexes=index_statuses(catalog),
    )

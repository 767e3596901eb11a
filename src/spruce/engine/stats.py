"""Process-wide engine counters for monitoring: graph builds and how rows were searched.

Plain integers bumped under one lock: a few increments per query or build cost nothing next to the
work they count. Per-index state (WAL size, segments) is read from the stores at scrape time instead
(`store_stats`), so only events that leave no trace in the data are counted here.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from spruce.engine.ann import AnnIndex
    from spruce.engine.graphs import GraphKeeper
    from spruce.engine.namespace import Namespace
    from spruce.engine.namespace_table import NamespaceTable
    from spruce.engine.wal import Wal


@dataclass(frozen=True, slots=True)
class EngineCounters:
    graph_builds_started: int
    graph_builds_finished: int
    graph_build_seconds: float
    rows_searched_exact: int
    rows_searched_graph: int

    @property
    def graph_builds_running(self) -> int:
        return self.graph_builds_started - self.graph_builds_finished


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = 0
        self._finished = 0
        self._build_seconds = 0.0
        self._exact = 0
        self._graph = 0

    def build_started(self) -> None:
        with self._lock:
            self._started += 1

    def build_finished(self, seconds: float) -> None:
        # Called for failed and cancelled builds too, so `running` returns to zero.
        with self._lock:
            self._finished += 1
            self._build_seconds += seconds

    def searched(self, rows: int, graph: bool) -> None:
        with self._lock:
            if graph:
                self._graph += rows
            else:
                self._exact += rows

    def snapshot(self) -> EngineCounters:
        with self._lock:
            return EngineCounters(
                self._started, self._finished, self._build_seconds, self._exact, self._graph
            )


COUNTERS = _Counters()


@dataclass(frozen=True, slots=True)
class GraphStats:
    """One segment's HNSW graph: its size, how it stores rows, and the width it calibrated."""

    rows: int
    storage: str  # "flat" (float32 rows) or "sq8" (8-bit codes, candidates re-scored exactly)
    target_recall: float | None  # None: saved without a calibration (uses the fallback width)
    # (top_k, efSearch, recall measured at that width on held-out rows) per calibrated k
    calibration: tuple[tuple[int, int, float], ...]


@dataclass(frozen=True, slots=True)
class NamespaceStorage:
    name: str
    records: int
    segments: int
    memtable_rows: int
    segments_with_graph: int
    graphs: tuple[GraphStats, ...] = ()


def graph_stats(ann: AnnIndex) -> GraphStats:
    cal = ann.calibration
    return GraphStats(
        rows=ann.ntotal,
        storage="sq8" if ann.quantized else "flat",
        target_recall=None if cal is None else cal.target_recall,
        calibration=()
        if cal is None
        else tuple(zip(cal.ks, cal.efs, (round(r, 4) for r in cal.recalls), strict=True)),
    )


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What one index's store holds on disk and in memory, read at once under its lock."""

    wal_bytes: int
    wal_fsyncs: int
    namespaces: tuple[NamespaceStorage, ...]
    graphs_pending: int  # sealed segments big enough for a graph that have none yet


class StatsHost(Protocol):
    """What `store_stats` reads of a store (engine/store.py's Store)."""

    lock: threading.RLock
    table: NamespaceTable
    graphs: GraphKeeper
    wal: Wal | None
    closed: bool

    @property
    def namespaces(self) -> dict[str, Namespace]: ...


def store_stats(store: StatsHost) -> StoreStats:
    """Read one store's sizes at once under its lock: WAL, segments per namespace, graphs to build."""
    with store.lock:
        wal = store.wal
        live = tuple(
            NamespaceStorage(
                name=name,
                records=ns.count,
                segments=len(ns.sealed),
                memtable_rows=ns.memtable.n,
                segments_with_graph=sum(1 for b in ns.sealed if b.ann is not None),
                graphs=tuple(graph_stats(b.ann) for b in ns.sealed if b.ann is not None),
            )
            for name, ns in store.namespaces.items()
        )
        # A dormant namespace is one segment on disk, not yet opened: it has no graph in memory.
        dormant = tuple(
            NamespaceStorage(name=name, records=d.count, segments=1, memtable_rows=0, segments_with_graph=0)
            for name, d in store.table.dormant.items()
        )
        pending = sum(1 for ns in store.namespaces.values() for b in ns.sealed if store.graphs.needs_ann(b))
    return StoreStats(
        wal_bytes=wal.size_bytes if wal is not None and not store.closed else 0,
        wal_fsyncs=wal.fsync_count if wal is not None else 0,
        namespaces=tuple(sorted(live + dormant, key=lambda s: s.name)),
        graphs_pending=pending,
    )

"""Prometheus families for the engine: WAL, segments, graph builds, how rows were searched.

Read at scrape time from `spruce.service.status`, like the records gauge, so they cannot drift from
the stores. Process memory and open files come from prometheus_client's standard process collector
(`process_resident_memory_bytes`, `process_open_fds`).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from spruce.engine.stats import COUNTERS
from spruce.service.catalog import Catalog
from spruce.service.status import index_statuses


class EngineCollector(Collector):
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def collect(self) -> Iterator[Metric]:
        try:
            statuses = index_statuses(self._catalog)
        except Exception:
            statuses = ()  # the catalogue is closing
        wal_bytes = GaugeMetricFamily(
            "spruce_wal_bytes", "bytes in the write-ahead log files", labels=["index"]
        )
        fsyncs = CounterMetricFamily("spruce_wal_fsyncs", "fsyncs of write-ahead log files", labels=["index"])
        segments = GaugeMetricFamily(
            "spruce_segments", "sealed segments per namespace", labels=["index", "namespace"]
        )
        memtable = GaugeMetricFamily(
            "spruce_memtable_rows", "rows in the memtable (searched exactly)", labels=["index", "namespace"]
        )
        queued = GaugeMetricFamily(
            "spruce_graph_builds_queued", "segments waiting for an HNSW graph", labels=["index"]
        )
        for st in statuses:
            wal_bytes.add_metric([st.name], float(st.storage.wal_bytes))
            fsyncs.add_metric([st.name], float(st.storage.wal_fsyncs))
            queued.add_metric([st.name], float(st.storage.graphs_pending))
            for ns in st.storage.namespaces:
                label = ns.name or "__default__"
                segments.add_metric([st.name, label], float(ns.segments))
                memtable.add_metric([st.name, label], float(ns.memtable_rows))
        yield from (wal_bytes, fsyncs, segments, memtable, queued)

        c = COUNTERS.snapshot()
        running = GaugeMetricFamily("spruce_graph_builds_running", "HNSW graph builds in progress")
        running.add_metric([], float(c.graph_builds_running))
        yield running
        builds = CounterMetricFamily("spruce_graph_builds", "HNSW graph builds finished (or cancelled)")
        builds.add_metric([], float(c.graph_builds_finished))
        yield builds
        seconds = CounterMetricFamily("spruce_graph_build_seconds", "time spent building HNSW graphs")
        seconds.add_metric([], c.graph_build_seconds)
        yield seconds
        rows = CounterMetricFamily(
            "spruce_rows_searched", "rows considered by queries, by method", labels=["method"]
        )
        rows.add_metric(["exact"], float(c.rows_searched_exact))
        rows.add_metric(["graph"], float(c.rows_searched_graph))
        yield rows

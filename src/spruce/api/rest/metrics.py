"""Prometheus metrics: request count and latency per operation, and records per index read at scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from spruce.api.rest.engine_metrics import EngineCollector
from spruce.service.catalog import Catalog


class Metrics:
    """One registry per server, so several in-process servers (tests) do not collide."""

    def __init__(self, catalog: Catalog) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "spruce_requests_total",
            "REST requests by operation and status",
            ["operation", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "spruce_request_seconds",
            "REST request latency by operation",
            ["operation"],
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
            registry=self.registry,
        )
        self.registry.register(_RecordsCollector(catalog))
        self.registry.register(EngineCollector(catalog))
        ProcessCollector(registry=self.registry)

    def observe(self, operation: str, status: int, seconds: float) -> None:
        self.requests.labels(operation, str(status)).inc()
        self.latency.labels(operation).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _RecordsCollector(Collector):
    """Reads counts from the catalogue at scrape time, so the gauge can never drift from the data."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("spruce_index_records", "records stored per index", labels=["index"])
        try:
            infos = self._catalog.list_indexes()
        except Exception:
            infos = []
        up = GaugeMetricFamily(
            "spruce_index_up", "1 if the index serves, 0 if it failed to open", labels=["index"]
        )
        lost = GaugeMetricFamily(
            "spruce_wal_lost_frames",
            "acknowledged WAL frames a skip-corrupted recovery could not read at open",
            labels=["index"],
        )
        for info in infos:
            try:
                health = self._catalog.health(info.name)
            except Exception:
                continue  # deleted meanwhile
            up.add_metric([info.name], 1.0 if health.ready else 0.0)
            lost.add_metric([info.name], float(health.lost_frames))
            if not health.ready:
                continue
            try:
                stats = self._catalog.index(info.name).describe_index_stats()
            except Exception:
                continue  # deleted between list and stats
            gauge.add_metric([info.name], float(stats.total_vector_count))
        yield gauge
        yield up
        yield lost

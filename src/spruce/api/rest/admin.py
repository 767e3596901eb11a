"""`GET /admin/status`: the server panel of the console (version, uptime, memory, storage, builds)."""

from __future__ import annotations

import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from spruce.api.rest.http import json_response
from spruce.api.rest.routes import RouteSpec
from spruce.service.catalog import Catalog
from spruce.service.status import ServerStatus, server_status
from spruce.wire import schemas as s

# The process's start, near enough: this module is imported while the server starts.
PROCESS_STARTED_AT = time.time()


def status_json(status: ServerStatus) -> dict[str, Any]:
    p, e = status.process, status.engine
    return {
        "version": status.version,
        "data_dir": status.data_dir,
        "started_at": status.started_at,
        "uptime_seconds": round(status.uptime_seconds, 3),
        "process": {
            "pid": p.pid,
            "rss_bytes": p.rss_bytes,
            "peak_rss_bytes": p.peak_rss_bytes,
            "open_files": p.open_files,
            "threads": p.threads,
        },
        "graph_builds": {
            "queued": status.graph_builds_pending,
            "running": e.graph_builds_running,
            "finished": e.graph_builds_finished,
            "seconds_total": round(e.graph_build_seconds, 3),
        },
        "rows_searched": {"exact": e.rows_searched_exact, "graph": e.rows_searched_graph},
        "indexes": [
            {
                "name": i.name,
                "records": i.records,
                "wal_bytes": i.storage.wal_bytes,
                "wal_fsyncs": i.storage.wal_fsyncs,
                "graphs_pending": i.storage.graphs_pending,
                "namespaces": [
                    {
                        "name": n.name or "__default__",
                        "records": n.records,
                        "segments": n.segments,
                        "segments_with_graph": n.segments_with_graph,
                        "memtable_rows": n.memtable_rows,
                        "graphs": [
                            {
                                "rows": g.rows,
                                "storage": g.storage,
                                "target_recall": g.target_recall,
                                "calibration": [
                                    {"top_k": k, "ef_search": ef, "recall": r} for k, ef, r in g.calibration
                                ],
                            }
                            for g in n.graphs
                        ],
                    }
                    for n in i.storage.namespaces
                ],
            }
            for i in status.indexes
        ],
    }


class AdminRoutes:
    def __init__(self, catalog: Catalog, started_at: float = PROCESS_STARTED_AT) -> None:
        self.catalog = catalog
        self.started_at = started_at

    def routes(self) -> list[RouteSpec]:
        return [
            RouteSpec(
                "GET",
                "/admin/status",
                "server_status",
                "Server status: version, uptime, memory, storage and background builds (Spruce extra)",
                self.status,
                response=s.SERVER_STATUS,
            )
        ]

    async def status(self, request: Request) -> Response:
        status = await run_in_threadpool(server_status, self.catalog, self.started_at)
        return json_response(status_json(status))

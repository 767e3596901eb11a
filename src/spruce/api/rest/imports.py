"""Bulk import routes of one index (camelCase bodies, as pinecone 10.2.0 and 7.3.0 parse them).

Starting an import lists the source and reads Parquet footers (network I/O), so it runs in the pool.
Optional fields are omitted when unset, never null: 7.3.0's generated models reject a null datetime.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from spruce.api.rest.http import json_response, read_json
from spruce.api.rest.routes import RouteSpec
from spruce.config import ServerConfig
from spruce.errors import InvalidArgumentError
from spruce.service.catalog import Catalog
from spruce.service.import_jobs import ImportJob
from spruce.wire import rest


def import_json(job: ImportJob) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": job.id,
        "uri": job.uri,
        "status": job.status,
        "createdAt": job.created_at,
        "percentComplete": float(job.percent_complete),
        "recordsImported": job.records_imported,
    }
    if job.finished_at is not None:
        out["finishedAt"] = job.finished_at
    if job.error is not None:
        out["error"] = job.error
    return out


class ImportRoutes:
    def __init__(self, catalog: Catalog, index_name: str, config: ServerConfig) -> None:
        self.catalog = catalog
        self.index_name = index_name
        self.limit = config.max_body_bytes

    def routes(self) -> list[RouteSpec]:
        return [
            RouteSpec("POST", "/bulk/imports", "start_import", "Start a bulk import", self.start, True),
            RouteSpec("GET", "/bulk/imports", "list_imports", "List bulk imports", self.list),
            RouteSpec(
                "GET", "/bulk/imports/{id}", "describe_import", "Describe a bulk import", self.describe
            ),
            RouteSpec("DELETE", "/bulk/imports/{id}", "cancel_import", "Cancel a bulk import", self.cancel),
        ]

    async def start(self, request: Request) -> Response:
        body = await read_json(request, self.limit)
        unknown = set(body) - {"uri", "errorMode", "integrationId"}
        if unknown:
            raise InvalidArgumentError(
                f"unknown fields {sorted(unknown)}; expected uri, errorMode, integrationId"
            )
        mode = body.get("errorMode")
        if mode is not None:
            if not isinstance(mode, dict) or set(mode) - {"onError"}:
                raise InvalidArgumentError('errorMode must be {"onError": "continue" | "abort"}')
            mode = mode.get("onError")
        manager = self.catalog.imports
        job = await run_in_threadpool(
            lambda: manager.start(self.index_name, body.get("uri"), mode, body.get("integrationId"))
        )
        return json_response({"id": job.id})

    async def list(self, request: Request) -> Response:
        params = request.query_params
        limit = rest.query_int(params.get("limit"), "limit", 100, 1, 100)
        token = params.get("paginationToken") or None
        jobs, next_token = self.catalog.imports.list(self.index_name, limit, token)
        out: dict[str, Any] = {"data": [import_json(j) for j in jobs]}
        if next_token is not None:
            out["pagination"] = {"next": next_token}
        return json_response(out)

    async def describe(self, request: Request) -> Response:
        job = self.catalog.imports.describe(self.index_name, request.path_params["id"])
        return json_response(import_json(job))

    async def cancel(self, request: Request) -> Response:
        job_id = request.path_params["id"]
        await run_in_threadpool(self.catalog.imports.cancel, self.index_name, job_id)  # fsyncs the table
        return json_response({})

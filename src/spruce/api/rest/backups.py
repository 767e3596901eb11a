"""Backup and restore-job routes (control plane; served on the main port and on every index port)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from spruce.api.rest.hosts import IndexHosts
from spruce.api.rest.http import json_response, read_json
from spruce.api.rest.routes import RouteSpec
from spruce.config import ServerConfig
from spruce.service.backups import backups_of
from spruce.service.catalog import Catalog
from spruce.wire import backup_model as wire


class BackupRoutes:
    def __init__(self, catalog: Catalog, config: ServerConfig, hosts: IndexHosts) -> None:
        self.backups = backups_of(catalog)
        self.config = config
        self.hosts = hosts

    def routes(self) -> list[RouteSpec]:
        return [
            RouteSpec(
                "POST", "/indexes/{name}/backups", "create_backup", "Back up an index", self.create, True
            ),
            RouteSpec(
                "GET", "/indexes/{name}/backups", "list_index_backups", "List an index's backups", self.list
            ),
            RouteSpec("GET", "/backups", "list_backups", "List backups", self.list),
            RouteSpec("GET", "/backups/{backup_id}", "describe_backup", "Describe a backup", self.describe),
            RouteSpec("DELETE", "/backups/{backup_id}", "delete_backup", "Delete a backup", self.delete),
            RouteSpec(
                "POST",
                "/backups/{backup_id}/create-index",
                "create_index_from_backup",
                "Create an index from a backup",
                self.restore,
                True,
            ),
            RouteSpec("GET", "/restore-jobs", "list_restore_jobs", "List restore jobs", self.list_jobs),
            RouteSpec(
                "GET", "/restore-jobs/{job_id}", "describe_restore_job", "Describe a restore job", self.job
            ),
        ]

    async def create(self, request: Request) -> Response:
        name = request.path_params["name"]
        spec = wire.create_backup_request(await read_json(request, self.config.max_body_bytes))
        backup = await run_in_threadpool(
            lambda: self.backups.create_backup(name, name=spec.name, description=spec.description)
        )
        return json_response(wire.backup_json(backup), 201)

    async def list(self, request: Request) -> Response:
        query = request.query_params
        limit = wire.limit_param(query.get("limit"))
        token = query.get("paginationToken") or None
        include_deleted = wire.bool_param(query.get("include_deleted"), "include_deleted")
        index_name = request.path_params.get("name")
        found, next_token = await run_in_threadpool(
            lambda: self.backups.list_backups(
                index_name, limit=limit, pagination_token=token, include_deleted=include_deleted
            )
        )
        return json_response(wire.list_json([wire.backup_json(b) for b in found], next_token))

    async def describe(self, request: Request) -> Response:
        backup = await run_in_threadpool(self.backups.describe_backup, request.path_params["backup_id"])
        return json_response(wire.backup_json(backup))

    async def delete(self, request: Request) -> Response:
        await run_in_threadpool(self.backups.delete_backup, request.path_params["backup_id"])
        return Response(status_code=202)

    async def restore(self, request: Request) -> Response:
        backup_id = request.path_params["backup_id"]
        spec = wire.create_index_from_backup_request(await read_json(request, self.config.max_body_bytes))
        job = await run_in_threadpool(
            lambda: self.backups.create_index_from_backup(
                backup_id, spec.name, deletion_protection=spec.deletion_protection, tags=spec.tags
            )
        )
        await self.hosts.opened(job.target_index_name)
        return json_response({"restore_job_id": job.restore_job_id, "index_id": job.target_index_id}, 202)

    async def list_jobs(self, request: Request) -> Response:
        query = request.query_params
        limit = wire.limit_param(query.get("limit"))
        token = query.get("paginationToken") or None
        found, next_token = await run_in_threadpool(
            lambda: self.backups.list_restore_jobs(limit=limit, pagination_token=token)
        )
        return json_response(wire.list_json([wire.restore_job_json(j) for j in found], next_token))

    async def job(self, request: Request) -> Response:
        job = await run_in_threadpool(self.backups.describe_restore_job, request.path_params["job_id"])
        return json_response(wire.restore_job_json(job))

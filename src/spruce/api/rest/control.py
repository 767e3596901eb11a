"""Control-plane routes: index create, list, describe, configure, delete."""

from __future__ import annotations

from dataclasses import fields

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from spruce.api.rest.hosts import IndexHosts, advertised
from spruce.api.rest.http import json_response, read_json
from spruce.api.rest.routes import RouteSpec
from spruce.config import ServerConfig
from spruce.errors import IndexNotFoundError
from spruce.service import integrated
from spruce.service.catalog import Catalog
from spruce.types import IndexHealth, IndexInfo
from spruce.wire import index_model

API_VERSION_HEADER = "x-pinecone-api-version"


class ControlRoutes:
    def __init__(self, catalog: Catalog, config: ServerConfig, hosts: IndexHosts) -> None:
        self.catalog = catalog
        self.config = config
        self.hosts = hosts

    def routes(self) -> list[RouteSpec]:
        return [
            RouteSpec("GET", "/indexes", "list_indexes", "List indexes", self.list_indexes),
            RouteSpec("POST", "/indexes", "create_index", "Create an index", self.create_index, True),
            RouteSpec(
                "POST",
                "/indexes/create-for-model",
                "create_index_for_model",
                "Create an index with integrated embedding",
                self.create_for_model,
                True,
            ),
            RouteSpec("GET", "/indexes/{name}", "describe_index", "Describe an index", self.describe_index),
            RouteSpec(
                "PATCH",
                "/indexes/{name}",
                "configure_index",
                "Configure an index",
                self.configure_index,
                True,
            ),
            RouteSpec("DELETE", "/indexes/{name}", "delete_index", "Delete an index", self.delete_index),
        ]

    def _host(self, name: str, version: str | None) -> str:
        return advertised(self.hosts.host(name), version, self.config.schemeless_host_versions)

    async def _json(self, request: Request, info: IndexInfo, status: int = 200) -> Response:
        version = request.headers.get(API_VERSION_HEADER)
        health = await run_in_threadpool(self._health, info.name)  # may wait on the catalogue lock
        return json_response(
            index_model.index_json(info, self._host(info.name, version), version, health), status
        )

    def _health(self, name: str) -> IndexHealth | None:
        try:
            return self.catalog.health(name)
        except IndexNotFoundError:
            return None  # deleted meanwhile

    async def list_indexes(self, request: Request) -> Response:
        infos = await run_in_threadpool(self.catalog.list_indexes)
        version = request.headers.get(API_VERSION_HEADER)
        healths = await run_in_threadpool(lambda: [self._health(i.name) for i in infos])
        items = [
            index_model.index_json(i, self._host(i.name, version), version, h)
            for i, h in zip(infos, healths, strict=True)
        ]
        return json_response({"indexes": items})

    async def _create(self, request: Request, spec: index_model.CreateIndex) -> Response:
        # Shallow on purpose: asdict() would turn the EmbedSpec into a dict too.
        kwargs = {f.name: getattr(spec, f.name) for f in fields(spec) if f.name != "name"}
        name = spec.name
        info = await run_in_threadpool(lambda: self.catalog.create_index(name, **kwargs))
        await self.hosts.opened(info.name)
        return await self._json(request, info, 201)

    async def create_index(self, request: Request) -> Response:
        body = await read_json(request, self.config.max_body_bytes)
        return await self._create(request, index_model.create_request(body))

    async def create_for_model(self, request: Request) -> Response:
        body = await read_json(request, self.config.max_body_bytes)
        return await self._create(request, index_model.create_for_model_request(body))

    async def describe_index(self, request: Request) -> Response:
        name = request.path_params["name"]
        info = await run_in_threadpool(self.catalog.describe_index, name)
        return await self._json(request, info)

    async def configure_index(self, request: Request) -> Response:
        name = request.path_params["name"]
        change = index_model.configure_request(await read_json(request, self.config.max_body_bytes))
        if change.embed is not None:  # check the model fits before changing anything
            embed = change.embed
            await run_in_threadpool(lambda: integrated.for_existing(self.catalog.describe_index(name), embed))
        info = await run_in_threadpool(
            lambda: self.catalog.configure_index(
                name, deletion_protection=change.deletion_protection, tags=change.tags
            )
        )
        if change.embed is not None:
            embed = change.embed
            info = await run_in_threadpool(lambda: self.catalog.set_embed(name, embed))
        return await self._json(request, info)

    async def delete_index(self, request: Request) -> Response:
        name = request.path_params["name"]
        await run_in_threadpool(self.catalog.delete_index, name)
        await self.hosts.closed(name)
        return Response(status_code=202)

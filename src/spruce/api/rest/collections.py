"""REST routes of the Collection API, on the control port: the remote side of `spruce.HttpClient`.

    GET    /spruce/collections             list        POST /spruce/collections/{name}/add
    POST   /spruce/collections             create      POST /spruce/collections/{name}/upsert|update|delete
    GET    /spruce/collections/{name}      describe    POST /spruce/collections/{name}/get|query|count
    PATCH  /spruce/collections/{name}      modify      POST /spruce/collections/{name}/hybrid_search
    DELETE /spruce/collections/{name}      delete

Under `/spruce/`, because Pinecone's own control plane has `/collections` (pod-based collections,
`{"name", "source"}`), which the Pinecone SDKs call and which must stay free for it.

Bodies carry the service's keyword arguments as JSON; answers are the service's results. An error
is the usual `{"error": {"code", "message"}, "status"}` body plus `error.type`, the exception's class
name in spruce.errors, so the remote client raises the very class the embedded one would.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from spruce.api.rest.hosts import IndexHosts
from spruce.api.rest.http import json_response, read_json
from spruce.api.rest.routes import RouteSpec
from spruce.config import ServerConfig
from spruce.errors import InvalidArgumentError, SpruceError
from spruce.service.catalog import Catalog
from spruce.service.collections import CollectionService
from spruce.wire.errors import error_body, lookup

_DATA_OPS = ("add", "upsert", "update", "delete", "get", "query", "count", "hybrid_search")
_ARGS = {
    "add": ("ids", "embeddings", "metadatas", "documents"),
    "upsert": ("ids", "embeddings", "metadatas", "documents"),
    "update": ("ids", "embeddings", "metadatas", "documents"),
    "delete": ("ids", "where", "where_document"),
    "get": ("ids", "where", "where_document", "limit", "offset", "include"),
    "query": ("query_embeddings", "n_results", "where", "where_document", "include", "ids"),
    "count": (),
    "hybrid_search": ("query", "knn", "rank", "n_results", "include"),
}
_WRITES = ("add", "upsert")


def _typed_errors(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except SpruceError as exc:
            code = lookup(exc)
            if code.http_status >= 500:
                raise  # logged and answered by the common endpoint wrapper
            body = error_body(code, exc.message)
            body["error"]["type"] = type(exc).__name__
            return json_response(body, code.http_status)

    return run


class CollectionRoutes:
    def __init__(self, catalog: Catalog, config: ServerConfig, hosts: IndexHosts) -> None:
        self.service = CollectionService(catalog)
        self.config = config
        self.hosts = hosts

    def routes(self) -> list[RouteSpec]:
        specs = [
            RouteSpec("GET", "/spruce/collections", "list_collections", "List collections", self.list),
            RouteSpec(
                "POST", "/spruce/collections", "create_collection", "Create a collection", self.create, True
            ),
            RouteSpec(
                "GET", "/spruce/collections/{name}", "get_collection", "Describe a collection", self.describe
            ),
            RouteSpec(
                "PATCH",
                "/spruce/collections/{name}",
                "modify_collection",
                "Rename or re-describe",
                self.modify,
                True,
            ),
            RouteSpec(
                "DELETE",
                "/spruce/collections/{name}",
                "delete_collection",
                "Delete a collection",
                self.delete,
            ),
        ]
        for op in _DATA_OPS:
            specs.append(
                RouteSpec(
                    "POST",
                    f"/spruce/collections/{{name}}/{op}",
                    f"collection_{op}",
                    f"Collection {op}",
                    self._data(op),
                    True,
                )
            )
        return [
            RouteSpec(s.method, s.path, s.operation, s.summary, _typed_errors(s.handler), s.request_body)
            for s in specs
        ]

    async def _body(self, request: Request) -> dict[str, Any]:
        if not await request.body():
            return {}
        body = await read_json(request, self.config.max_body_bytes)
        if not isinstance(body, dict):
            raise InvalidArgumentError("the request body must be a JSON object")
        return body

    async def list(self, request: Request) -> Response:
        infos = await run_in_threadpool(self.service.list_collections)
        return json_response({"collections": [i.to_json() for i in infos]})

    async def create(self, request: Request) -> Response:
        body = await self._body(request)
        allowed = ("name", "dimension", "metric", "metadata", "embedding_function", "get_or_create")
        _only(body, allowed)
        if "name" not in body:
            raise InvalidArgumentError("create_collection needs a name")
        args = {k: body[k] for k in allowed[1:] if k in body}
        info = await run_in_threadpool(lambda: self.service.create(body["name"], **args))
        if info.index_created:
            await self.hosts.opened(info.index)
        return json_response(info.to_json(), 201)

    async def describe(self, request: Request) -> Response:
        info = await run_in_threadpool(self.service.info, request.path_params["name"])
        return json_response(info.to_json())

    async def modify(self, request: Request) -> Response:
        body = await self._body(request)
        _only(body, ("new_name", "metadata"))
        name = request.path_params["name"]
        info = await run_in_threadpool(
            lambda: self.service.modify(name, body.get("new_name"), body.get("metadata"))
        )
        return json_response(info.to_json())

    async def delete(self, request: Request) -> Response:
        name = request.path_params["name"]
        info = await run_in_threadpool(self.service.info, name)
        await run_in_threadpool(self.service.delete_collection, name)
        if info.index_created:
            await self.hosts.closed(info.index)
        return Response(status_code=204)

    def _data(self, op: str) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            name = request.path_params["name"]
            body = await self._body(request)
            _only(body, _ARGS[op])
            method = getattr(self.service, op)
            result = await run_in_threadpool(lambda: method(name, **body))
            if op in _WRITES:
                info = await run_in_threadpool(self.service.info, name)
                if info.index_created:
                    await self.hosts.opened(info.index)
            return json_response({"result": result})

        return handle


def _only(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in body:
        if key not in allowed:
            raise InvalidArgumentError(f"unknown field {key!r}; allowed: {', '.join(allowed) or 'none'}")

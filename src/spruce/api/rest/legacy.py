"""Routes that older clients and Pinecone's older API pages still use.

`GET /actions/whoami` (the pre-2024 clients call it to learn the project) and `DELETE /vectors/delete`
with the query parameters `ids`, `deleteAll` and `namespace` (the old form of `POST /vectors/delete`).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from spruce.api.rest.http import json_response
from spruce.api.rest.routes import RouteSpec
from spruce.errors import InvalidArgumentError
from spruce.service.catalog import Catalog
from spruce.wire import rest


def whoami_routes() -> list[RouteSpec]:
    async def whoami(request: Request) -> Response:
        return json_response({"project_name": "spruce", "user_label": "spruce", "user_name": "spruce"})

    return [RouteSpec("GET", "/actions/whoami", "whoami", "Who the API key belongs to (legacy)", whoami)]


class LegacyDataRoutes:
    def __init__(self, catalog: Catalog, index_name: str) -> None:
        self.catalog = catalog
        self.index_name = index_name

    def routes(self) -> list[RouteSpec]:
        return [
            RouteSpec(
                "DELETE",
                "/vectors/delete",
                "delete_by_query",
                "Delete vectors named in the query string (legacy form of POST /vectors/delete)",
                self.delete,
            )
        ]

    async def delete(self, request: Request) -> Response:
        params = request.query_params
        ids = params.getlist("ids") or None
        raw_all = params.get("deleteAll")
        if raw_all is not None and raw_all.lower() not in ("true", "false"):
            raise InvalidArgumentError(f"deleteAll must be true or false, got {raw_all!r}")
        body: dict[str, object] = {"namespace": params.get("namespace")}
        if ids is not None:
            body["ids"] = ids
        if raw_all is not None and raw_all.lower() == "true":
            body["deleteAll"] = True
        # The same checks as the POST form: exactly one of ids or deleteAll.
        d = rest.delete_request(body)
        svc = self.catalog.index(self.index_name)
        await run_in_threadpool(lambda: svc.delete(namespace=d.namespace, ids=d.ids, delete_all=d.delete_all))
        return json_response({})

"""Build the ASGI apps: `create_control_app` for the main port, `create_index_app` for an index's port.

The main port has no index in its paths (like Pinecone), so a data-plane request there is answered with a
404 that says to use the index's host. An index port serves its data plane and the control plane too, so a
client pointed at either host can manage indexes.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from spruce.api.rest.collections import CollectionRoutes
from spruce.api.rest.control import ControlRoutes
from spruce.api.rest.data import DataRoutes
from spruce.api.rest.hosts import IndexHosts, StaticHosts
from spruce.api.rest.http import endpoint, error_response, json_response
from spruce.api.rest.inference import InferenceRoutes
from spruce.api.rest.metrics import Metrics
from spruce.api.rest.middleware import BodyBudget, SpruceMiddleware
from spruce.api.rest.openapi import openapi_document
from spruce.api.rest.routes import RouteSpec
from spruce.config import ServerConfig
from spruce.errors import InvalidArgumentError, NotFoundError
from spruce.service.catalog import Catalog
from spruce.wire.errors import lookup

_DATA_PLANE_PREFIXES = ("/vectors", "/query", "/describe_index_stats", "/namespaces", "/records", "/bulk")


def create_control_app(
    catalog: Catalog,
    config: ServerConfig,
    *,
    hosts: IndexHosts | None = None,
    metrics: Metrics | None = None,
    budget: BodyBudget | None = None,
) -> ASGIApp:
    control = ControlRoutes(catalog, config, hosts or StaticHosts())
    routes = control.routes() + InferenceRoutes(config, catalog.path).routes()
    routes += CollectionRoutes(catalog, config, control.hosts).routes()  # the Collection API (remote)
    return _build(routes, config, metrics or Metrics(catalog), budget, "Spruce control plane", index=None)


def create_index_app(
    catalog: Catalog,
    index_name: str,
    config: ServerConfig,
    *,
    hosts: IndexHosts | None = None,
    metrics: Metrics | None = None,
    budget: BodyBudget | None = None,
) -> ASGIApp:
    """`metrics` and `budget` are shared by all the apps of one server process."""
    control = ControlRoutes(catalog, config, hosts or StaticHosts())
    data = DataRoutes(catalog, index_name, config)
    routes = data.routes() + control.routes() + InferenceRoutes(config, catalog.path).routes()
    title = f"Spruce index {index_name}"
    return _build(routes, config, metrics or Metrics(catalog), budget, title, index=index_name)


def _build(
    specs: Sequence[RouteSpec],
    config: ServerConfig,
    metrics: Metrics,
    budget: BodyBudget | None,
    title: str,
    index: str | None,
) -> ASGIApp:
    document = openapi_document(specs, title)

    async def health(request: Request) -> Response:
        return json_response({"status": "ok"} if index is None else {"status": "ok", "index": index})

    async def openapi(request: Request) -> Response:
        return json_response(document)

    async def metrics_route(request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    routes = [Route(s.path, endpoint(s.operation)(s.handler), methods=[s.method]) for s in specs]
    routes += [
        Route("/health", endpoint("health")(health), methods=["GET"]),
        Route("/openapi.json", endpoint("openapi")(openapi), methods=["GET"]),
        Route("/metrics", endpoint("metrics")(metrics_route), methods=["GET"]),
    ]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        path = request.url.path
        if exc.status_code == 404:
            if index is None and path.startswith(_DATA_PLANE_PREFIXES):
                message = (
                    f"{path} is a data-plane path; send it to the index's host "
                    "(the 'host' field of GET /indexes/{name})"
                )
            else:
                message = f"no route for {request.method} {path}"
            return error_response(lookup(NotFoundError(message)), message)
        if exc.status_code == 405:
            message = f"method {request.method} is not allowed on {path}"
            return json_response(
                {"error": {"code": "METHOD_NOT_ALLOWED", "message": message}, "status": 405}, 405
            )
        code = lookup(InvalidArgumentError(exc.detail))
        return error_response(code, str(exc.detail))

    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error})
    budget = budget or BodyBudget(config.max_inflight_body_bytes)
    return SpruceMiddleware(app, config.api_keys, metrics, config.max_body_bytes, budget)

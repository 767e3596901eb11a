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

from spruce.api.rest.admin import AdminRoutes
from spruce.api.rest.backups import BackupRoutes
from spruce.api.rest.collections import CollectionRoutes
from spruce.api.rest.console import console_routes
from spruce.api.rest.control import ControlRoutes
from spruce.api.rest.data import DataRoutes
from spruce.api.rest.hosts import IndexHosts, StaticHosts
from spruce.api.rest.http import AUTHENTICATED_KEY, endpoint, error_response, json_response
from spruce.api.rest.imports import ImportRoutes
from spruce.api.rest.inference import InferenceRoutes
from spruce.api.rest.legacy import LegacyDataRoutes, whoami_routes
from spruce.api.rest.metrics import Metrics
from spruce.api.rest.middleware import BodyBudget, SpruceMiddleware
from spruce.api.rest.openapi import openapi_document
from spruce.api.rest.records import RecordsRoutes
from spruce.api.rest.route_schemas import attach
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
    specs = control.routes() + InferenceRoutes(config, catalog.path).routes()
    specs += BackupRoutes(catalog, config, hosts or StaticHosts()).routes()
    specs += CollectionRoutes(catalog, config, control.hosts).routes()  # the Collection API (remote)
    specs += AdminRoutes(catalog).routes() + whoami_routes() + console_routes()
    return _build(specs, config, metrics or Metrics(catalog), budget, "Spruce control plane", index=None)


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
    records = RecordsRoutes(catalog, index_name, config)
    routes = (
        data.routes() + records.routes() + control.routes() + InferenceRoutes(config, catalog.path).routes()
    )
    routes += BackupRoutes(catalog, config, hosts or StaticHosts()).routes()
    routes += ImportRoutes(catalog, index_name, config).routes()
    routes += LegacyDataRoutes(catalog, index_name).routes() + AdminRoutes(catalog).routes() + whoami_routes()
    routes += console_routes(with_console=False)
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
    async def health(request: Request) -> Response:
        # Which index a port serves is for key holders only: a scanner learns nothing from /health.
        named = index is not None and request.scope.get(AUTHENTICATED_KEY, True)
        return json_response({"status": "ok", "index": index} if named else {"status": "ok"})

    async def openapi(request: Request) -> Response:
        return json_response(document)

    async def metrics_route(request: Request) -> Response:
        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    specs = [
        *specs,
        RouteSpec("GET", "/health", "health", "Liveness probe (no API key needed)", health),
        RouteSpec("GET", "/openapi.json", "openapi", "This OpenAPI document", openapi),
        RouteSpec("GET", "/metrics", "metrics", "Prometheus metrics", metrics_route),
    ]
    specs = [attach(s) for s in specs]
    document = openapi_document(specs, title)
    routes = [Route(s.path, endpoint(s.operation)(s.handler), methods=[s.method]) for s in specs]

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

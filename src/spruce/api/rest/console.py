"""The web console and the API docs page: static files shipped in the package (spruce/api/console).

Served from the main port without an API key (they hold no data; the console asks for the key and
sends it with each API call). Only files in the package directory are served, by exact name.
"""

from __future__ import annotations

from importlib import resources

from starlette.requests import Request
from starlette.responses import Response

from spruce.api.rest.routes import RouteSpec
from spruce.errors import NotFoundError

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Paths reachable without an API key.
OPEN_PREFIX = "/console/"
OPEN_PAGES = frozenset({"/", "/docs"})


def _asset(name: str) -> Response:
    folder = resources.files("spruce.api") / "console"
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or name.startswith(".") or suffix not in _TYPES:
        raise NotFoundError(f"no console file {name!r}")
    file = folder / name
    if not file.is_file():
        raise NotFoundError(f"no console file {name!r}")
    # no-cache: a browser revalidates, so an upgraded server's console is never mixed with old files.
    return Response(file.read_bytes(), media_type=_TYPES[suffix], headers={"cache-control": "no-cache"})


def console_routes(with_console: bool = True) -> list[RouteSpec]:
    """The console (main port) and the docs page with its files (every port: each port's /docs
    documents and tries that port's own routes)."""

    async def index(request: Request) -> Response:
        return _asset("index.html")

    async def docs(request: Request) -> Response:
        return _asset("docs.html")

    async def asset(request: Request) -> Response:
        return _asset(request.path_params["file"])

    routes = [
        RouteSpec("GET", "/docs", "docs", "Interactive API documentation generated from /openapi.json", docs),
        RouteSpec("GET", "/console/{file}", "console_asset", "A static file of the console", asset),
    ]
    if with_console:
        routes.insert(0, RouteSpec("GET", "/", "console", "The web console", index))
    return routes

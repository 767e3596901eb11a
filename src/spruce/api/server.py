"""The Spruce server: a control port, one port per index, graceful shutdown.

Like Pinecone Local, every index gets its own port, because the data plane's paths name no index. Ports
are taken from main port + 1 upward at create time, remembered in `<data>/ports.json` (see `ports`) and
released on delete. This class is also the `IndexHosts` the control plane reports creates and deletes to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from uvicorn.server import ServerState

from spruce.api import tls
from spruce.api.listeners import Http2Backend, Listener, bind
from spruce.api.ports import PortRegistry
from spruce.api.rest import create_control_app, create_index_app
from spruce.api.rest.cors import CorsMiddleware, console_origins
from spruce.api.rest.metrics import Metrics
from spruce.api.rest.middleware import BodyBudget
from spruce.config import ServerConfig, Settings
from spruce.errors import ResourceExhaustedError
from spruce.service.catalog import Catalog

log = logging.getLogger("spruce.server")


class SpruceServer:
    def __init__(
        self,
        catalog: Catalog,
        config: ServerConfig,
        data_dir: Path | None,
        *,
        http2: Http2Backend | None = None,
        http: str | None = None,
    ) -> None:
        self.catalog = catalog
        self.config = config
        self._ports = PortRegistry(data_dir)
        self._http2 = http2
        self._http = http
        self._state = ServerState()
        self._metrics = Metrics(catalog)
        # One budget for every port: request bodies share the process's memory.
        self._budget = BodyBudget(config.max_inflight_body_bytes)
        self._main: Listener | None = None
        self._indexes: dict[str, Listener] = {}
        self.port = config.port
        self._tls = (
            tls.server_context(config.tls_cert, config.tls_key)
            if config.tls_cert is not None and config.tls_key is not None
            else None
        )
        self._scheme = "https" if self._tls is not None else "http"

    # -- lifecycle -------------------------------------------------------------------------------
    async def start(self) -> None:
        sock = bind(self.config.host, self.config.port)
        self.port = sock.getsockname()[1]  # the real one when asked for port 0
        app = create_control_app(
            self.catalog, self.config, hosts=self, metrics=self._metrics, budget=self._budget
        )
        self._main = Listener(sock, app, self._state, http=self._http, tls=self._tls)
        if self._http2 is not None:
            await self._http2.start()
        names = {info.name for info in await asyncio.to_thread(self.catalog.list_indexes)}
        for stale in set(self._ports.names()) - names:
            self._ports.release(stale)
        await asyncio.to_thread(self.catalog.open_all)
        for name in sorted(names):
            self._open(name)
        self._main.start()
        if not self.config.api_keys:
            log.warning("no API keys configured: the server accepts every request (use --api-key)")

    @property
    def url(self) -> str:
        return f"{self._scheme}://{_advertised_host(self.config.host)}:{self.port}"

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting, let in-flight requests finish (up to `grace` seconds), close the catalog."""
        listeners = [self._main, *self._indexes.values()]
        self._main = None
        self._indexes.clear()
        for listener in listeners:
            if listener is not None:
                await listener.close()
        for connection in list(self._state.connections):
            connection.shutdown()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._state.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self._state.connections:
            log.warning("%d connections still open after %.0fs; closing", len(self._state.connections), grace)
        if self._http2 is not None:
            await self._http2.stop(1.0)
        await asyncio.to_thread(self.catalog.close)

    # -- IndexHosts --------------------------------------------------------------------------------
    def host(self, name: str) -> str:
        port = self._ports.get(name)
        return self._host_url(port if port is not None else 0)

    async def opened(self, name: str) -> str:
        self._open(name)
        return self.host(name)

    async def closed(self, name: str) -> None:
        listener = self._indexes.pop(name, None)
        self._ports.release(name)
        if listener is not None:
            await listener.close()
        # Open gRPC connections stay: each pipe is bound to this index's name, so their calls get
        # NOT_FOUND (a clearer error than a dropped connection) and never reach a later index that
        # is given the same port.

    # -- internals -----------------------------------------------------------------------------------
    def _open(self, name: str) -> None:
        if name in self._indexes:
            return
        known = self._ports.get(name)
        sock = None
        if known is not None:
            try:
                sock = bind(self.config.host, known)
            except OSError as exc:
                log.warning(
                    "port %d of index %r is taken (%s); the index moves to a new port", known, name, exc
                )
        if sock is None:
            sock = self._bind_free()
        port = sock.getsockname()[1]
        self._ports.assign(name, port)
        app = create_index_app(
            self.catalog, name, self.config, hosts=self, metrics=self._metrics, budget=self._budget
        )
        app = CorsMiddleware(app, console_origins(self._host_url(self.port), self.port))
        listener = Listener(
            sock, app, self._state, index_name=name, http2=self._http2, http=self._http, tls=self._tls
        )
        self._indexes[name] = listener
        listener.start()
        log.info("index %r serves on %s", name, self._host_url(port))

    def _bind_free(self) -> socket.socket:
        for port in self._ports.candidates(self.port):
            try:
                return bind(self.config.host, port)
            except OSError:
                continue
        raise ResourceExhaustedError(f"no free port above {self.port} for another index")

    def _host_url(self, port: int) -> str:
        if self.config.external_url:
            parts = urlsplit(self.config.external_url)
            scheme = parts.scheme or self._scheme
            host = parts.hostname or _advertised_host(self.config.host)
            if ":" in host:
                host = f"[{host}]"
            return f"{scheme}://{host}:{port}"
        return f"{self._scheme}://{_advertised_host(self.config.host)}:{port}"


def _advertised_host(bind_host: str) -> str:
    if bind_host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if bind_host == "::":
        return "[::1]"
    if ":" in bind_host:
        return f"[{bind_host}]"
    return bind_host


def _grpc_backend(catalog: Catalog, config: ServerConfig) -> Http2Backend | None:
    try:
        from spruce.api.grpc import GrpcBackend
    except ImportError as exc:  # gRPC is optional: REST works without it
        log.warning("gRPC disabled: %s", exc)
        return None
    backend: Http2Backend = GrpcBackend(catalog, api_keys=config.api_keys)
    return backend


async def serve(settings: Settings, ready: Callable[[str], None] = print, grace: float = 10.0) -> None:
    """Run until SIGTERM or SIGINT, then shut down gracefully. `ready(url)` is called once listening."""
    data_dir = settings.data_dir
    if data_dir is not None:
        data_dir.mkdir(parents=True, exist_ok=True)
    catalog = await asyncio.to_thread(Catalog, data_dir, settings.engine, settings.imports)
    server = SpruceServer(catalog, settings.server, data_dir, http2=_grpc_backend(catalog, settings.server))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        try:
            await server.start()
        except BaseException:
            await asyncio.to_thread(catalog.close)
            raise
        ready(server.url)
        await stop.wait()
        log.info("shutting down")
        await server.stop(grace)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(sig)

"""One TCP port, two protocols: REST over HTTP/1.1 and gRPC over HTTP/2, told apart by their first bytes.

The Pinecone SDK's gRPC index sends records/search/import over REST to the *same* host, so both must be
served on one port. Each accepted connection is peeked (MSG_PEEK, nothing consumed): an HTTP/2
prior-knowledge client starts with the preface `PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n`, and no HTTP/1.1
method starts with "PRI". HTTP/1.1 connections go straight to uvicorn's HTTP protocol class on the
accepted socket; HTTP/2 ones to the pluggable backend below.

The HTTP/2 backend interface (implemented by `spruce.api.grpc.GrpcBackend`):

    class Http2Backend(Protocol):
        async def start(self) -> None                      # once, before the first connection
        async def handle(self, index_name: str,            # the index whose port accepted the client
                         reader: asyncio.StreamReader,     # reads from the preface on (nothing consumed)
                         writer: asyncio.StreamWriter,
                         initial: bytes = b"") -> None     # always b"" here: we peek, never read
        async def stop(self, grace: float | None = 1.0) -> None

`handle` owns the connection and must close `writer` when done. The control port has no index, so an
HTTP/2 connection there, or anywhere when there is no backend, is closed at once.

With TLS (`tls=`), the first byte tells a ClientHello from plaintext, and after the handshake ALPN
chooses between the same two protocols (see `spruce.api.tls`); without it, a ClientHello is refused at
once with a logged warning instead of waiting for an HTTP request that never comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import socket
import ssl
from typing import Any, Protocol

from starlette.types import ASGIApp
from uvicorn.config import Config
from uvicorn.server import ServerState

from spruce.api import tls as tls_mod

log = logging.getLogger("spruce.api.listeners")

H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_SNIFF_BYTES = 3  # "PRI" decides it
_SNIFF_TIMEOUT = 30.0


class Http2Backend(Protocol):
    async def start(self) -> None: ...

    async def handle(
        self,
        index_name: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        initial: bytes = b"",
    ) -> None: ...

    async def stop(self, grace: float | None = 1.0) -> None: ...


def http_implementation() -> str:
    """httptools when installed (a C parser, faster per request), else the pure-Python h11."""
    return "httptools" if importlib.util.find_spec("httptools") is not None else "h11"


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # Rebinding a port in TIME_WAIT after a restart must work, or index hosts would move.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class Listener:
    """Accept loop of one port; `index_name` is None for the control port."""

    def __init__(
        self,
        sock: socket.socket,
        app: ASGIApp,
        state: ServerState,
        *,
        index_name: str | None = None,
        http2: Http2Backend | None = None,
        http: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.sock = sock
        self.tls = tls
        self.port: int = sock.getsockname()[1]
        self.index_name = index_name
        self._state = state
        self._http2 = http2
        self._config = Config(
            app,
            http=http or http_implementation(),
            lifespan="off",
            access_log=False,
            log_config=None,
            proxy_headers=False,
            server_header=False,
            date_header=False,
            ws="none",
            # Longer than clients' own idle expiry (httpx: 5 s), so the client, not us, closes an idle
            # pooled connection; equal timeouts race and surface as "server disconnected" on reuse.
            timeout_keep_alive=75,
        )
        self._config.load()
        self._protocols: set[Any] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._accept_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._accept_task = asyncio.get_running_loop().create_task(self._accept_loop())

    async def close(self) -> None:
        """Stop accepting and ask this port's HTTP/1.1 connections to finish and close.

        Closing them matters when an index is deleted: a pooled keep-alive connection must not keep
        reaching the old index if the port is later given to a new one.
        """
        if self._accept_task is not None:
            self._accept_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accept_task
            self._accept_task = None
        self.sock.close()
        for protocol in list(self._protocols):
            if protocol in self._state.connections:
                protocol.shutdown()
        self._protocols.clear()

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(self.sock)
            except asyncio.CancelledError:
                raise
            except OSError as exc:
                # EMFILE and friends: back off instead of spinning, keep serving existing connections.
                log.warning("accept failed on port %d: %s", self.port, exc)
                await asyncio.sleep(0.1)
                continue
            task = loop.create_task(self._dispatch(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _dispatch(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        with contextlib.suppress(OSError):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            head = await _peek(conn, _SNIFF_BYTES)
        except (OSError, TimeoutError):
            conn.close()
            return
        if not head:
            conn.close()
            return
        http2 = H2_PREFACE.startswith(head)
        if tls_mod.looks_like_tls(head):
            if self.tls is None:
                tls_mod.refuse_tls_client(conn, self.port)
            else:
                await self._serve_tls(conn, self.tls)
        elif self.tls is not None:
            await tls_mod.refuse_plaintext_client(conn, self.port, http2)
        elif http2:
            await self._serve_http2(conn)
        else:
            await self._serve_http1(conn)

    async def _serve_tls(self, conn: socket.socket, context: ssl.SSLContext) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(
                lambda: _AlpnSwitch(self),
                sock=conn,
                ssl=context,
                ssl_handshake_timeout=tls_mod.HANDSHAKE_TIMEOUT,
            )
        except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
            # Usually a client that does not trust our certificate: its own error says so.
            log.info("TLS handshake failed on port %d: %s", self.port, exc)
            conn.close()

    def _adopt_http1(self, transport: asyncio.BaseTransport) -> None:
        """Hand an established (TLS) transport to uvicorn's HTTP/1.1 protocol."""
        config = self._config
        protocol = config.http_protocol_class(  # type: ignore[call-arg]
            config=config, server_state=self._state, app_state={}, _loop=asyncio.get_running_loop()
        )
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        self._protocols.add(protocol)
        self._protocols.intersection_update(self._state.connections)

    def _adopt_http2(self, transport: asyncio.BaseTransport) -> None:
        """Hand an established (TLS) transport to the HTTP/2 backend as a stream pair."""
        backend, index_name = self._http2, self.index_name
        if backend is None or index_name is None:
            transport.close()
            return
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)  # type: ignore[arg-type]
        task = loop.create_task(self._run_http2(backend, index_name, reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_http2(
        self,
        backend: Http2Backend,
        index_name: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        try:
            await backend.handle(index_name, reader, writer)
        except Exception:
            log.exception("HTTP/2 backend failed on port %d", self.port)
            writer.close()

    async def _serve_http1(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        config = self._config
        protocol = config.http_protocol_class(  # type: ignore[call-arg]
            config=config, server_state=self._state, app_state={}, _loop=loop
        )
        try:
            await loop.connect_accepted_socket(lambda: protocol, sock=conn)
        except OSError:
            conn.close()
            return
        self._protocols.add(protocol)
        # uvicorn drops the protocol from server_state.connections on connection_lost; mirror that here.
        self._protocols.intersection_update(self._state.connections)

    async def _serve_http2(self, conn: socket.socket) -> None:
        if self._http2 is None or self.index_name is None:
            conn.close()
            return
        try:
            reader, writer = await asyncio.open_connection(sock=conn)
        except OSError:
            conn.close()
            return
        await self._run_http2(self._http2, self.index_name, reader, writer)


class _AlpnSwitch(asyncio.Protocol):
    """The first protocol of a TLS connection: once the handshake is done (that is when asyncio calls
    `connection_made`), it swaps in the protocol ALPN chose, before any application byte is read."""

    def __init__(self, listener: Listener) -> None:
        self._listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        alpn = ssl_object.selected_alpn_protocol() if ssl_object is not None else None
        if alpn == tls_mod.ALPN_H2:
            self._listener._adopt_http2(transport)
        else:
            self._listener._adopt_http1(transport)


async def _peek(conn: socket.socket, n: int) -> bytes:
    """The first `n` bytes without consuming them; fewer if the client closes or sends less and waits."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _SNIFF_TIMEOUT
    while True:
        try:
            data = conn.recv(n, socket.MSG_PEEK)
        except BlockingIOError:
            data = None
        if data is not None and (len(data) >= n or not data or not H2_PREFACE.startswith(data)):
            return data
        if loop.time() > deadline:
            raise TimeoutError
        if data is None:
            ready: asyncio.Future[None] = loop.create_future()
            loop.add_reader(conn.fileno(), _set_once, ready)
            try:
                await asyncio.wait_for(ready, deadline - loop.time())
            finally:
                loop.remove_reader(conn.fileno())
        else:
            # A partial "P" or "PR": readability stays set (level-triggered), so poll briefly instead.
            await asyncio.sleep(0.001)


def _set_once(future: asyncio.Future[None]) -> None:
    # The fd can fire again before the reader is removed; a second set_result would raise.
    if not future.done():
        future.set_result(None)

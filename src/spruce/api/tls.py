"""TLS on the shared REST + gRPC ports, and a quick, explained refusal when the two ends disagree.

With `--tls-cert/--tls-key` every port speaks TLS only. ALPN does what the "PRI" sniff does in plaintext:
`h2` goes to the gRPC backend (grpcio and the SDKs' tonic client offer h2, and tonic insists on it),
anything else, `http/1.1` or no ALPN at all, to the REST app. REST is HTTP/1.1 only, so a client that
offers both (curl) is given h2 and must be told `--http1.1`; the SDKs' REST clients offer http/1.1 only.

Mismatches fail fast instead of hanging until a 20-30 s client timeout:
* a TLS ClientHello on a plaintext port is logged and the connection closed at once;
* plaintext HTTP/1.1 on a TLS port gets a 400 that says to use https://; a plaintext HTTP/2 (gRPC)
  client is closed at once (nothing it could show us).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from pathlib import Path

from spruce.errors import InvalidArgumentError
from spruce.wire.errors import error_body, lookup
from spruce.wire.rest_responses import dumps

log = logging.getLogger("spruce.api.tls")

# Every TLS connection starts with a handshake record (content type 22), then the major version 3.
TLS_HANDSHAKE = 0x16
ALPN_H2 = "h2"
HANDSHAKE_TIMEOUT = 30.0
_REQUEST_HEAD_TIMEOUT = 5.0
_MAX_HEAD = 16 * 1024

PLAINTEXT_PORT_WARNING = "TLS client on a plaintext port; start with --tls-cert/--tls-key or use http://"


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The server's TLS context: TLS 1.2+, ALPN h2 (gRPC) and http/1.1 (REST)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(certfile=str(cert), keyfile=str(key))
    except (OSError, ssl.SSLError) as exc:
        raise InvalidArgumentError(
            f"cannot load the TLS certificate {str(cert)!r} with key {str(key)!r}: {exc}; "
            "--tls-cert takes a PEM certificate chain and --tls-key its PEM private key"
        ) from None
    ctx.set_alpn_protocols([ALPN_H2, "http/1.1"])
    return ctx


def looks_like_tls(head: bytes) -> bool:
    return bool(head) and head[0] == TLS_HANDSHAKE


def refuse_tls_client(conn: socket.socket, port: int) -> None:
    """A TLS client on a plaintext port: say so in the log, and close without a word to the client
    (it expects a ServerHello; anything we wrote would only be garbage to it)."""
    log.warning("%s (port %d)", PLAINTEXT_PORT_WARNING, port)
    with contextlib.suppress(OSError):
        conn.recv(_MAX_HEAD)  # its ClientHello, so the close is a clean FIN rather than a reset
    conn.close()


async def refuse_plaintext_client(conn: socket.socket, port: int, http2: bool) -> None:
    """A plaintext client on a TLS port: a 400 naming the fix for HTTP/1.1, a plain close for HTTP/2."""
    log.warning("plaintext client on TLS port %d; the server requires https:// (TLS)", port)
    if http2:
        conn.close()
        return
    try:
        reader, writer = await asyncio.open_connection(sock=conn)
    except OSError:
        conn.close()
        return
    try:
        # Read the request head first: closing with unread bytes would reset the connection, and the
        # client would see a reset instead of our answer.
        with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _REQUEST_HEAD_TIMEOUT)
        message = f"port {port} serves HTTPS only (the server runs with --tls-cert); use https://"
        body = dumps(error_body(lookup(InvalidArgumentError(message)), message))
        writer.write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(OSError):
            await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

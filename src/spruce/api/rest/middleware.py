"""The outer ASGI layer: request id, API-key check and per-operation metrics, for every route.

Written as plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task and a stream copy per
request on the hot path.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spruce.api.rest.http import OPERATION_KEY, REQUEST_ID_KEY
from spruce.api.rest.metrics import Metrics
from spruce.errors import UnauthenticatedError
from spruce.wire.errors import error_body, lookup
from spruce.wire.rest import dumps

# Reachable without a key: load balancers and orchestrators probe it.
OPEN_PATHS = frozenset({"/health"})


class SpruceMiddleware:
    def __init__(self, app: ASGIApp, api_keys: Iterable[str], metrics: Metrics) -> None:
        self.app = app
        self.keys = tuple(k.encode() for k in api_keys)
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope["headers"])
        rid = _request_id(headers.get(b"x-request-id"))
        scope[REQUEST_ID_KEY] = rid
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            if (
                self.keys
                and scope["path"] not in OPEN_PATHS
                and not self._authorized(headers.get(b"api-key"))
            ):
                scope[OPERATION_KEY] = "unauthenticated"
                await _send_error(send_with_id, UnauthenticatedError("missing or invalid Api-Key header"))
                return
            await self.app(scope, receive, send_with_id)
        finally:
            op = str(scope.get(OPERATION_KEY, "unknown"))
            self.metrics.observe(op, status, time.perf_counter() - started)

    def _authorized(self, key: bytes | None) -> bool:
        if key is None:
            return False
        # compare_digest against every key so timing does not reveal which prefix matched.
        return any([hmac.compare_digest(key, k) for k in self.keys])


def _request_id(given: bytes | None) -> str:
    # Keep a client's id so its logs and ours line up, if it is short and printable.
    if given and len(given) <= 128 and given.isascii() and given.decode().isprintable():
        return given.decode()
    return uuid.uuid4().hex


async def _send_error(send: Send, exc: UnauthenticatedError) -> None:
    code = lookup(exc)
    body = dumps(error_body(code, exc.message))
    await send(
        {
            "type": "http.response.start",
            "status": code.http_status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})

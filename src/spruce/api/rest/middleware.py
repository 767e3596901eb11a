"""The outer ASGI layer: request id, API-key check, the in-flight body budget and per-operation metrics,
for every route.

Written as plain ASGI rather than Starlette's BaseHTTPMiddleware, which costs a task and a stream copy per
request on the hot path.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from spruce.api.rest.console import OPEN_PAGES, OPEN_PREFIX
from spruce.api.rest.http import AUTHENTICATED_KEY, OPERATION_KEY, REQUEST_ID_KEY
from spruce.api.rest.metrics import Metrics
from spruce.errors import ResourceExhaustedError, SpruceError, UnauthenticatedError
from spruce.wire.errors import error_body, lookup
from spruce.wire.rest_responses import dumps

# Reachable without a key: load balancers and orchestrators probe it.
OPEN_PATHS = frozenset({"/health"})


class BodyBudget:
    """Bytes of request bodies the server may hold at once, summed over the requests in flight.

    A 1,000 x 768 upsert is ~15 MB of JSON and takes ~3-4x that in memory while it is decoded, so
    without a cap enough concurrent clients exhaust the machine's memory. A request whose body does not
    fit gets a 429 at once, before its body is read, and the SDKs retry 429 with backoff. A request is
    always admitted when none is in flight, so the largest body the server accepts can always pass.
    Only touched from the event loop: no lock.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, size: int) -> bool:
        if self.used and self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


class SpruceMiddleware:
    def __init__(
        self, app: ASGIApp, api_keys: Iterable[str], metrics: Metrics, max_body: int, budget: BodyBudget
    ) -> None:
        self.app = app
        self.keys = tuple(k.encode() for k in api_keys)
        self.metrics = metrics
        self.max_body = max_body
        self.budget = budget

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
            authenticated = scope[AUTHENTICATED_KEY] = not self.keys or self._authorized(
                headers.get(b"api-key")
            )
            if not authenticated and scope["path"] not in OPEN_PATHS and not _console_path(scope["path"]):
                scope[OPERATION_KEY] = "unauthenticated"
                await _send_error(send_with_id, UnauthenticatedError("missing or invalid Api-Key header"))
                return
            size = self._body_size(scope["method"], headers.get(b"content-length"))
            if not self.budget.take(size):
                scope[OPERATION_KEY] = "overloaded"
                await _send_error(
                    send_with_id,
                    ResourceExhaustedError(
                        f"the server is holding {self.budget.used} bytes of request bodies and this one "
                        f"({size} bytes) would pass its limit of {self.budget.limit} "
                        "(--max-inflight-body-bytes); retry with backoff, or send fewer or smaller "
                        "batches at once"
                    ),
                )
                return
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                self.budget.give(size)
        finally:
            op = str(scope.get(OPERATION_KEY, "unknown"))
            self.metrics.observe(op, status, time.perf_counter() - started)

    def _body_size(self, method: str, declared: bytes | None) -> int:
        """What a request's body counts against the budget: its Content-Length, or the most a body
        may be when it is sent chunked; nothing when it is over the limit (the route answers 413
        without reading it) or when a GET carries none."""
        if declared is None:
            return 0 if method in ("GET", "HEAD", "DELETE") else self.max_body
        try:
            size = int(declared)
        except ValueError:
            return 0  # the route rejects the header
        return size if 0 <= size <= self.max_body else 0

    def _authorized(self, key: bytes | None) -> bool:
        if key is None:
            return False
        # compare_digest against every key so timing does not reveal which prefix matched.
        return any([hmac.compare_digest(key, k) for k in self.keys])


def _console_path(path: str) -> bool:
    # The console's pages and files: the console asks for the key and sends it on its API calls.
    return path in OPEN_PAGES or path.startswith(OPEN_PREFIX)


def _request_id(given: bytes | None) -> str:
    # Keep a client's id so its logs and ours line up, if it is short and printable.
    if given and len(given) <= 128 and given.isascii() and given.decode().isprintable():
        return given.decode()
    return uuid.uuid4().hex


async def _send_error(send: Send, exc: SpruceError) -> None:
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

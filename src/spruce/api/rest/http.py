"""Request/response plumbing shared by every REST route: bounded JSON bodies and error responses.

Each route is wrapped by `endpoint`, which names the operation (for metrics) and turns exceptions into the
Pinecone error body. A `SpruceError` is the client's problem and gets its mapped 4xx; anything else is a
bug of ours: logged with the request id and answered with a 500 that carries the id, never the traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from functools import wraps
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from spruce.errors import (
    InvalidArgumentError,
    PayloadTooLargeError,
    SpruceError,
    UnsupportedMediaTypeError,
)
from spruce.wire.errors import ErrorCode, error_body, lookup
from spruce.wire.rest import loads
from spruce.wire.rest_responses import dumps

log = logging.getLogger("spruce.api.rest")

REQUEST_ID_KEY = "spruce.request_id"
OPERATION_KEY = "spruce.op"
# True when the request carried a valid Api-Key or the server has none: open paths (/health) say less
# to anyone else.
AUTHENTICATED_KEY = "spruce.authenticated"

Handler = Callable[[Request], Awaitable[Response]]

# What a body may declare itself to be. The SDKs send application/json everywhere except records upsert,
# which sends NDJSON (a route reading NDJSON passes `NDJSON`). A body with no Content-Type at all is read
# as JSON: nothing is ambiguous about it, and hand-written clients often omit the header.
JSON = frozenset({"application/json"})
NDJSON = frozenset({"application/x-ndjson"})


def json_response(value: Any, status: int = 200) -> Response:
    return Response(content=dumps(value), status_code=status, media_type="application/json")


def error_response(code: ErrorCode, message: str) -> Response:
    return json_response(error_body(code, message), code.http_status)


def request_id(request: Request) -> str:
    return str(request.scope.get(REQUEST_ID_KEY, "-"))


async def read_json(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object, refusing more than `limit` bytes whether or not Content-Length says so."""
    return loads(await read_body(request, limit))


def check_content_type(request: Request, accepted: frozenset[str] = JSON) -> None:
    """415 for a body declared as something else (text/plain, a form...), before it is read."""
    declared = request.headers.get("content-type")
    if declared is None:
        return
    media = declared.partition(";")[0].strip().lower()
    if media not in accepted:
        raise UnsupportedMediaTypeError(
            f"Content-Type {declared[:80]!r} is not supported here; send the body as "
            f"{' or '.join(sorted(accepted))} (Content-Type: {min(accepted)})"
        )


def declared_size(request: Request, limit: int, accepted: frozenset[str] = JSON) -> int | None:
    """The body's Content-Length (None when not given), refusing more than `limit` bytes and a
    Content-Type outside `accepted` before anything is read."""
    check_content_type(request, accepted)
    declared = request.headers.get("content-length")
    if declared is None:
        return None
    try:
        size = int(declared)
    except ValueError:
        raise InvalidArgumentError("Content-Length must be an integer") from None
    if size > limit:
        raise PayloadTooLargeError(f"request body is {size} bytes; the limit is {limit} bytes")
    return size


async def read_body(request: Request, limit: int, accepted: frozenset[str] = JSON) -> bytes:
    """The raw body, refusing more than `limit` bytes whether or not Content-Length says so, and a
    Content-Type outside `accepted`."""
    declared_size(request, limit, accepted)
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise PayloadTooLargeError(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def endpoint(operation: str) -> Callable[[Handler], Handler]:
    """Name a route's operation and answer its failures with Pinecone error bodies."""

    def wrap(handler: Handler) -> Handler:
        @wraps(handler)
        async def run(request: Request) -> Response:
            request.scope[OPERATION_KEY] = operation
            try:
                return await handler(request)
            except ClientDisconnect:
                # The client went away mid-body; nobody will read an answer, and it is not our bug.
                return Response(status_code=400)
            except SpruceError as exc:
                code = lookup(exc)
                if code.http_status >= 500:
                    log.error("%s failed (request %s): %s", operation, request_id(request), exc, exc_info=exc)
                return error_response(code, exc.message)
            except Exception as exc:
                rid = request_id(request)
                log.exception("internal error in %s (request %s)", operation, rid)
                return error_response(
                    lookup(exc), f"internal error in {operation}; see server log for request {rid}"
                )

        return run

    return wrap

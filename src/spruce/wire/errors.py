"""The one table from Spruce errors to HTTP status, gRPC status and Pinecone error code.

REST and gRPC both call `lookup`, so a given failure looks the same over either transport.
The most specific class wins: `lookup` walks the exception's MRO and takes the first class in the table.
Anything that is not a `SpruceError` is our own bug and maps to INTERNAL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spruce import errors


@dataclass(frozen=True, slots=True)
class ErrorCode:
    http_status: int
    grpc_status_name: str
    code: str


INTERNAL = ErrorCode(500, "INTERNAL", "INTERNAL")

_TABLE: dict[type[BaseException], ErrorCode] = {
    errors.NotFoundError: ErrorCode(404, "NOT_FOUND", "NOT_FOUND"),
    errors.AlreadyExistsError: ErrorCode(409, "ALREADY_EXISTS", "ALREADY_EXISTS"),
    errors.InvalidArgumentError: ErrorCode(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    errors.ForbiddenError: ErrorCode(403, "PERMISSION_DENIED", "PERMISSION_DENIED"),
    errors.UnauthenticatedError: ErrorCode(401, "UNAUTHENTICATED", "UNAUTHENTICATED"),
    errors.PayloadTooLargeError: ErrorCode(413, "RESOURCE_EXHAUSTED", "OUT_OF_RANGE"),
    errors.ResourceExhaustedError: ErrorCode(429, "RESOURCE_EXHAUSTED", "RESOURCE_EXHAUSTED"),
    # A closed store only happens while shutting down: the client may retry elsewhere.
    errors.ClosedError: ErrorCode(503, "UNAVAILABLE", "UNAVAILABLE"),
    errors.CorruptionError: ErrorCode(500, "DATA_LOSS", "DATA_LOSS"),
    # The server runs but a model's files were never installed: not the client's fault, nor a crash.
    errors.ModelUnavailableError: ErrorCode(503, "UNAVAILABLE", "UNAVAILABLE"),
    errors.SpruceError: INTERNAL,
}


def lookup(exc: BaseException) -> ErrorCode:
    """The codes for `exc`; INTERNAL for anything outside the Spruce error tree."""
    for cls in type(exc).__mro__:
        found = _TABLE.get(cls)
        if found is not None:
            return found
    return INTERNAL


def error_body(code: ErrorCode, message: str) -> dict[str, Any]:
    """The JSON error body Pinecone SDKs parse: `{"error":{"code","message"},"status"}`."""
    return {"error": {"code": code.code, "message": message}, "status": code.http_status}

"""A route table entry: the single source for Starlette routing and for /openapi.json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spruce.api.rest.http import Handler

Schema = dict[str, Any]


@dataclass(frozen=True, slots=True)
class QueryParam:
    name: str
    schema: Schema
    description: str = ""
    required: bool = False
    repeated: bool = False  # ?ids=a&ids=b


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    path: str
    operation: str
    summary: str
    handler: Handler
    request_body: bool = False
    # JSON Schemas (spruce.wire.schemas) of the body and of the success response, and the query
    # parameters: what /openapi.json publishes for the route.
    request: Schema | None = None
    response: Schema | None = None
    status: int = 200
    query: tuple[QueryParam, ...] = ()
    content_type: str = "application/json"

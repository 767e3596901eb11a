"""A route table entry: the single source for Starlette routing and for /openapi.json."""

from __future__ import annotations

from dataclasses import dataclass

from spruce.api.rest.http import Handler


@dataclass(frozen=True, slots=True)
class RouteSpec:
    method: str
    path: str
    operation: str
    summary: str
    handler: Handler
    request_body: bool = False

"""An OpenAPI 3 description generated from the route table, so it lists exactly the routes served,
with the request and response schemas each RouteSpec names (spruce.wire.schemas)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from spruce.api.rest.routes import RouteSpec
from spruce.wire.schemas import ERROR

_ERROR_REF = {"$ref": "#/components/schemas/Error"}
_ERRORS = {
    "400": "Invalid argument: the message names the field to fix",
    "401": "Missing or invalid Api-Key header",
    "404": "Index, namespace or route not found",
    "4XX": "Other client errors (403 deletion protection, 409 exists, 413 body too large, 429 busy)",
    "5XX": "Internal error; the message names the request id to look up in the server log",
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ERROR_REF}}}


def operation(routes: Sequence[RouteSpec], r: RouteSpec) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in re.findall(r"{(\w+)}", r.path)
    ]
    for q in r.query:
        schema = {"type": "array", "items": q.schema} if q.repeated else q.schema
        param: dict[str, Any] = {"name": q.name, "in": "query", "required": q.required, "schema": schema}
        if q.description:
            param["description"] = q.description
        if q.repeated:
            param["style"], param["explode"] = "form", True
        params.append(param)
    if r.content_type == "application/json":
        success: dict[str, Any] = {
            "description": "Success",
            "content": {"application/json": {"schema": r.response or {"type": "object"}}},
        }
    elif r.content_type == "none":
        success = {"description": "Accepted"}
    else:
        success = {"description": "Success", "content": {r.content_type: {"schema": {"type": "string"}}}}
    responses: dict[str, Any] = {str(r.status): success}
    responses.update({code: _error(text) for code, text in _ERRORS.items()})
    op: dict[str, Any] = {
        "operationId": f"{r.operation}_{r.method.lower()}" if _dup(routes, r) else r.operation,
        "summary": r.summary,
        "parameters": params,
        "responses": responses,
    }
    if r.request_body or r.request is not None:
        op["requestBody"] = {
            "required": r.request_body,
            "content": {"application/json": {"schema": r.request or {"type": "object"}}},
        }
    return op


def openapi_document(routes: Sequence[RouteSpec], title: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        paths.setdefault(r.path, {})[r.method.lower()] = operation(routes, r)
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "2026-07"},
        "components": {
            "securitySchemes": {"ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "Api-Key"}},
            "schemas": {"Error": ERROR},
        },
        "security": [{"ApiKeyAuth": []}],
        "paths": paths,
    }


def _dup(routes: Sequence[RouteSpec], r: RouteSpec) -> bool:
    return sum(1 for o in routes if o.operation == r.operation) > 1

"""An OpenAPI 3 description generated from the route table, so it lists exactly the routes served."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from spruce.api.rest.routes import RouteSpec

_ERROR = {
    "description": 'Error: {"error":{"code","message"},"status"}',
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def openapi_document(routes: Sequence[RouteSpec], title: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for r in routes:
        op: dict[str, Any] = {
            "operationId": f"{r.operation}_{r.method.lower()}" if _dup(routes, r) else r.operation,
            "summary": r.summary,
            "parameters": [
                {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                for p in re.findall(r"{(\w+)}", r.path)
            ],
            "responses": {
                "2XX": {"description": "Success", "content": {"application/json": {}}},
                "4XX": _ERROR,
            },
        }
        if r.request_body:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "2026-07"},
        "components": {
            "securitySchemes": {"ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "Api-Key"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                        },
                        "status": {"type": "integer"},
                    },
                }
            },
        },
        "security": [{"ApiKeyAuth": []}],
        "paths": paths,
    }


def _dup(routes: Sequence[RouteSpec], r: RouteSpec) -> bool:
    return sum(1 for o in routes if o.operation == r.operation) > 1

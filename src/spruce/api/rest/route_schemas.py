"""Request/response schemas and query parameters of the routes, by operation name.

`attach` fills them into each RouteSpec when an app is built, so a route module can stay a list
of paths and handlers (and a route that names its own schemas keeps them). The tests send real
requests and validate every answer against the schema published here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from spruce.api.rest.routes import QueryParam, RouteSpec, Schema
from spruce.service import validation as v
from spruce.wire import schemas as s


@dataclass(frozen=True, slots=True)
class RouteSchemas:
    request: Schema | None = None
    response: Schema | None = None
    status: int = 200
    query: tuple[QueryParam, ...] = ()
    content_type: str = "application/json"


_NS = QueryParam("namespace", s.NAMESPACE, "namespace (default: the default namespace)")
_LIMIT = QueryParam("limit", {"type": "integer", "minimum": 1, "maximum": v.MAX_LIST_LIMIT}, "page size")
_PREFIX = QueryParam("prefix", s.STR, "only names starting with this")
_TOKEN = QueryParam("paginationToken", s.STR, "the pagination.next of the previous page")
_IDS = QueryParam("ids", s.RECORD_ID, "record ids", repeated=True)
_IDS_REQUIRED = QueryParam("ids", s.RECORD_ID, "record ids", required=True, repeated=True)

BY_OPERATION: dict[str, RouteSchemas] = {
    "upsert": RouteSchemas(s.UPSERT_REQUEST, s.UPSERT_RESPONSE),
    "query": RouteSchemas(s.QUERY_REQUEST, s.QUERY_RESPONSE),
    "fetch": RouteSchemas(
        None, s.FETCH_RESPONSE, query=(QueryParam("ids", s.RECORD_ID, "record ids", True, True), _NS)
    ),
    "fetch_by_metadata": RouteSchemas(s.FETCH_BY_METADATA_REQUEST, s.FETCH_RESPONSE),
    "update": RouteSchemas(s.UPDATE_REQUEST, s.UPDATE_RESPONSE),
    "delete": RouteSchemas(s.DELETE_REQUEST, s.EMPTY),
    "delete_by_query": RouteSchemas(
        None,
        s.EMPTY,
        query=(
            _IDS,
            QueryParam("deleteAll", s.BOOL, "delete every record of the namespace"),
            _NS,
        ),
    ),
    "list": RouteSchemas(None, s.LIST_RESPONSE, query=(_NS, _PREFIX, _LIMIT, _TOKEN)),
    "describe_index_stats": RouteSchemas(s.STATS_REQUEST, s.STATS_RESPONSE),
    "list_namespaces": RouteSchemas(None, s.LIST_NAMESPACES_RESPONSE, query=(_PREFIX, _LIMIT, _TOKEN)),
    "create_namespace": RouteSchemas(s.CREATE_NAMESPACE_REQUEST, s.NAMESPACE_MODEL, 201),
    "describe_namespace": RouteSchemas(None, s.NAMESPACE_MODEL),
    "delete_namespace": RouteSchemas(None, s.EMPTY, 202),
    "list_indexes": RouteSchemas(None, s.INDEX_LIST),
    "create_index": RouteSchemas(s.CREATE_INDEX_REQUEST, s.INDEX_MODEL, 201),
    "create_index_for_model": RouteSchemas(s.CREATE_FOR_MODEL_REQUEST, s.INDEX_MODEL, 201),
    "describe_index": RouteSchemas(None, s.INDEX_MODEL),
    "configure_index": RouteSchemas(s.CONFIGURE_INDEX_REQUEST, s.INDEX_MODEL),
    "delete_index": RouteSchemas(None, None, 202, content_type="none"),
    "whoami": RouteSchemas(None, s.WHOAMI),
    "health": RouteSchemas(None, s.HEALTH),
    "openapi": RouteSchemas(None, {"type": "object", "description": "this document"}),
    "metrics": RouteSchemas(None, None, content_type="text/plain"),
    "console": RouteSchemas(None, None, content_type="text/html"),
    "docs": RouteSchemas(None, None, content_type="text/html"),
    "console_asset": RouteSchemas(None, None, content_type="text/plain"),
}


def attach(spec: RouteSpec) -> RouteSpec:
    """The spec with its published schemas, unless it names its own."""
    known = BY_OPERATION.get(spec.operation)
    if known is None or spec.response is not None or spec.request is not None:
        return spec
    request = known.request if (spec.request_body or spec.method == "POST") else None
    return replace(
        spec,
        request=request,
        response=known.response,
        status=known.status,
        query=spec.query or known.query,
        content_type=known.content_type,
    )

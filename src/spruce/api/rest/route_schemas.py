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
from spruce.wire import schemas_collections as col
from spruce.wire import schemas_inference as inf
from spruce.wire import schemas_jobs as jobs


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
_JOB_PAGE = (
    QueryParam("limit", jobs.LIMIT, "page size"),
    QueryParam("paginationToken", s.STR, "the pagination.next of the previous page"),
)
_BACKUP_PAGE = (*_JOB_PAGE, QueryParam("include_deleted", s.BOOL, "also backups of deleted indexes"))

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
    # inference and records (integrated embedding)
    "embed": RouteSchemas(inf.EMBED_REQUEST, inf.EMBED_RESPONSE),
    "rerank": RouteSchemas(inf.RERANK_REQUEST, inf.RERANK_RESPONSE),
    "list_models": RouteSchemas(
        None,
        inf.MODEL_LIST,
        query=(
            QueryParam("type", {"type": "string", "enum": ["embed", "rerank"]}, "model type"),
            QueryParam("vector_type", {"type": "string", "enum": ["dense", "sparse"]}, "embed models only"),
        ),
    ),
    "describe_model": RouteSchemas(None, inf.MODEL_INFO),
    # The body is NDJSON (one record per line), which an OpenAPI JSON schema cannot describe.
    "upsert_records": RouteSchemas(None, inf.RECORDS_UPSERT_RESPONSE, 201),
    "search_records": RouteSchemas(inf.SEARCH_REQUEST, inf.SEARCH_RESPONSE),
    # bulk imports
    "start_import": RouteSchemas(jobs.START_IMPORT_REQUEST, jobs.START_IMPORT_RESPONSE),
    "list_imports": RouteSchemas(None, jobs.IMPORT_LIST, query=_JOB_PAGE),
    "describe_import": RouteSchemas(None, jobs.IMPORT_MODEL),
    "cancel_import": RouteSchemas(None, s.EMPTY),
    # backups and restore jobs
    "create_backup": RouteSchemas(jobs.CREATE_BACKUP_REQUEST, jobs.BACKUP_MODEL, 201),
    "list_index_backups": RouteSchemas(None, jobs.BACKUP_LIST, query=_BACKUP_PAGE),
    "list_backups": RouteSchemas(None, jobs.BACKUP_LIST, query=_BACKUP_PAGE),
    "describe_backup": RouteSchemas(None, jobs.BACKUP_MODEL),
    "delete_backup": RouteSchemas(None, None, 202, content_type="none"),
    "create_index_from_backup": RouteSchemas(
        jobs.CREATE_INDEX_FROM_BACKUP_REQUEST, jobs.CREATE_INDEX_FROM_BACKUP_RESPONSE, 202
    ),
    "list_restore_jobs": RouteSchemas(None, jobs.RESTORE_JOB_LIST, query=_JOB_PAGE),
    "describe_restore_job": RouteSchemas(None, jobs.RESTORE_JOB),
    # Spruce's Collection API
    "list_collections": RouteSchemas(None, col.COLLECTION_LIST),
    "create_collection": RouteSchemas(col.CREATE_REQUEST, col.COLLECTION, 201),
    "get_collection": RouteSchemas(None, col.COLLECTION),
    "modify_collection": RouteSchemas(col.MODIFY_REQUEST, col.COLLECTION),
    "delete_collection": RouteSchemas(None, None, 204, content_type="none"),
    "collection_add": RouteSchemas(col.WRITE_REQUEST, col.WRITE_RESPONSE),
    "collection_upsert": RouteSchemas(col.WRITE_REQUEST, col.WRITE_RESPONSE),
    "collection_update": RouteSchemas(col.WRITE_REQUEST, col.WRITE_RESPONSE),
    "collection_delete": RouteSchemas(col.DELETE_REQUEST, col.COUNT_RESPONSE),
    "collection_get": RouteSchemas(col.GET_REQUEST, col.GET_RESPONSE),
    "collection_query": RouteSchemas(col.QUERY_REQUEST, col.QUERY_RESPONSE),
    "collection_count": RouteSchemas(col.COUNT_REQUEST, col.COUNT_RESPONSE),
    "collection_hybrid_search": RouteSchemas(col.HYBRID_REQUEST, col.QUERY_RESPONSE),
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

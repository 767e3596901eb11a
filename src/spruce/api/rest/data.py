"""Data-plane routes of one index: vectors, stats and namespaces.

Where each service call runs (inline on the event loop or in a thread) is decided in `calls`.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from spruce.api.rest.body_pool import pooled_body
from spruce.api.rest.calls import CALLS, LARGE_BODY_BYTES
from spruce.api.rest.control import API_VERSION_HEADER
from spruce.api.rest.http import declared_size, json_response, read_body, read_json
from spruce.api.rest.routes import RouteSpec
from spruce.config import ServerConfig
from spruce.errors import InvalidArgumentError
from spruce.service.catalog import Catalog
from spruce.service.data import IndexService
from spruce.wire import rest, rest_responses, upsert_json
from spruce.wire.index_model import is_classic


class DataRoutes:
    def __init__(self, catalog: Catalog, index_name: str, config: ServerConfig) -> None:
        self.catalog = catalog
        self.index_name = index_name
        self.limit = config.max_body_bytes

    def routes(self) -> list[RouteSpec]:
        return [
            RouteSpec("POST", "/vectors/upsert", "upsert", "Upsert vectors", self.upsert, True),
            RouteSpec("POST", "/query", "query", "Query by vector or id", self.query, True),
            RouteSpec("GET", "/vectors/fetch", "fetch", "Fetch vectors by id", self.fetch),
            RouteSpec(
                "POST",
                "/vectors/fetch_by_metadata",
                "fetch_by_metadata",
                "Fetch vectors by metadata filter",
                self.fetch_by_metadata,
                True,
            ),
            RouteSpec(
                "POST", "/vectors/update", "update", "Update vectors by id or filter", self.update, True
            ),
            RouteSpec("POST", "/vectors/delete", "delete", "Delete vectors", self.delete, True),
            RouteSpec("GET", "/vectors/list", "list", "List vector ids", self.list_ids),
            RouteSpec(
                "POST", "/describe_index_stats", "describe_index_stats", "Index statistics", self.stats, True
            ),
            RouteSpec("GET", "/describe_index_stats", "describe_index_stats", "Index statistics", self.stats),
            RouteSpec("GET", "/namespaces", "list_namespaces", "List namespaces", self.list_namespaces),
            RouteSpec(
                "POST", "/namespaces", "create_namespace", "Create a namespace", self.create_namespace, True
            ),
            RouteSpec(
                "GET",
                "/namespaces/{namespace}",
                "describe_namespace",
                "Describe a namespace",
                self.describe_ns,
            ),
            RouteSpec(
                "DELETE", "/namespaces/{namespace}", "delete_namespace", "Delete a namespace", self.delete_ns
            ),
        ]

    def _service(self) -> IndexService:
        return self.catalog.index(self.index_name)

    async def upsert(self, request: Request) -> Response:
        svc = self._service()
        size = declared_size(request, self.limit)

        # Decoding takes tens of ms for a large body: in the pool, not on the event loop. Large bodies
        # are read into a reused buffer (body_pool), decoded one at a time (the decoder holds the GIL,
        # so a second one at once only adds hand-offs), and the slot is given back before the write
        # waits for its fsync; small bodies decode and write in one hop, so many small concurrent
        # writes still share WAL fsyncs.
        if size is not None and size >= LARGE_BODY_BYTES:
            async with pooled_body(request, size, self.limit) as body:
                records, namespace = await CALLS.pooled_decode(lambda: upsert_json.upsert_request(body))
            count = await CALLS.pooled(lambda: svc.upsert(records, namespace))
            return json_response({"upsertedCount": count})
        raw = await read_body(request, self.limit)
        if len(raw) >= LARGE_BODY_BYTES:
            records, namespace = await CALLS.pooled_decode(lambda: upsert_json.upsert_request(raw))
            del raw  # 15 MB of JSON not kept alive while the write waits for its fsync
            count = await CALLS.pooled(lambda: svc.upsert(records, namespace))
        else:

            def parse_and_upsert() -> int:
                records, namespace = upsert_json.upsert_request(raw)
                return svc.upsert(records, namespace)

            count = await CALLS.pooled(parse_and_upsert)
        return json_response({"upsertedCount": count})

    async def query(self, request: Request) -> Response:
        q = rest.query_request(await read_json(request, self.limit))
        svc = self._service()
        matches = await CALLS.read(
            lambda: svc.query(
                top_k=q.top_k,
                namespace=q.namespace,
                vector=q.vector,
                sparse_vector=q.sparse_vector,
                id=q.id,
                filter=q.filter,
                include_values=q.include_values,
                include_metadata=q.include_metadata,
            ),
            ("query", self.index_name, q.namespace),
        )
        return json_response(rest_responses.query_response(matches, q.namespace, q.include_values))

    async def fetch(self, request: Request) -> Response:
        ids = rest.ids_list(request.query_params.getlist("ids"))
        namespace = rest.namespace_in(request.query_params.get("namespace"))
        svc = self._service()
        records = await CALLS.read(lambda: svc.fetch(ids, namespace), ("fetch", self.index_name, namespace))
        return json_response(rest_responses.fetch_response(records, namespace))

    async def fetch_by_metadata(self, request: Request) -> Response:
        body = await read_json(request, self.limit)
        namespace = rest.namespace_in(body.get("namespace"))
        limit = rest.opt_int(body, "limit", 100, 1, rest.MAX_FETCH_BY_METADATA_LIMIT)
        token = rest.opt_str(body, "paginationToken")
        flt = rest.filter_of(body)
        svc = self._service()
        records, next_token = await CALLS.pooled(
            lambda: svc.fetch_by_metadata(flt, namespace, limit=limit or 100, pagination_token=token)
        )
        return json_response(
            {**rest_responses.fetch_response(records, namespace), **rest_responses.pagination(next_token)}
        )

    async def update(self, request: Request) -> Response:
        u = rest.update_request(await read_json(request, self.limit))
        svc = self._service()
        matched = await CALLS.pooled(
            lambda: svc.update(
                namespace=u.namespace,
                id=u.id,
                values=u.values,
                sparse_values=u.sparse_values,
                set_metadata=u.set_metadata,
                filter=u.filter,
                dry_run=u.dry_run,
            )
        )
        return json_response({"matchedRecords": matched})

    async def delete(self, request: Request) -> Response:
        d = rest.delete_request(await read_json(request, self.limit))
        svc = self._service()
        await CALLS.pooled(
            lambda: svc.delete(namespace=d.namespace, ids=d.ids, delete_all=d.delete_all, filter=d.filter)
        )
        return json_response({})

    async def list_ids(self, request: Request) -> Response:
        params = request.query_params
        namespace = rest.namespace_in(params.get("namespace"))
        limit = rest.query_int(params.get("limit"), "limit", 100, 1, rest.MAX_LIST_LIMIT)
        prefix = params.get("prefix") or None
        token = params.get("paginationToken") or None
        svc = self._service()
        page = await CALLS.read(
            lambda: svc.list_ids(namespace, prefix=prefix, limit=limit, pagination_token=token),
            ("list", self.index_name, namespace),
        )
        return json_response(
            {
                "vectors": [{"id": i} for i in page.items],
                **rest_responses.pagination(page.next_token),
                "namespace": namespace,
                "usage": rest_responses.usage(1),
            }
        )

    async def stats(self, request: Request) -> Response:
        body = await read_json(request, self.limit) if request.method == "POST" else {}
        flt = rest.filter_of(body)
        svc = self._service()
        stats = await CALLS.read(lambda: svc.describe_index_stats(flt), ("stats", self.index_name))
        return json_response(rest_responses.stats_json(stats))

    async def list_namespaces(self, request: Request) -> Response:
        params = request.query_params
        limit = rest.query_int(params.get("limit"), "limit", 100, 1, rest.MAX_LIST_LIMIT)
        prefix = params.get("prefix") or None
        token = params.get("paginationToken") or None
        svc = self._service()
        items, next_token, total = await CALLS.read(
            lambda: svc.list_namespaces(prefix=prefix, limit=limit, pagination_token=token),
            ("namespaces", self.index_name),
        )
        classic = is_classic(request.headers.get(API_VERSION_HEADER))
        return json_response(
            {
                "namespaces": [rest_responses.namespace_json(n, classic) for n in items],
                **rest_responses.pagination(next_token),
                "total_count": total,
            }
        )

    async def create_namespace(self, request: Request) -> Response:
        body = await read_json(request, self.limit)
        name = rest.opt_str(body, "name")
        if not name or name == rest.DEFAULT_NAMESPACE:
            raise InvalidArgumentError("name must be a non-empty namespace name other than __default__")
        fields = rest.namespace_schema(body)
        svc = self._service()
        info = await CALLS.pooled(lambda: svc.create_namespace(name, fields))
        classic = is_classic(request.headers.get(API_VERSION_HEADER))
        return json_response(rest_responses.namespace_json(info, classic), 201)

    async def describe_ns(self, request: Request) -> Response:
        name = rest.namespace_in(request.path_params["namespace"])
        svc = self._service()
        info = await CALLS.read(lambda: svc.describe_namespace(name), ("namespace", self.index_name))
        classic = is_classic(request.headers.get(API_VERSION_HEADER))
        return json_response(rest_responses.namespace_json(info, classic))

    async def delete_ns(self, request: Request) -> Response:
        name = rest.namespace_in(request.path_params["namespace"])
        svc = self._service()
        await CALLS.pooled(lambda: svc.delete_namespace(name))
        return json_response({}, 202)

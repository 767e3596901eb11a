"""Data-plane routes of one index: vectors, stats and namespaces.

The service is synchronous and thread-safe. Writes always run in the thread pool, so a slow fsync
never stalls the event loop that serves the other connections. Reads run inline on the loop when no
other data-plane call is in flight, and in the pool otherwise: on these 2-core VMs the pool's two
thread hand-offs cost ~0.65 ms per request (a query at 100k x 768 took 1.2 ms inside the server
inline, 1.9 ms through the pool, against 0.9 ms embedded), while under concurrency the pool lets
searches (which release the GIL in faiss) use both cores and keeps a read from waiting on the loop
behind a write that holds the store lock.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from spruce.api.rest.control import API_VERSION_HEADER
from spruce.api.rest.http import json_response, read_body, read_json
from spruce.api.rest.routes import RouteSpec
from spruce.config import ServerConfig
from spruce.errors import InvalidArgumentError
from spruce.service.catalog import Catalog
from spruce.service.data import IndexService
from spruce.wire import rest, upsert_json
from spruce.wire.index_model import is_classic

T = TypeVar("T")


class _Calls:
    """Runs service calls for the routes, counting those in flight (one event loop: no lock needed)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self._overlap_until = 0.0  # monotonic time until which reads go to the pool
        self._cpu_bound: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def pooled(self, fn: Callable[[], T]) -> T:
        self.in_flight += 1
        try:
            return await run_in_threadpool(fn)
        finally:
            self.in_flight -= 1

    async def pooled_decode(self, fn: Callable[[], T]) -> T:
        """`pooled`, one call at a time. For work that holds the GIL for tens of ms (decoding an
        upsert body): eight at once on two cores cost 20-30 ms more server CPU per 1,000 x 768 batch
        than two, all of it in thread hand-offs, and two at once more than one (stop 17)."""
        loop = asyncio.get_running_loop()
        limit = self._cpu_bound.get(loop)
        if limit is None:
            limit = self._cpu_bound[loop] = asyncio.Semaphore(1)
        async with limit:
            return await self.pooled(fn)

    def _alone(self) -> bool:
        return self.in_flight == 1 and time.monotonic() >= self._overlap_until

    async def inline_when_alone(self, fn: Callable[[], T]) -> T:
        self.in_flight += 1
        try:
            if self._alone():
                # Let requests already waiting on other connections reach this point first: run
                # inline, they could not even be read until this call returns, so a burst of
                # concurrent queries (the SDK's query_namespaces) would be served one by one.
                await asyncio.sleep(0)
                if self._alone():
                    return fn()  # alone: the thread hop would be most of the latency
            # Concurrency seen: keep using the pool (both cores) until it has been quiet a while.
            self._overlap_until = time.monotonic() + _OVERLAP_MEMORY_S
            return await run_in_threadpool(fn)
        finally:
            self.in_flight -= 1


# How long after two data-plane calls last overlapped reads keep going to the pool.
_OVERLAP_MEMORY_S = 0.5

# ~70 records of 768 floats; smaller bodies decode in a few ms and need no slot.
LARGE_BODY_BYTES = 1 << 20

# Shared by every index app of the process: they run on one event loop and share its cores.
CALLS = _Calls()


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
        body = await read_body(request, self.limit)
        svc = self._service()

        # Decoding takes tens of ms for a large body: in the pool, not on the event loop. Large bodies
        # are decoded one at a time (the decoder holds the GIL, so a second one at once only adds
        # hand-offs), and the slot is given back before the write waits for its fsync; small bodies
        # decode and write in one hop, so many small concurrent writes still share WAL fsyncs.
        if len(body) >= LARGE_BODY_BYTES:
            records, namespace = await CALLS.pooled_decode(lambda: upsert_json.upsert_request(body))
            del body  # 15 MB of JSON not kept alive while the write waits for its fsync
            count = await CALLS.pooled(lambda: svc.upsert(records, namespace))
        else:

            def parse_and_upsert() -> int:
                records, namespace = upsert_json.upsert_request(body)
                return svc.upsert(records, namespace)

            count = await CALLS.pooled(parse_and_upsert)
        return json_response({"upsertedCount": count})

    async def query(self, request: Request) -> Response:
        q = rest.query_request(await read_json(request, self.limit))
        svc = self._service()
        matches = await CALLS.inline_when_alone(
            lambda: svc.query(
                top_k=q.top_k,
                namespace=q.namespace,
                vector=q.vector,
                sparse_vector=q.sparse_vector,
                id=q.id,
                filter=q.filter,
                include_values=q.include_values,
                include_metadata=q.include_metadata,
            )
        )
        return json_response(rest.query_response(matches, q.namespace, q.include_values))

    async def fetch(self, request: Request) -> Response:
        ids = rest.ids_list(request.query_params.getlist("ids"))
        namespace = rest.namespace_in(request.query_params.get("namespace"))
        svc = self._service()
        records = await CALLS.inline_when_alone(lambda: svc.fetch(ids, namespace))
        return json_response(rest.fetch_response(records, namespace))

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
        return json_response({**rest.fetch_response(records, namespace), **rest.pagination(next_token)})

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
        page = await CALLS.inline_when_alone(
            lambda: svc.list_ids(namespace, prefix=prefix, limit=limit, pagination_token=token)
        )
        return json_response(
            {
                "vectors": [{"id": i} for i in page.items],
                **rest.pagination(page.next_token),
                "namespace": namespace,
                "usage": rest.usage(1),
            }
        )

    async def stats(self, request: Request) -> Response:
        body = await read_json(request, self.limit) if request.method == "POST" else {}
        flt = rest.filter_of(body)
        svc = self._service()
        stats = await CALLS.inline_when_alone(lambda: svc.describe_index_stats(flt))
        return json_response(rest.stats_json(stats))

    async def list_namespaces(self, request: Request) -> Response:
        params = request.query_params
        limit = rest.query_int(params.get("limit"), "limit", 100, 1, rest.MAX_LIST_LIMIT)
        prefix = params.get("prefix") or None
        token = params.get("paginationToken") or None
        svc = self._service()
        items, next_token, total = await CALLS.inline_when_alone(
            lambda: svc.list_namespaces(prefix=prefix, limit=limit, pagination_token=token)
        )
        classic = is_classic(request.headers.get(API_VERSION_HEADER))
        return json_response(
            {
                "namespaces": [rest.namespace_json(n, classic) for n in items],
                **rest.pagination(next_token),
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
        return json_response(rest.namespace_json(info, classic), 201)

    async def describe_ns(self, request: Request) -> Response:
        name = rest.namespace_in(request.path_params["namespace"])
        svc = self._service()
        info = await CALLS.inline_when_alone(lambda: svc.describe_namespace(name))
        classic = is_classic(request.headers.get(API_VERSION_HEADER))
        return json_response(rest.namespace_json(info, classic))

    async def delete_ns(self, request: Request) -> Response:
        name = rest.namespace_in(request.path_params["namespace"])
        svc = self._service()
        await CALLS.pooled(lambda: svc.delete_namespace(name))
        return json_response({}, 202)

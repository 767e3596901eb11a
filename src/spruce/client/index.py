"""The embedded `Index`: one index's data plane, with the pinecone SDK's method names and arguments.

    index = db.Index("movies")
    index.upsert(vectors=[("A", [...], {"genre": "comedy"})], namespace="ns1")
    index.query(vector=[...], top_k=3, namespace="ns1", include_metadata=True).matches

Results are `Obj`s (client/responses.py), read by attribute or key as the SDK's are.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from spruce.client import progress
from spruce.client.fan_out import map_in_order
from spruce.client.imports import ImportMethods
from spruce.client.records import IndexRecords
from spruce.client.responses import Obj, match_obj, namespace_obj, stats_obj, vector_obj
from spruce.client.vector_forms import to_records
from spruce.engine.stats import COUNTERS, StoreStats
from spruce.errors import InvalidArgumentError
from spruce.service.data import IndexService
from spruce.service.imports import ImportManager
from spruce.types import SparseVector

# The orders a merged query_namespaces ranking can take (the SDK's own check).
_MERGE_METRICS = frozenset({"cosine", "euclidean", "dotproduct"})


class Index(IndexRecords, ImportMethods):
    """Data plane of one index, with the pinecone SDK's method names and arguments."""

    def __init__(self, service: IndexService, imports: ImportManager) -> None:
        self._svc = service
        self._imports = imports

    @property
    def name(self) -> str:
        return self._svc.info.name

    def upsert(
        self,
        vectors: Sequence[Any] | np.ndarray[Any, Any],
        namespace: str | None = None,
        batch_size: int | None = None,
        show_progress: bool = False,
    ) -> Obj:
        records = to_records(vectors)
        ns = namespace or ""
        if batch_size is None:
            return Obj(upserted_count=self._svc.upsert(records, ns))
        if batch_size < 1:
            raise InvalidArgumentError("batch_size must be a positive integer")
        total = 0
        with progress.bar(f"upsert {self.name}", len(records), show_progress) as shown:
            for start in range(0, len(records), batch_size):
                total += self._svc.upsert(records[start : start + batch_size], ns)
                shown.advance(min(batch_size, len(records) - start))
        return Obj(upserted_count=total)

    def query(
        self,
        *,
        top_k: int,
        vector: Sequence[float] | np.ndarray[Any, Any] | None = None,
        id: str | None = None,
        namespace: str | None = None,
        filter: Mapping[str, Any] | None = None,
        include_values: bool = False,
        include_metadata: bool = False,
        sparse_vector: Mapping[str, Any] | SparseVector | None = None,
    ) -> Obj:
        matches = self._svc.query(
            top_k=top_k,
            namespace=namespace or "",
            vector=vector,
            sparse_vector=sparse_vector,
            id=id,
            filter=filter,
            include_values=include_values,
            include_metadata=include_metadata,
        )
        return Obj(
            matches=[match_obj(m) for m in matches], namespace=namespace or "", usage=Obj(read_units=1)
        )

    def query_namespaces(
        self,
        vector: Sequence[float] | np.ndarray[Any, Any] | None = None,
        namespaces: Sequence[str] | None = None,
        metric: str | None = None,
        top_k: int | None = None,
        filter: Mapping[str, Any] | None = None,
        include_values: bool = False,
        include_metadata: bool = False,
        sparse_vector: Mapping[str, Any] | SparseVector | None = None,
    ) -> Obj:
        """The merged top_k of one query in each namespace, as the SDK's `query_namespaces`: the
        namespaces (duplicates dropped, order kept) are queried concurrently, matches ranked by
        `metric` (equal scores in namespace order), usage summed and per namespace in `ns_usage`.
        Each match also says which `namespace` it came from."""
        if not namespaces or isinstance(namespaces, str):
            raise InvalidArgumentError("namespaces must be a non-empty list of namespace names")
        if metric not in _MERGE_METRICS:
            raise InvalidArgumentError(
                f"metric {metric!r} is not one of {', '.join(sorted(_MERGE_METRICS))}: pass the metric "
                "the index was created with (it orders the merged matches)"
            )
        if vector is None and sparse_vector is None:
            raise InvalidArgumentError("query_namespaces needs a vector or a sparse_vector")
        names = list(dict.fromkeys(namespaces))
        k = 10 if top_k is None else top_k

        def one(ns: str) -> Obj:
            return self.query(
                top_k=k,
                vector=vector,
                namespace=ns,
                filter=filter,
                include_values=include_values,
                include_metadata=include_metadata,
                sparse_vector=sparse_vector,
            )

        merged = []
        for ns, res in zip(names, map_in_order(one, names), strict=True):
            for m in res.matches:
                m["namespace"] = ns
                merged.append(m)
        # Stable: equal scores keep namespace order, then each namespace's own order.
        merged.sort(key=lambda m: m.score, reverse=metric != "euclidean")
        return Obj(
            matches=merged[:k],
            namespace="",
            usage=Obj(read_units=len(names)),
            ns_usage={ns: Obj(read_units=1) for ns in names},
        )

    def fetch(self, ids: Sequence[str], namespace: str | None = None) -> Obj:
        found = self._svc.fetch(list(ids), namespace or "")
        return Obj(
            vectors={rid: vector_obj(rec) for rid, rec in found.items()},
            namespace=namespace or "",
            usage=Obj(read_units=1),
        )

    def fetch_by_metadata(
        self,
        filter: Mapping[str, Any],
        namespace: str | None = None,
        limit: int | None = None,
        pagination_token: str | None = None,
    ) -> Obj:
        records, token = self._svc.fetch_by_metadata(
            filter, namespace or "", limit if limit is not None else 100, pagination_token
        )
        return Obj(
            vectors={r.id: vector_obj(r) for r in records},
            namespace=namespace or "",
            usage=Obj(read_units=1),
            pagination=Obj(next=token) if token else None,
        )

    def update(
        self,
        id: str | None = None,
        values: Sequence[float] | np.ndarray[Any, Any] | None = None,
        set_metadata: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        sparse_values: Mapping[str, Any] | SparseVector | None = None,
        filter: Mapping[str, Any] | None = None,
        dry_run: bool | None = None,
    ) -> Obj:
        matched = self._svc.update(
            namespace=namespace or "",
            id=id,
            values=values,
            sparse_values=sparse_values,
            set_metadata=set_metadata,
            filter=filter,
            dry_run=bool(dry_run),
        )
        return Obj(matched_records=matched)

    def delete(
        self,
        ids: Sequence[str] | None = None,
        delete_all: bool | None = None,
        namespace: str | None = None,
        filter: Mapping[str, Any] | None = None,
    ) -> Obj:
        self._svc.delete(namespace=namespace or "", ids=ids, delete_all=bool(delete_all), filter=filter)
        return Obj()

    def list_paginated(
        self,
        prefix: str | None = None,
        limit: int | None = None,
        pagination_token: str | None = None,
        namespace: str | None = None,
    ) -> Obj:
        page = self._svc.list_ids(namespace or "", prefix, limit or 100, pagination_token)
        return Obj(
            vectors=[Obj(id=i) for i in page.items],
            pagination=Obj(next=page.next_token) if page.next_token else None,
            namespace=namespace or "",
            usage=Obj(read_units=1),
        )

    def list(
        self, prefix: str | None = None, limit: int | None = None, namespace: str | None = None
    ) -> Iterator[list[str]]:
        token: str | None = None
        while True:
            page = self._svc.list_ids(namespace or "", prefix, limit or 100, token)
            if page.items:
                yield page.items
            if page.next_token is None:
                return
            token = page.next_token

    def describe_index_stats(self, filter: Mapping[str, Any] | None = None) -> Obj:
        return stats_obj(self._svc.describe_index_stats(filter))

    def list_namespaces_paginated(
        self, prefix: str | None = None, limit: int | None = None, pagination_token: str | None = None
    ) -> Obj:
        items, token, total = self._svc.list_namespaces(prefix, limit or 100, pagination_token)
        return Obj(
            namespaces=[namespace_obj(i) for i in items],
            pagination=Obj(next=token) if token else None,
            total_count=total,
        )

    def list_namespaces(self, prefix: str | None = None, limit: int | None = None) -> Iterator[Obj]:
        token: str | None = None
        while True:
            items, token, _ = self._svc.list_namespaces(prefix, limit or 100, token)
            yield from (namespace_obj(i) for i in items)
            if token is None:
                return

    def describe_namespace(self, namespace: str) -> Obj:
        return namespace_obj(self._svc.describe_namespace(_ns_in(namespace)))

    def create_namespace(self, name: str, schema: Mapping[str, Any] | None = None) -> Obj:
        fields: list[str] = []
        if schema is not None:
            fields = list((schema.get("fields") or {}).keys())
        return namespace_obj(self._svc.create_namespace(name, fields))

    def delete_namespace(self, namespace: str) -> Obj:
        self._svc.delete_namespace(_ns_in(namespace))
        return Obj()

    def flush(self, optimize: bool = True) -> None:
        """Make everything written so far durable in segments with HNSW graphs, and wait for it.

        With `optimize` (the default) each namespace is also merged into one segment, so queries
        search a single graph: call it after a bulk load. Not needed for durability (the WAL is).
        """
        store = self._svc.store
        with progress.spinner(f"flush {self.name}", lambda: flush_status(store.stats())):
            store.flush(optimize)


DEFAULT_NAMESPACE_NAME = "__default__"


def flush_status(stats: StoreStats) -> str:
    segments = sum(n.segments for n in stats.namespaces)
    memtable = sum(n.memtable_rows for n in stats.namespaces)
    running = COUNTERS.snapshot().graph_builds_running
    return (
        f"{memtable} rows to seal, {segments} segments, {stats.graphs_pending} graphs to build"
        f"{f', {running} building' if running else ''}"
    )


def _ns_in(name: str) -> str:
    """The namespaces API names the default namespace `__default__`, as Pinecone's does."""
    return "" if name == DEFAULT_NAMESPACE_NAME else name

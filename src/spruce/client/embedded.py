"""The embedded Python client: the pinecone SDK's method names over an in-process engine.

    db = spruce.Client(path="./data")        # path=None keeps everything in memory
    db.create_index(name="movies", dimension=8, metric="cosine")
    index = db.Index("movies")
    index.upsert(vectors=[("A", [...], {"genre": "comedy"})], namespace="ns1")

Code moves between embedded and server by changing the constructor. Every method is thread-safe.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from spruce.client import progress
from spruce.client.backups import BackupMethods
from spruce.client.collection_backend import Backend, ServiceBackend
from spruce.client.collections_mixin import CollectionsMixin
from spruce.client.imports import ImportMethods
from spruce.client.inference import Inference
from spruce.client.records import ClientRecords, IndexRecords
from spruce.client.responses import (
    IndexList,
    IndexModel,
    Obj,
    match_obj,
    namespace_obj,
    stats_obj,
    vector_obj,
)
from spruce.config import EngineConfig, ImportConfig
from spruce.engine.stats import COUNTERS, StoreStats
from spruce.errors import InvalidArgumentError
from spruce.service.catalog import Catalog
from spruce.service.collections import CollectionService
from spruce.service.data import IndexService
from spruce.service.imports import ImportManager
from spruce.types import IndexInfo, Record, SparseVector


class Client(ClientRecords, BackupMethods, CollectionsMixin):
    """An embedded Spruce database. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        config: EngineConfig | None = None,
        imports: ImportConfig | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.catalog = Catalog(self.path, config or EngineConfig(), imports)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.catalog.close()

    @property
    def inference(self) -> Inference:
        return Inference(self.path)  # cheap: the models live in the process-wide registry

    # -- control plane ----------------------------------------------------------------------------
    def create_index(
        self,
        name: str,
        dimension: int | None = None,
        metric: str = "cosine",
        spec: Any = None,
        *,
        vector_type: str = "dense",
        deletion_protection: str = "disabled",
        tags: dict[str, str] | None = None,
        timeout: int | None = None,
    ) -> IndexModel:
        if vector_type == "sparse" and metric == "cosine":
            metric = "dotproduct"  # the SDK's default metric does not apply to sparse indexes
        cloud, region = _spec_location(spec)
        info = self.catalog.create_index(
            name,
            dimension=dimension,
            metric=metric,
            vector_type=vector_type,
            deletion_protection=deletion_protection,
            tags=tags,
            cloud=cloud,
            region=region,
        )
        return IndexModel.of(info, host=self._host(name))

    def describe_index(self, name: str) -> IndexModel:
        return self._model(self.catalog.describe_index(name))

    def list_indexes(self) -> IndexList:
        return IndexList(self._model(i) for i in self.catalog.list_indexes())

    def _model(self, info: IndexInfo) -> IndexModel:
        model = IndexModel.of(info, host=self._host(info.name))
        health = self.catalog.health(info.name)
        if not health.ready or health.reason:
            # An index whose files are damaged says so here, as the server's describe_index does.
            model["status"] = Obj(ready=health.ready, state=health.state, reason=health.reason)
        return model

    def has_index(self, name: str) -> bool:
        return self.catalog.has_index(name)

    def configure_index(
        self,
        name: str,
        *,
        deletion_protection: str | None = None,
        tags: dict[str, str] | None = None,
        embed: Any = None,
    ) -> IndexModel:
        spec = self._checked_embed(name, embed)  # before anything changes
        info = self.catalog.configure_index(name, deletion_protection=deletion_protection, tags=tags)
        if spec is not None:
            info = self.catalog.set_embed(name, spec)
        return IndexModel.of(info, host=self._host(name))

    def delete_index(self, name: str, timeout: int | None = None) -> None:
        self.catalog.delete_index(name)

    def Index(self, name: str = "", host: str = "") -> Index:
        if not name:
            raise InvalidArgumentError("Index() needs the index name in embedded mode")
        return Index(self.catalog.index(name), self.catalog.imports)

    index = Index

    def _host(self, name: str) -> str:
        return f"embedded://{name}"

    def _collection_backend(self) -> Backend:  # the Collection API (client/collection.py)
        return ServiceBackend(CollectionService(self.catalog))


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
        records = _to_records(vectors)
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
        vector: Sequence[float] | None,
        namespaces: Sequence[str],
        metric: str,
        top_k: int = 10,
        filter: Mapping[str, Any] | None = None,
        include_values: bool = False,
        include_metadata: bool = False,
        sparse_vector: Mapping[str, Any] | None = None,
    ) -> Obj:
        merged = []
        for ns in namespaces:
            res = self.query(
                top_k=top_k,
                vector=vector,
                namespace=ns,
                filter=filter,
                include_values=include_values,
                include_metadata=include_metadata,
                sparse_vector=sparse_vector,
            )
            for m in res.matches:
                m["namespace"] = ns
                merged.append(m)
        merged.sort(key=lambda m: m.score, reverse=metric != "euclidean")
        return Obj(matches=merged[:top_k], namespace="", usage=Obj(read_units=len(namespaces)))

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


def _to_records(vectors: Sequence[Any] | np.ndarray[Any, Any]) -> list[Record]:
    """The records of an upsert. Dicts of only id, values and metadata (what most callers send) are
    converted in one comprehension, without `_to_record`'s checks per record; any other batch goes
    record by record."""
    if isinstance(vectors, list) and all(
        type(v) is dict and "id" in v and v.keys() <= _SIMPLE_KEYS for v in vectors
    ):
        records = [Record(id=v["id"], values=v.get("values"), metadata=v.get("metadata")) for v in vectors]
        if not all(type(r.values) is np.ndarray and r.values.size for r in records):
            for rec in records:
                values = rec.values
                if isinstance(values, list | tuple | np.ndarray) and len(values) == 0:
                    rec.values = None  # sparse-only records send `values: []`
        return records
    return [_to_record(v, i) for i, v in enumerate(vectors)]


_SIMPLE_KEYS = frozenset({"id", "values", "metadata"})


def _to_record(v: Any, i: int) -> Record:
    """Accept the SDK's vector forms: dict, (id, values[, metadata]) tuple, or an object with .id."""
    if isinstance(v, Mapping):
        if "id" not in v:
            raise InvalidArgumentError(f"vectors[{i}] has no 'id'")
        values = v.get("values")
        sparse = v.get("sparse_values", v.get("sparseValues"))
        meta = v.get("metadata")
        rid = v["id"]
    elif isinstance(v, tuple):
        if len(v) == 2:
            rid, values = v
            meta = None
        elif len(v) == 3:
            rid, values, meta = v
        else:
            raise InvalidArgumentError(f"vectors[{i}]: tuples are (id, values) or (id, values, metadata)")
        sparse = None
    elif hasattr(v, "id"):
        rid, values = v.id, getattr(v, "values", None)
        sparse, meta = getattr(v, "sparse_values", None), getattr(v, "metadata", None)
    else:
        raise InvalidArgumentError(
            f"vectors[{i}] must be a dict, an (id, values[, metadata]) tuple or a Vector, "
            f"got {type(v).__name__}"
        )
    if sparse is not None and not isinstance(sparse, SparseVector | Mapping) and hasattr(sparse, "indices"):
        sparse = {"indices": sparse.indices, "values": sparse.values}
    if isinstance(values, list | tuple | np.ndarray) and len(values) == 0:
        values = None  # sparse-only records send `values: []`
    # Values stay as given: the service converts the whole batch to one float32 matrix at once.
    return Record(id=rid, values=values, sparse_values=sparse, metadata=meta)


def _spec_location(spec: Any) -> tuple[str, str]:
    if spec is None:
        return "aws", "us-east-1"
    if isinstance(spec, Mapping):
        inner = spec.get("serverless", spec)
        return str(inner.get("cloud", "aws")), str(inner.get("region", "us-east-1"))
    return str(getattr(spec, "cloud", "aws")), str(getattr(spec, "region", "us-east-1"))

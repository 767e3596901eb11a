"""Collections (Chroma / pyseekdb semantics) on the catalogue's indexes: validation and data operations.

A record of a collection is a record of its index's default namespace: the embedding is the vector,
the document is the metadata field `document` (DOCUMENT_FIELD), the user's metadata the other
fields. Inputs arrive already shaped as lists (the client layer accepts single values and numpy)
and already embedded: this layer never calls a model, so the embedded and the remote client share
every rule below, and every rule is checked before anything is written.

Chosen semantics (see README "Collections"): `add` of an existing id raises IDAlreadyExistsError
(pyseekdb; Chroma silently keeps the old record) and writes nothing; `upsert` and `update` merge
metadata (a key set to None is removed) and keep a document that is not given; `update` of an id that
does not exist raises RecordNotFoundError and writes nothing; `get` returns records in the order of
the given ids, else in id order (stable for limit/offset paging); `delete` returns how many records
it removed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spruce.engine.namespace import Namespace
from spruce.engine.predicate import IdIn, Node, RowPredicate, all_of
from spruce.engine.search import QuerySpec
from spruce.engine.store import Store
from spruce.errors import (
    CollectionNotFoundError,
    DimensionMismatchError,
    IDAlreadyExistsError,
    InvalidArgumentError,
    RecordNotFoundError,
)
from spruce.service import validation as v
from spruce.service.catalog import Catalog
from spruce.service.collection_registry import CollectionInfo, CollectionRegistry, registry_for
from spruce.service.collection_results import (
    flat_result,
    matches_result,
    merged_metadata,
    nested_result,
    stored_metadata,
)
from spruce.service.collection_rules import (
    DOCUMENT_FIELD,
    GET_INCLUDE,
    INCLUDE_ITEMS,
    NS,
    QUERY_INCLUDE,
    check_count,
    check_documents,
    check_ids,
    check_include,
    check_lengths,
    check_n_results,
    embedding_matrix,
    now,
    only_keys,
    query_matrix,
    rrf_params,
    user_metadata,
)
from spruce.service.collection_search import fuse, text_ranking
from spruce.service.data import IndexService
from spruce.service.where import parse_where, parse_where_document
from spruce.types import FloatArray, Match, Record

_BATCH = v.MAX_UPSERT_BATCH


def _put_batches(store: Store, records: list[Record], dense: FloatArray | None) -> None:
    """Write records in batches of the upsert limit (each one WAL frame); `dense` holds their values
    stacked, when the caller has them as one matrix."""
    for start in range(0, len(records), _BATCH):
        stop = start + _BATCH
        store.put(NS, records[start:stop], None if dense is None else dense[start:stop])


class CollectionService:
    """Every collection operation, by collection name; shared by the embedded and REST front ends."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.registry: CollectionRegistry = registry_for(catalog)

    # -- control ----------------------------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        dimension: int | None = None,
        metric: str = "cosine",
        metadata: dict[str, Any] | None = None,
        embedding_function: str | None = None,
        get_or_create: bool = False,
    ) -> CollectionInfo:
        if get_or_create:
            with self.registry.lock:
                try:
                    return self.registry.get(name)
                except CollectionNotFoundError:
                    pass
                return self.create(
                    name,
                    dimension=dimension,
                    metric=metric,
                    metadata=metadata,
                    embedding_function=embedding_function,
                )
        return self.registry.create(
            name,
            dimension=dimension,
            metric=metric,
            metadata=metadata,
            embedding_function=embedding_function,
            created_at=now(),
        )

    def info(self, name: str) -> CollectionInfo:
        return self.registry.get(name)

    def list_collections(self) -> list[CollectionInfo]:
        return self.registry.all()

    def delete_collection(self, name: str) -> None:
        self.registry.delete(name)

    def modify(
        self, name: str, new_name: str | None = None, metadata: dict[str, Any] | None = None
    ) -> CollectionInfo:
        return self.registry.modify(name, new_name, metadata)

    def _index(self, info: CollectionInfo) -> IndexService | None:
        return self.catalog.index(info.index) if info.index_created else None

    # -- writes -----------------------------------------------------------------------------------
    def _ready(self, info: CollectionInfo, dim: int) -> IndexService:
        if not info.index_created:
            info = self.registry.ensure_index(info.name, dim)
            if info.dimension != dim:
                raise DimensionMismatchError(
                    f"collection expecting embedding with dimension of {info.dimension}, got {dim}"
                )
        svc = self._index(info)
        assert svc is not None
        return svc

    def _prepare_write(
        self,
        op: str,
        name: str,
        ids: Sequence[str] | None,
        embeddings: object,
        metadatas: Sequence[Any] | None,
        documents: Sequence[Any] | None,
    ) -> tuple[CollectionInfo, list[str], list[str | None] | None, FloatArray, list[Any], IndexService]:
        """What add and upsert check before writing: (collection, ids, documents, embeddings matrix,
        user metadata, the collection's index). Add refuses None documents and None metadata values;
        upsert allows them (they clear the stored value)."""
        info = self.registry.lookup(name)
        checked_ids = check_ids(ids, op)
        n = len(checked_ids)
        check_lengths(op, n, metadatas=metadatas, documents=documents)
        allow_none = op != "add"
        docs = check_documents(documents, op, allow_none=allow_none)
        if embeddings is None:
            raise InvalidArgumentError(
                f"{op} needs embeddings or documents; documents without embeddings need an embedding function"
            )
        mat = embedding_matrix(info.dimension, embeddings, n, op)
        metas = [
            user_metadata(m, f"metadatas[{i}]", allow_none_values=allow_none)
            for i, m in enumerate(metadatas or [None] * n)
        ]
        return info, checked_ids, docs, mat, metas, self._ready(info, mat.shape[1])

    def add(
        self,
        name: str,
        ids: Sequence[str] | None = None,
        embeddings: object = None,
        metadatas: Sequence[Any] | None = None,
        documents: Sequence[Any] | None = None,
    ) -> None:
        info, ids, docs, mat, metas, svc = self._prepare_write(
            "add", name, ids, embeddings, metadatas, documents
        )
        records = [
            Record(rid, mat[i], None, stored_metadata(metas[i], docs[i] if docs else None))
            for i, rid in enumerate(ids)
        ]
        store = svc.store
        # Under the store lock (reentrant), so no other writer adds one of these ids in between.
        with store.lock:
            existing = store.with_namespace(
                NS, lambda ns: [] if ns is None else [r for r in ids if r in ns.locations]
            )
            if existing:
                shown = ", ".join(existing[:10])
                raise IDAlreadyExistsError(
                    f"ids already exist in collection {info.name!r}: {shown}; use upsert to overwrite them"
                )
            _put_batches(store, records, mat)

    def upsert(
        self,
        name: str,
        ids: Sequence[str] | None = None,
        embeddings: object = None,
        metadatas: Sequence[Any] | None = None,
        documents: Sequence[Any] | None = None,
    ) -> None:
        _, ids, docs, mat, metas, svc = self._prepare_write(
            "upsert", name, ids, embeddings, metadatas, documents
        )
        store = svc.store
        with store.lock:

            def merged(ns: Namespace | None) -> list[Record]:
                out = []
                for i, rid in enumerate(ids):
                    old = ns.get(rid, values=False) if ns is not None else None
                    doc = docs[i] if docs is not None else None
                    out.append(Record(rid, mat[i], None, merged_metadata(old, metas[i], doc)))
                return out

            _put_batches(store, store.with_namespace(NS, merged), mat)

    def update(
        self,
        name: str,
        ids: Sequence[str] | None = None,
        embeddings: object = None,
        metadatas: Sequence[Any] | None = None,
        documents: Sequence[Any] | None = None,
    ) -> None:
        info = self.registry.lookup(name)
        ids = check_ids(ids, "update")
        n = len(ids)
        check_lengths("update", n, metadatas=metadatas, documents=documents)
        docs = check_documents(documents, "update", allow_none=True)
        mat = embedding_matrix(info.dimension, embeddings, n, "update") if embeddings is not None else None
        metas = [
            user_metadata(m, f"metadatas[{i}]", allow_none_values=True)
            for i, m in enumerate(metadatas or [None] * n)
        ]
        svc = self._index(info)
        if svc is None:
            raise RecordNotFoundError(f"ids not found in collection {info.name!r}: {', '.join(ids[:10])}")
        store = svc.store
        with store.lock:

            def changed(ns: Namespace | None) -> list[Record]:
                missing = [r for r in ids if ns is None or r not in ns.locations]
                if missing:
                    raise RecordNotFoundError(
                        f"ids not found in collection {info.name!r}: {', '.join(missing[:10])}; "
                        "use upsert to create records"
                    )
                assert ns is not None
                out = []
                for i, rid in enumerate(ids):
                    old = ns.get(rid)
                    assert old is not None
                    values = mat[i] if mat is not None else old.values
                    doc = docs[i] if docs is not None else None
                    out.append(Record(rid, values, None, merged_metadata(old, metas[i], doc)))
                return out

            _put_batches(store, store.with_namespace(NS, changed), None)

    def delete(
        self, name: str, ids: Sequence[str] | None = None, where: object = None, where_document: object = None
    ) -> int:
        info = self.registry.lookup(name)
        if ids is None and not where and not where_document:
            raise InvalidArgumentError("delete needs at least one of ids, where, or where_document")
        id_list = check_ids(ids, "delete", allow_empty=True) if ids is not None else None
        pred = self._predicate(where, where_document, None)
        svc = self._index(info)
        if svc is None or id_list == []:
            return 0
        store = svc.store
        with store.lock:

            def chosen(ns: Namespace | None) -> list[str]:
                if ns is None:
                    return []
                if id_list is not None:
                    present = [r for r in id_list if r in ns.locations]
                    if pred is None:
                        return present
                    keep = set(present)
                    return [b.ids[r] for b, r in ns.matching(pred) if b.ids[r] in keep]
                return [b.ids[r] for b, r in ns.matching(pred)]

            gone: list[str] = store.with_namespace(NS, chosen)
            for start in range(0, len(gone), v.MAX_FETCH_IDS):
                store.delete(NS, gone[start : start + v.MAX_FETCH_IDS])
        return len(gone)

    # -- reads ------------------------------------------------------------------------------------
    def _predicate(
        self, where: object, where_document: object, ids: Sequence[str] | None
    ) -> RowPredicate | None:
        nodes: list[Node | None] = [parse_where(where), parse_where_document(where_document, DOCUMENT_FIELD)]
        if ids is not None:
            nodes.append(IdIn(frozenset(ids)))
        root = all_of(nodes)
        return None if root is None else RowPredicate(root)

    def count(self, name: str) -> int:
        svc = self._index(self.registry.lookup(name))
        return 0 if svc is None else svc.store.namespace_count(NS) or 0

    def get(
        self,
        name: str,
        ids: Sequence[str] | None = None,
        where: object = None,
        where_document: object = None,
        limit: int | None = None,
        offset: int | None = None,
        include: Sequence[str] = GET_INCLUDE,
    ) -> dict[str, Any]:
        info = self.registry.lookup(name)
        inc = check_include(include, ("documents", "embeddings", "metadatas", "uris", "data"), "get")
        id_list = check_ids(ids, "get", allow_empty=True) if ids is not None else None
        if limit is not None:
            check_count(limit, "limit", 0)
        off = check_count(offset, "offset", 0) if offset is not None else 0
        pred = self._predicate(where, where_document, None)
        svc = self._index(info)
        want_values = "embeddings" in inc

        def page(ns: Namespace | None) -> list[Record]:
            if ns is None:
                return []
            if id_list is not None:
                locs = [ns.locations.get(r) for r in id_list]
                found = [loc for loc in locs if loc is not None]
                if pred is not None:
                    allowed = {(b.block_id, r) for b, r in ns.matching(pred)}
                    found = [(b, r) for b, r in found if (b.block_id, r) in allowed]
            elif pred is None:
                found = [ns.locations[r] for r in ns.sorted_ids()]
            else:
                found = sorted(ns.matching(pred), key=lambda br: br[0].ids[br[1]])
            end = None if limit is None else off + limit
            return [b.record(r, values=want_values) for b, r in found[off:end]]

        records: list[Record] = [] if svc is None else svc.store.with_namespace(NS, page)
        return flat_result(records, inc)

    def query(
        self,
        name: str,
        query_embeddings: object = None,
        n_results: int = 10,
        where: object = None,
        where_document: object = None,
        include: Sequence[str] = QUERY_INCLUDE,
        ids: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        info = self.registry.lookup(name)
        inc = check_include(include, INCLUDE_ITEMS[:4], "query")
        k = check_n_results(n_results)
        if query_embeddings is None:
            raise InvalidArgumentError("query needs query_embeddings or query_texts")
        id_list = check_ids(ids, "query", allow_empty=True) if ids is not None else None
        pred = self._predicate(where, where_document, id_list)
        svc = self._index(info)
        mat = query_matrix(info.dimension, query_embeddings)
        want_meta = "metadatas" in inc or "documents" in inc
        per_query: list[list[Match]] = []
        for q in mat:
            if svc is None:
                per_query.append([])
                continue
            spec = QuerySpec(
                metric=info.engine_metric,
                top_k=k,
                dense=np.ascontiguousarray(q),
                sparse=None,
                ef_search=svc.config.hnsw_ef_search,
                exact_max_rows=svc.config.exact_filter_max_rows,
            )
            per_query.append(svc.store.query(NS, spec, pred, "embeddings" in inc, want_meta))
        return matches_result(per_query, info.engine_metric, inc)

    def hybrid_search(
        self,
        name: str,
        query: Mapping[str, Any] | None = None,
        knn: Mapping[str, Any] | None = None,
        rank: Mapping[str, Any] | None = None,
        n_results: int = 10,
        include: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """pyseekdb's hybrid search: full-text BM25 (`query`) and/or vector (`knn`, with
        `query_embeddings`), fused by reciprocal rank (`rank={"rrf": {...}}`). The `distances` key
        holds the fused score (higher is better) as pyseekdb's does; a knn-only search gives distances."""
        info = self.registry.lookup(name)
        k = check_n_results(n_results)
        inc = check_include(
            include if include is not None else ["documents", "metadatas"], INCLUDE_ITEMS[:4], "hybrid_search"
        )
        if "distances" not in inc:
            inc.append("distances")  # pyseekdb always returns them (the fused score here)
        if query is None and knn is None:
            raise InvalidArgumentError("hybrid_search needs query (full text), knn (vector), or both")
        rrf = rrf_params(rank)
        lists: list[list[tuple[str, float]]] = []
        window = rrf[0] if rrf else k
        if query is not None:
            if not isinstance(query, Mapping):
                raise InvalidArgumentError("hybrid_search query must be an object")
            only_keys(query, ("where_document", "where", "n_results"), "hybrid_search query")
            qk = check_n_results(query.get("n_results", window))
            pred = self._predicate(query.get("where"), query.get("where_document"), None)
            lists.append(text_ranking(self._index(info), pred, query.get("where_document"), qk))
        if knn is not None:
            if not isinstance(knn, Mapping):
                raise InvalidArgumentError("hybrid_search knn must be an object")
            only_keys(knn, ("query_embeddings", "where", "n_results"), "hybrid_search knn")
            kk = check_n_results(knn.get("n_results", window))
            emb = knn.get("query_embeddings")
            if emb is None:
                raise InvalidArgumentError("hybrid_search knn needs query_embeddings or query_texts")
            arr = np.asarray(emb, dtype=np.float32)
            if arr.ndim == 1:
                arr = arr[None, :]
            res = self.query(info.name, arr[:1].tolist(), kk, knn.get("where"), None, ["distances"])
            lists.append(list(zip(res["ids"][0], res["distances"][0], strict=True)))
        fused = fuse(lists, k, rrf)
        svc = self._index(info)
        found = {} if svc is None else svc.store.fetch(NS, [rid for rid, _ in fused])
        rows = [[(found[rid], score) for rid, score in fused if rid in found]]
        return nested_result(rows, inc)

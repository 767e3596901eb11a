"""Collections (Chroma / pyseekdb semantics) on the catalogue's indexes: each operation, checked first.

A record of a collection is a record of its index's default namespace: the embedding is the vector,
the document is the metadata field `document` (DOCUMENT_FIELD), the user's metadata the other
fields. Inputs arrive already shaped as lists (the client layer accepts single values and numpy)
and already embedded: this layer never calls a model, so the embedded and the remote client share
every rule below, and every rule is checked before anything is written. What an operation then
does in the index's store is `collection_store`'s: this module never touches the engine.

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

from spruce.errors import (
    CollectionNotFoundError,
    DimensionMismatchError,
    InvalidArgumentError,
    RecordNotFoundError,
)
from spruce.service.catalog import Catalog
from spruce.service.collection_registry import CollectionInfo, CollectionRegistry, registry_for
from spruce.service.collection_results import flat_result, matches_result, nested_result, stored_metadata
from spruce.service.collection_rules import (
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
from spruce.service.collection_store import (
    add_new,
    delete_chosen,
    nearest,
    records_page,
    row_predicate,
    update_existing,
    upsert_merged,
)
from spruce.service.data import IndexService
from spruce.types import FloatArray, Match, Record


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
        add_new(svc.store, info.name, ids, records, mat)

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
        upsert_merged(svc.store, ids, docs, mat, metas)

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
        update_existing(svc.store, info.name, ids, docs, mat, metas)

    def delete(
        self, name: str, ids: Sequence[str] | None = None, where: object = None, where_document: object = None
    ) -> int:
        info = self.registry.lookup(name)
        if ids is None and not where and not where_document:
            raise InvalidArgumentError("delete needs at least one of ids, where, or where_document")
        id_list = check_ids(ids, "delete", allow_empty=True) if ids is not None else None
        pred = row_predicate(where, where_document, None)
        svc = self._index(info)
        if svc is None or id_list == []:
            return 0
        return delete_chosen(svc.store, id_list, pred)

    # -- reads ------------------------------------------------------------------------------------
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
        pred = row_predicate(where, where_document, None)
        svc = self._index(info)
        records = (
            [] if svc is None else records_page(svc.store, id_list, pred, off, limit, "embeddings" in inc)
        )
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
        pred = row_predicate(where, where_document, id_list)
        svc = self._index(info)
        mat = query_matrix(info.dimension, query_embeddings)
        want_meta = "metadatas" in inc or "documents" in inc
        per_query: list[list[Match]] = []
        for q in mat:
            if svc is None:
                per_query.append([])
                continue
            per_query.append(nearest(svc, info.engine_metric, q, k, pred, "embeddings" in inc, want_meta))
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
            pred = row_predicate(query.get("where"), query.get("where_document"), None)
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

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

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from spruce.engine.fulltext import bm25_scores, text_index, tokenize
from spruce.engine.namespace import Namespace
from spruce.engine.predicate import IdIn, Node, RowPredicate, all_of
from spruce.engine.search import QuerySpec
from spruce.engine.store import Store
from spruce.errors import (
    CollectionNotFoundError,
    DimensionMismatchError,
    DuplicateIDError,
    IDAlreadyExistsError,
    InvalidArgumentError,
    RecordNotFoundError,
)
from spruce.service import validation as v
from spruce.service.catalog import Catalog
from spruce.service.collection_registry import CollectionInfo, CollectionRegistry, registry_for
from spruce.service.data import IndexService
from spruce.service.where import contains_terms, parse_where, parse_where_document
from spruce.types import FloatArray, Match, Metadata, Record

DOCUMENT_FIELD = "document"
NS = ""
INCLUDE_ITEMS = ("documents", "embeddings", "metadatas", "distances", "uris", "data")
GET_INCLUDE = ["metadatas", "documents"]
QUERY_INCLUDE = ["metadatas", "documents", "distances"]
_BATCH = v.MAX_UPSERT_BATCH


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- argument checks ---------------------------------------------------------------------------------
def check_ids(ids: object, op: str, *, allow_empty: bool = False) -> list[str]:
    if not isinstance(ids, list | tuple):
        raise InvalidArgumentError(f"ids must be a string or a list of strings in {op}")
    if not ids and not allow_empty:
        raise InvalidArgumentError(f"expected ids to be a non-empty list in {op}")
    seen: set[str] = set()
    dups: list[str] = []
    for rid in ids:
        if not isinstance(rid, str):
            raise InvalidArgumentError(
                f"expected every id to be a str, got {rid!r} ({type(rid).__name__}) in {op}"
            )
        if not rid:
            raise InvalidArgumentError(f"ids must not be empty strings in {op}")
        v.check_id(rid)
        if rid in seen:
            dups.append(rid)
        seen.add(rid)
    if dups:
        shown = ", ".join(dict.fromkeys(dups[:10]))
        raise DuplicateIDError(f"expected ids to be unique, found duplicates of: {shown} in {op}")
    return list(ids)


def _check_lengths(op: str, n: int, **fields: Sequence[Any] | None) -> None:
    bad = {k: len(val) for k, val in fields.items() if val is not None and len(val) != n}
    if bad:
        parts = ", ".join(f"{k}: {m}" for k, m in {"ids": n, **bad}.items())
        raise InvalidArgumentError(f"unequal lengths for fields: {parts} in {op}")


def check_include(include: object, allowed: Sequence[str], op: str) -> list[str]:
    if not isinstance(include, list | tuple) or not all(isinstance(i, str) for i in include):
        raise InvalidArgumentError(f"include must be a list of strings in {op}")
    for item in include:
        if item not in INCLUDE_ITEMS:
            raise InvalidArgumentError(
                f"unknown include item {item!r} in {op}; allowed: {', '.join(allowed)}"
            )
        if item not in allowed:
            raise InvalidArgumentError(
                f"include item {item!r} is not allowed in {op}; allowed: {', '.join(allowed)}"
            )
    return list(dict.fromkeys(include))


def check_n_results(n_results: object) -> int:
    if isinstance(n_results, bool) or not isinstance(n_results, int) or n_results <= 0:
        raise InvalidArgumentError(f"n_results must be a positive integer, got {n_results!r}")
    if n_results > v.MAX_TOP_K:
        raise InvalidArgumentError(f"n_results is {n_results}; at most {v.MAX_TOP_K}")
    return n_results


def _check_count(value: object, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgumentError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def _user_metadata(raw: object, what: str, *, allow_none_values: bool) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidArgumentError(f"{what} must be an object, got {type(raw).__name__}")
    if DOCUMENT_FIELD in raw:
        raise InvalidArgumentError(
            f"{what} uses the key {DOCUMENT_FIELD!r}, which holds the record's document; "
            "pass it as documents="
        )
    deletes = {k: None for k, val in raw.items() if val is None} if allow_none_values else {}
    kept = {k: val for k, val in raw.items() if k not in deletes}
    out: dict[str, Any] = dict(v.metadata(kept, what) or {})
    out.update(deletes)
    return out


def _put_batches(store: Store, records: list[Record], dense: FloatArray | None) -> None:
    """Write records in batches of the upsert limit (each one WAL frame); `dense` holds their values
    stacked, when the caller has them as one matrix."""
    for start in range(0, len(records), _BATCH):
        stop = start + _BATCH
        store.put(NS, records[start:stop], None if dense is None else dense[start:stop])


def _check_documents(documents: object, op: str, *, allow_none: bool) -> list[str | None] | None:
    if documents is None:
        return None
    if not isinstance(documents, list | tuple):
        raise InvalidArgumentError(f"documents must be a string or a list of strings in {op}")
    for d in documents:
        if not (isinstance(d, str) or (allow_none and d is None)):
            raise InvalidArgumentError(f"expected every document to be a str, got {type(d).__name__} in {op}")
    return list(documents)


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
    def _matrix(
        self, info: CollectionInfo, embeddings: object, n: int, op: str
    ) -> tuple[CollectionInfo, FloatArray]:
        try:
            mat = np.asarray(embeddings, dtype=np.float32)
        except (TypeError, ValueError):
            raise InvalidArgumentError(f"embeddings must be lists of numbers in {op}") from None
        if mat.ndim != 2:
            raise InvalidArgumentError(f"embeddings must be a list of equal-length number lists in {op}")
        if len(mat) != n:
            raise InvalidArgumentError(
                f"unequal lengths for fields: ids: {n}, embeddings: {len(mat)} in {op}"
            )
        if not np.isfinite(mat).all():
            raise InvalidArgumentError(f"embeddings contain NaN or infinity in {op}")
        dim = mat.shape[1]
        if info.dimension is not None and dim != info.dimension:
            raise DimensionMismatchError(
                f"collection expecting embedding with dimension of {info.dimension}, got {dim} in {op}"
            )
        if dim == 0:
            raise InvalidArgumentError(f"embeddings must not be empty in {op}")
        if info.dimension is None:
            v.check_dimension(dim)
        return info, mat

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
        _check_lengths(op, n, metadatas=metadatas, documents=documents)
        allow_none = op != "add"
        docs = _check_documents(documents, op, allow_none=allow_none)
        if embeddings is None:
            raise InvalidArgumentError(
                f"{op} needs embeddings or documents; documents without embeddings need an embedding function"
            )
        info, mat = self._matrix(info, embeddings, n, op)
        metas = [
            _user_metadata(m, f"metadatas[{i}]", allow_none_values=allow_none)
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
            Record(rid, mat[i], None, _stored_metadata(metas[i], docs[i] if docs else None))
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
                    out.append(Record(rid, mat[i], None, _merge(old, metas[i], doc)))
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
        _check_lengths("update", n, metadatas=metadatas, documents=documents)
        docs = _check_documents(documents, "update", allow_none=True)
        mat = self._matrix(info, embeddings, n, "update")[1] if embeddings is not None else None
        metas = [
            _user_metadata(m, f"metadatas[{i}]", allow_none_values=True)
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
                    out.append(Record(rid, values, None, _merge(old, metas[i], doc)))
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
            _check_count(limit, "limit", 0)
        off = _check_count(offset, "offset", 0) if offset is not None else 0
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
        return _flat_result(records, inc)

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
        try:
            mat = np.asarray(query_embeddings, dtype=np.float32)
        except (TypeError, ValueError):
            raise InvalidArgumentError("query_embeddings must be lists of numbers") from None
        if mat.ndim != 2 or len(mat) == 0:
            raise InvalidArgumentError(
                "query_embeddings must be a non-empty list of equal-length number lists"
            )
        if info.dimension is not None and mat.shape[1] != info.dimension:
            raise DimensionMismatchError(
                f"collection expecting embedding with dimension of {info.dimension}, "
                f"got {mat.shape[1]} in query"
            )
        if not np.isfinite(mat).all():
            raise InvalidArgumentError("query_embeddings contain NaN or infinity")
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
        return _matches_result(per_query, info.engine_metric, inc)

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
        rrf = _rrf_params(rank)
        lists: list[list[tuple[str, float]]] = []
        window = rrf[0] if rrf else k
        if query is not None:
            if not isinstance(query, Mapping):
                raise InvalidArgumentError("hybrid_search query must be an object")
            _only_keys(query, ("where_document", "where", "n_results"), "hybrid_search query")
            qk = check_n_results(query.get("n_results", window))
            lists.append(self._text_ranking(info, query.get("where"), query.get("where_document"), qk))
        if knn is not None:
            if not isinstance(knn, Mapping):
                raise InvalidArgumentError("hybrid_search knn must be an object")
            _only_keys(knn, ("query_embeddings", "where", "n_results"), "hybrid_search knn")
            kk = check_n_results(knn.get("n_results", window))
            emb = knn.get("query_embeddings")
            if emb is None:
                raise InvalidArgumentError("hybrid_search knn needs query_embeddings or query_texts")
            arr = np.asarray(emb, dtype=np.float32)
            if arr.ndim == 1:
                arr = arr[None, :]
            res = self.query(info.name, arr[:1].tolist(), kk, knn.get("where"), None, ["distances"])
            lists.append(list(zip(res["ids"][0], res["distances"][0], strict=True)))
        if len(lists) == 1 and rrf is None:
            fused = lists[0][:k]
        else:
            constant = rrf[1] if rrf else 60
            scores: dict[str, float] = {}
            for ranking in lists:
                for pos, (rid, _) in enumerate(ranking, 1):
                    scores[rid] = scores.get(rid, 0.0) + 1.0 / (constant + pos)
            fused = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
        svc = self._index(info)
        found = {} if svc is None else svc.store.fetch(NS, [rid for rid, _ in fused])
        rows = [[(found[rid], score) for rid, score in fused if rid in found]]
        return _nested_result(rows, inc)

    def _text_ranking(
        self, info: CollectionInfo, where: object, where_document: object, k: int
    ) -> list[tuple[str, float]]:
        pred = self._predicate(where, where_document, None)
        terms = [t for s in contains_terms(where_document) for t in tokenize(s)]
        svc = self._index(info)
        if svc is None:
            return []

        def ranked(ns: Namespace | None) -> list[tuple[str, float]]:
            if ns is None:
                return []
            parts, blocks = [], []
            for block in ns.blocks():
                n = block.n
                if n == 0 or block.live_count == 0:
                    continue
                allowed = block.alive[:n] & block.filter_mask(pred, n)
                parts.append((text_index(block, DOCUMENT_FIELD, n), allowed))
                blocks.append((block, allowed))
            out: list[tuple[str, float]] = []
            if terms:
                for (block, _), (rows, scores) in zip(blocks, bm25_scores(parts, terms), strict=True):
                    out.extend(
                        (block.ids[r], float(s)) for r, s in zip(rows.tolist(), scores.tolist(), strict=True)
                    )
            else:  # no words to score (e.g. only $regex): every matching record, score 0
                for block, allowed in blocks:
                    out.extend((block.ids[r], 0.0) for r in np.flatnonzero(allowed).tolist())
            out.sort(key=lambda t: (-t[1], t[0]))
            return out[:k]

        result: list[tuple[str, float]] = svc.store.with_namespace(NS, ranked)
        return result


# -- helpers ------------------------------------------------------------------------------------------
def _stored_metadata(user: Mapping[str, Any] | None, document: str | None) -> Metadata | None:
    if document is None:
        return dict(user) if user else None
    out: dict[str, Any] = dict(user) if user else {}
    out[DOCUMENT_FIELD] = document
    return out


def _merge(old: Record | None, new_user: Mapping[str, Any] | None, document: str | None) -> Metadata | None:
    base: dict[str, Any] = dict(old.metadata or {}) if old is not None else {}
    if new_user:
        for key, value in new_user.items():
            if value is None:
                base.pop(key, None)
            else:
                base[key] = value
    if document is not None:
        base[DOCUMENT_FIELD] = document
    return base or None


def split_metadata(meta: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    if not meta:
        return None, None
    if DOCUMENT_FIELD not in meta:
        return dict(meta), None
    user = dict(meta)
    doc = user.pop(DOCUMENT_FIELD)
    return (user or None), (doc if isinstance(doc, str) else None)


def _fields(records: Sequence[Record], inc: Sequence[str]) -> dict[str, Any]:
    split = [split_metadata(r.metadata) for r in records]
    return {
        "ids": [r.id for r in records],
        "embeddings": [np.asarray(r.values).tolist() for r in records] if "embeddings" in inc else None,
        "documents": [d for _, d in split] if "documents" in inc else None,
        "metadatas": [m for m, _ in split] if "metadatas" in inc else None,
        "uris": [None] * len(records) if "uris" in inc else None,
        "data": [None] * len(records) if "data" in inc else None,
    }


def _flat_result(records: Sequence[Record], inc: Sequence[str]) -> dict[str, Any]:
    return {**_fields(records, inc), "included": list(inc)}


def _nested_result(rows: Sequence[Sequence[tuple[Record, float]]], inc: Sequence[str]) -> dict[str, Any]:
    per = [_fields([r for r, _ in row], inc) for row in rows]
    out: dict[str, Any] = {"ids": [p["ids"] for p in per]}
    for key in ("embeddings", "documents", "metadatas", "uris", "data"):
        out[key] = [p[key] for p in per] if key in inc else None
    out["distances"] = [[float(d) for _, d in row] for row in rows] if "distances" in inc else None
    out["included"] = list(inc)
    return out


def _matches_result(per_query: Sequence[Sequence[Match]], metric: str, inc: Sequence[str]) -> dict[str, Any]:
    """Query results straight from the engine's matches (their metadata dicts are fresh copies)."""
    docs: list[list[str | None]] = []
    metas: list[list[dict[str, Any] | None]] = []
    if "documents" in inc or "metadatas" in inc:
        for matches in per_query:
            d_row: list[str | None] = []
            m_row: list[dict[str, Any] | None] = []
            for m in matches:
                meta = m.metadata
                doc = meta.pop(DOCUMENT_FIELD, None) if meta else None
                d_row.append(doc if isinstance(doc, str) else None)
                m_row.append(meta or None)
            docs.append(d_row)
            metas.append(m_row)
    euclidean = metric == "euclidean"
    return {
        "ids": [[m.id for m in matches] for matches in per_query],
        "embeddings": [[np.asarray(m.values).tolist() for m in ms] for ms in per_query]
        if "embeddings" in inc
        else None,
        "documents": docs if "documents" in inc else None,
        "metadatas": metas if "metadatas" in inc else None,
        "uris": [[None] * len(ms) for ms in per_query] if "uris" in inc else None,
        "data": [[None] * len(ms) for ms in per_query] if "data" in inc else None,
        "distances": [[float(m.score) if euclidean else 1.0 - float(m.score) for m in ms] for ms in per_query]
        if "distances" in inc
        else None,
        "included": list(inc),
    }


def _only_keys(obj: Mapping[str, Any], allowed: Sequence[str], what: str) -> None:
    for key in obj:
        if key not in allowed:
            raise InvalidArgumentError(f"unknown key {key!r} in {what}; allowed: {', '.join(allowed)}")


def _rrf_params(rank: Mapping[str, Any] | None) -> tuple[int, float] | None:
    if rank is None:
        return None
    if not isinstance(rank, Mapping) or set(rank) != {"rrf"}:
        raise InvalidArgumentError('rank must be {"rrf": {"rank_window_size": int, "rank_constant": int}}')
    params = rank["rrf"] or {}
    if not isinstance(params, Mapping):
        raise InvalidArgumentError("rank rrf parameters must be an object")
    _only_keys(params, ("rank_window_size", "rank_constant"), "rank rrf")
    window = _check_count(params.get("rank_window_size", 60), "rank_window_size", 1)
    constant = params.get("rank_constant", 60)
    if (
        isinstance(constant, bool)
        or not isinstance(constant, int | float)
        or not math.isfinite(constant)
        or constant < 0
    ):
        raise InvalidArgumentError(f"rank_constant must be a number >= 0, got {constant!r}")
    return min(window, v.MAX_TOP_K), float(constant)

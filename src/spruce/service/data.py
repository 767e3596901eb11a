"""The data plane of one index: validation, paging tokens and Pinecone semantics over the engine."""

from __future__ import annotations

import base64
import binascii
import bisect
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from spruce.config import EngineConfig
from spruce.engine.filter import parse_filter
from spruce.engine.namespace import Namespace
from spruce.engine.search import QuerySpec
from spruce.engine.store import Store
from spruce.errors import AlreadyExistsError, InvalidArgumentError, NamespaceNotFoundError
from spruce.service import validation as v
from spruce.types import FloatArray, IndexInfo, IndexStats, Match, NamespaceInfo, Page, Record, SparseVector


def encode_token(last: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"after": last})).decode().rstrip("=")


def decode_token(token: str | None) -> str | None:
    if token is None or token == "":
        return None
    if not isinstance(token, str):
        raise InvalidArgumentError("pagination_token must be a string")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        after = orjson.loads(raw)["after"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidArgumentError(
            f"invalid pagination_token {token[:40]!r}: pass a token from a previous page"
        ) from None
    if not isinstance(after, str):
        raise InvalidArgumentError("invalid pagination_token: pass a token from a previous page")
    return after


class IndexService:
    def __init__(self, info: IndexInfo, store: Store, config: EngineConfig) -> None:
        self.info = info
        self.store = store
        self.config = config
        self._dimension = info.dimension or 0

    # -- writes -----------------------------------------------------------------------------------
    def upsert(self, records: Sequence[Record], namespace: str = "") -> int:
        v.check_namespace(namespace)
        if len(records) > v.MAX_UPSERT_BATCH:
            raise InvalidArgumentError(
                f"upsert of {len(records)} records; at most {v.MAX_UPSERT_BATCH} records per request "
                "(split the batch, e.g. with batch_size=)"
            )
        for i, rec in enumerate(records):
            if rec.sparse_values is not None:
                rec.sparse_values = v.sparse_vector(rec.sparse_values, f"vectors[{i}].sparse_values")
        v.check_records(records, self._dimension, self.info.vector_type)
        dense = v.dense_matrix(records, self._dimension) if self._dimension else None
        if not self._dimension:
            for rec in records:
                rec.values = None
        for i, rec in enumerate(records):
            if rec.metadata is not None:
                rec.metadata = _metadata_at(rec.metadata, i)
        if len({rec.id for rec in records}) == len(records):
            self.store.put(namespace, records, dense)
        else:
            # The last of duplicate ids in one batch wins, as a sequence of upserts would.
            self.store.put(namespace, list({rec.id: rec for rec in records}.values()))
        return len(records)

    def update(
        self,
        *,
        namespace: str = "",
        id: str | None = None,
        values: Any = None,
        sparse_values: Any = None,
        set_metadata: Mapping[str, Any] | None = None,
        filter: Any = None,
        dry_run: bool = False,
    ) -> int:
        v.check_namespace(namespace)
        if (id is None) == (filter is None):
            raise InvalidArgumentError("update needs exactly one of id or filter")
        new_meta = v.metadata(set_metadata, "set_metadata") if set_metadata is not None else None
        if id is not None:
            v.check_id(id)
            dense = (
                v.dense_vector(values, self._dimension) if values is not None and self._dimension else None
            )
            if values is not None and not self._dimension and len(values):
                raise InvalidArgumentError("values given for a sparse index; use sparse_values")
            sparse = v.sparse_vector(sparse_values) if sparse_values is not None else None

            def by_id(ns: Namespace) -> list[Record]:
                rec = ns.get(id)
                if rec is None:
                    return []  # update of a missing id changes nothing and is not an error
                if dense is not None:
                    rec.values = dense
                if sparse is not None:
                    rec.sparse_values = sparse
                if new_meta:
                    rec.metadata = {**(rec.metadata or {}), **new_meta}
                return [rec]

            return self.store.read_modify_write(namespace, by_id, dry_run=dry_run)
        if values is not None or sparse_values is not None:
            raise InvalidArgumentError("update by filter can only set metadata, not values or sparse_values")
        flt = parse_filter(filter)
        if flt is None:
            raise InvalidArgumentError("update by filter needs a non-empty filter")

        def by_filter(ns: Namespace) -> list[Record]:
            out = []
            for block, row in ns.matching(flt):
                rec = block.record(row)
                if new_meta:
                    rec.metadata = {**(rec.metadata or {}), **new_meta}
                out.append(rec)
            return out

        return self.store.read_modify_write(namespace, by_filter, dry_run=dry_run)

    def delete(
        self,
        *,
        namespace: str = "",
        ids: Sequence[str] | None = None,
        delete_all: bool = False,
        filter: Any = None,
    ) -> None:
        v.check_namespace(namespace)
        given = sum([ids is not None, bool(delete_all), filter is not None])
        if given != 1:
            raise InvalidArgumentError("delete needs exactly one of ids, delete_all or filter")
        if ids is not None:
            if len(ids) > v.MAX_FETCH_IDS:
                raise InvalidArgumentError(f"delete of {len(ids)} ids; at most {v.MAX_FETCH_IDS} per request")
            for rid in ids:
                v.check_id(rid)
            self.store.delete(namespace, list(ids))
        elif delete_all:
            if self.store.has_namespace(namespace):
                self.store.drop_namespace(namespace)
        else:
            flt = parse_filter(filter)
            if flt is None:
                raise InvalidArgumentError("delete by filter needs a non-empty filter")
            self.store.delete_matching(namespace, flt)

    # -- reads ------------------------------------------------------------------------------------
    def fetch(self, ids: Sequence[str], namespace: str = "") -> dict[str, Record]:
        v.check_namespace(namespace)
        if len(ids) > v.MAX_FETCH_IDS:
            raise InvalidArgumentError(f"fetch of {len(ids)} ids; at most {v.MAX_FETCH_IDS} per request")
        for rid in ids:
            v.check_id(rid)
        return self.store.fetch(namespace, ids)

    def query(
        self,
        *,
        top_k: int,
        namespace: str = "",
        vector: Any = None,
        sparse_vector: Any = None,
        id: str | None = None,
        filter: Any = None,
        include_values: bool = False,
        include_metadata: bool = False,
    ) -> list[Match]:
        v.check_namespace(namespace)
        v.check_top_k(top_k)
        flt = parse_filter(filter)
        dense: FloatArray | None = None
        sparse: SparseVector | None = None
        if id is not None:
            if vector is not None or sparse_vector is not None:
                raise InvalidArgumentError("query by id cannot also take vector or sparse_vector")
            v.check_id(id)
            rec = self.store.fetch(namespace, [id]).get(id)
            if rec is None:
                return []
            dense, sparse = rec.values, rec.sparse_values
            if self.info.metric != "dotproduct":
                sparse = None
        else:
            if vector is None and sparse_vector is None:
                raise InvalidArgumentError("query needs a vector, a sparse_vector, or an id")
            if vector is not None and len(vector) > 0:
                if not self._dimension:
                    raise InvalidArgumentError(
                        "this index is sparse: query it with sparse_vector, not vector"
                    )
                dense = v.dense_vector(vector, self._dimension, "vector")
            if sparse_vector is not None:
                sparse = v.sparse_vector(sparse_vector, "sparse_vector")
                if self.info.metric != "dotproduct":
                    raise InvalidArgumentError(
                        "sparse and hybrid queries need a dotproduct index; "
                        f"this index uses {self.info.metric}"
                    )
            if dense is None and sparse is None:
                raise InvalidArgumentError("query needs a non-empty vector or sparse_vector")
            if dense is None and self._dimension and sparse is not None:
                pass  # sparse-only query of a hybrid index scores the sparse part alone
        spec = QuerySpec(
            metric=self.info.metric,
            top_k=top_k,
            dense=dense,
            sparse=sparse,
            ef_search=self.config.hnsw_ef_search,
            exact_max_rows=self.config.exact_filter_max_rows,
        )
        return self.store.query(namespace, spec, flt, include_values, include_metadata)

    def fetch_by_metadata(
        self,
        filter: Any,
        namespace: str = "",
        limit: int = 100,
        pagination_token: str | None = None,
    ) -> tuple[list[Record], str | None]:
        v.check_namespace(namespace)
        v.check_limit(limit, v.MAX_FETCH_BY_METADATA_LIMIT)
        flt = parse_filter(filter)
        after = decode_token(pagination_token)

        def page(ns: Namespace | None) -> tuple[list[Record], str | None]:
            if ns is None:
                return [], None
            if flt is None:
                ids = [rid for rid in ns.sorted_ids() if after is None or rid > after]
                rows = [ns.locations[rid] for rid in ids[: limit + 1]]
            else:
                rows = sorted(ns.matching(flt), key=lambda br: br[0].ids[br[1]])
                if after is not None:
                    rows = [br for br in rows if br[0].ids[br[1]] > after]
            chosen = rows[:limit]
            records = [block.record(row) for block, row in chosen]
            token = encode_token(records[-1].id) if len(rows) > limit and records else None
            return records, token

        result: tuple[list[Record], str | None] = self.store.with_namespace(namespace, page)
        return result

    def list_ids(
        self,
        namespace: str = "",
        prefix: str | None = None,
        limit: int = 100,
        pagination_token: str | None = None,
    ) -> Page:
        v.check_namespace(namespace)
        v.check_limit(limit, v.MAX_LIST_LIMIT)
        after = decode_token(pagination_token)

        def page(ns: Namespace | None) -> Page:
            if ns is None:
                return Page([], None)
            ids = ns.sorted_ids()
            start_key = prefix or ""
            if after is not None and after >= start_key:
                pos = bisect.bisect_right(ids, after)
            else:
                pos = bisect.bisect_left(ids, start_key)
            out: list[str] = []
            while pos < len(ids) and len(out) < limit + 1:
                rid = ids[pos]
                if prefix and not rid.startswith(prefix):
                    break
                out.append(rid)
                pos += 1
            items = out[:limit]
            token = encode_token(items[-1]) if len(out) > limit else None
            return Page(items, token)

        result: Page = self.store.with_namespace(namespace, page)
        return result

    def describe_index_stats(self, filter: Any = None) -> IndexStats:
        flt = parse_filter(filter)
        if flt is None:
            counts = self.store.namespace_counts()
        else:
            counts = {name: self.store.count_matching(name, flt) for name in self.store.namespace_counts()}
        return IndexStats(
            namespaces=counts,
            dimension=self.info.dimension,
            metric=self.info.metric,
            vector_type=self.info.vector_type,
            total_vector_count=sum(counts.values()),
            index_fullness=0.0,
        )

    # -- namespaces -------------------------------------------------------------------------------
    def list_namespaces(
        self, prefix: str | None = None, limit: int = 100, pagination_token: str | None = None
    ) -> tuple[list[NamespaceInfo], str | None, int]:
        v.check_limit(limit, v.MAX_LIST_LIMIT)
        after = decode_token(pagination_token)
        page, more, total = self.store.namespace_page(prefix or "", after, limit)
        token = encode_token(page[-1][0]) if more and page else None
        return [NamespaceInfo(n, count) for n, count in page], token, total

    def describe_namespace(self, name: str) -> NamespaceInfo:
        v.check_namespace(name)
        count = self.store.namespace_count(name)
        if count is None:
            raise NamespaceNotFoundError(f"namespace {name!r} not found in index {self.info.name!r}")
        return NamespaceInfo(name, count)

    def create_namespace(self, name: str, schema_fields: Sequence[str] | None = None) -> NamespaceInfo:
        v.check_namespace(name)
        if not name:
            raise InvalidArgumentError(
                "namespace name must not be empty (the default namespace always exists)"
            )
        if self.store.has_namespace(name):
            raise AlreadyExistsError(f"namespace {name!r} already exists in index {self.info.name!r}")
        self.store.create_namespace(name)
        return NamespaceInfo(name, 0, tuple(schema_fields or ()))

    def delete_namespace(self, name: str) -> None:
        v.check_namespace(name)
        if not self.store.has_namespace(name):
            raise NamespaceNotFoundError(f"namespace {name!r} not found in index {self.info.name!r}")
        self.store.drop_namespace(name)


def _metadata_at(raw: Any, i: int) -> Any:
    """`v.metadata` of record i, its field name built only for an error (checking is pure, so the
    second call raises the same error with the record named)."""
    try:
        return v.metadata(raw)
    except InvalidArgumentError:
        v.metadata(raw, f"vectors[{i}].metadata")
        raise

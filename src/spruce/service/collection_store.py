"""A collection's records in its index's store (the default namespace, NS): what each operation does
there once `CollectionService` (collections.py) has checked its arguments and found the collection.

Each write looks at the namespace and writes under the store lock (reentrant), so no other writer
changes one of its ids between the look and the write: that is what lets `add` and `update` refuse
(existing or missing ids) having written nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spruce.engine.namespace import Namespace
from spruce.engine.predicate import IdIn, Node, RowPredicate, all_of
from spruce.engine.search import QuerySpec
from spruce.engine.store import Store
from spruce.errors import IDAlreadyExistsError, RecordNotFoundError
from spruce.service import validation as v
from spruce.service.collection_results import merged_metadata
from spruce.service.collection_rules import DOCUMENT_FIELD, NS
from spruce.service.data import IndexService
from spruce.service.where import parse_where, parse_where_document
from spruce.types import FloatArray, Match, Record

_BATCH = v.MAX_UPSERT_BATCH


def put_batches(store: Store, records: list[Record], dense: FloatArray | None) -> None:
    """Write records in batches of the upsert limit (each one WAL frame); `dense` holds their values
    stacked, when the caller has them as one matrix."""
    for start in range(0, len(records), _BATCH):
        stop = start + _BATCH
        store.put(NS, records[start:stop], None if dense is None else dense[start:stop])


def row_predicate(where: object, where_document: object, ids: Sequence[str] | None) -> RowPredicate | None:
    """The engine predicate of a `where`, a `where_document` and an id list (None: no condition)."""
    nodes: list[Node | None] = [parse_where(where), parse_where_document(where_document, DOCUMENT_FIELD)]
    if ids is not None:
        nodes.append(IdIn(frozenset(ids)))
    root = all_of(nodes)
    return None if root is None else RowPredicate(root)


# -- writes ---------------------------------------------------------------------------------------
def add_new(store: Store, collection: str, ids: list[str], records: list[Record], dense: FloatArray) -> None:
    """Write `records` (of `ids`), or nothing if one of the ids is in the collection already."""
    with store.lock:
        existing = store.with_namespace(
            NS, lambda ns: [] if ns is None else [r for r in ids if r in ns.locations]
        )
        if existing:
            shown = ", ".join(existing[:10])
            raise IDAlreadyExistsError(
                f"ids already exist in collection {collection!r}: {shown}; use upsert to overwrite them"
            )
        put_batches(store, records, dense)


def upsert_merged(
    store: Store,
    ids: list[str],
    docs: list[str | None] | None,
    dense: FloatArray,
    metas: list[Any],
) -> None:
    """Write every id, its metadata merged into the stored record's (if any)."""
    with store.lock:

        def merged(ns: Namespace | None) -> list[Record]:
            out = []
            for i, rid in enumerate(ids):
                old = ns.get(rid, values=False) if ns is not None else None
                doc = docs[i] if docs is not None else None
                out.append(Record(rid, dense[i], None, merged_metadata(old, metas[i], doc)))
            return out

        put_batches(store, store.with_namespace(NS, merged), dense)


def update_existing(
    store: Store,
    collection: str,
    ids: list[str],
    docs: list[str | None] | None,
    dense: FloatArray | None,
    metas: list[Any],
) -> None:
    """Change stored records (values kept where `dense` is None), or nothing if an id is missing."""
    with store.lock:

        def changed(ns: Namespace | None) -> list[Record]:
            missing = [r for r in ids if ns is None or r not in ns.locations]
            if missing:
                raise RecordNotFoundError(
                    f"ids not found in collection {collection!r}: {', '.join(missing[:10])}; "
                    "use upsert to create records"
                )
            assert ns is not None
            out = []
            for i, rid in enumerate(ids):
                old = ns.get(rid)
                assert old is not None
                values = dense[i] if dense is not None else old.values
                doc = docs[i] if docs is not None else None
                out.append(Record(rid, values, None, merged_metadata(old, metas[i], doc)))
            return out

        put_batches(store, store.with_namespace(NS, changed), None)


def delete_chosen(store: Store, id_list: list[str] | None, pred: RowPredicate | None) -> int:
    """Delete the records among `id_list` (None: all) that `pred` allows; return how many."""
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


# -- reads ----------------------------------------------------------------------------------------
def records_page(
    store: Store,
    id_list: list[str] | None,
    pred: RowPredicate | None,
    offset: int,
    limit: int | None,
    values: bool,
) -> list[Record]:
    """The records `get` returns: in the order of `id_list` if given, else in id order, then paged."""

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
        end = None if limit is None else offset + limit
        return [b.record(r, values=values) for b, r in found[offset:end]]

    records: list[Record] = store.with_namespace(NS, page)
    return records


def nearest(
    svc: IndexService,
    metric: str,
    query: FloatArray,
    k: int,
    pred: RowPredicate | None,
    values: bool,
    metadata: bool,
) -> list[Match]:
    """The `k` records nearest one query vector, among those `pred` allows."""
    spec = QuerySpec(
        metric=metric,
        top_k=k,
        dense=np.ascontiguousarray(query),
        sparse=None,
        ef_search=svc.config.hnsw_ef_search,
        exact_max_rows=svc.config.exact_filter_max_rows,
    )
    return svc.store.query(NS, spec, pred, values, metadata)

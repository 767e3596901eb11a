"""Stateful model test: the embedded client against a plain-dict model of Pinecone semantics.

Hypothesis drives random sequences of upserts, updates, deletes, queries, fetches, lists, stats,
flushes (sealing memtables into blocks / segments), compactions and, on disk, reopening, and checks
every answer against a brute-force model. The engine config is tiny (5-row memtables, HNSW from 8
rows, exact filtered search only below 2 allowed rows, compaction from 3 segments) so that sealing,
ANN search, filtered ANN search and compaction all run on a handful of records.

Query answers are compared exactly, which is fair only because HNSW is searched with an ef far larger
than any block here (the greedy search then visits the whole graph); recall at realistic sizes is
measured in test_search_oracle.py. Vectors have small integer components, so dotproduct and
euclidean scores are exact in float32; cosine is compared within a small tolerance.
"""

from __future__ import annotations

import itertools
import math
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import spruce
from spruce.config import EngineConfig
from spruce.engine.compaction import compact_namespace
from spruce.engine.filter import matches, parse_filter

CONFIG = EngineConfig(
    memtable_max_rows=5,
    ann_min_rows=8,
    compaction_min_segments=3,
    background=False,
    exact_filter_max_rows=2,
    # Far above any block's row count here, so HNSW search is exhaustive and answers must be exact.
    hnsw_ef_search=512,
    fsync=False,  # durability is the crash tests' job; this keeps hundreds of examples fast
)
DIM = 4
NAMESPACES = ("", "ns1")
# Shared prefixes, a digit-vs-letter order trap and a non-ASCII id exercise sorted listing.
IDS = ("a", "a1", "a10", "a2", "ab", "b", "b-1", "b1", "ba", "c", "z", "\u00fc")
PREFIXES = ("", "a", "a1", "b", "c", "q", "\u00fc")
COLORS = ("red", "green", "blue")
TAGS = ("x", "y", "z")


@dataclass(frozen=True)
class Rec:
    values: tuple[float, ...]
    sparse: tuple[tuple[int, ...], tuple[float, ...]] | None
    metadata: dict[str, Any] | None


# -- strategies ------------------------------------------------------------------------------------
small = st.integers(-3, 3).map(float)
dense_values = st.lists(small, min_size=DIM, max_size=DIM).map(tuple)
sparse_values = st.dictionaries(
    st.one_of(st.integers(0, 6), st.sampled_from([1000, 2**32 - 1])),
    st.integers(-3, 3).filter(bool).map(float),
    min_size=1,
    max_size=4,
).map(lambda d: (tuple(sorted(d)), tuple(d[k] for k in sorted(d))))
metadata_values = st.fixed_dictionaries(
    {},
    optional={
        # Mixed types under one key ("n" is sometimes a string, "color" sometimes a number) exercise
        # the typed filter columns' handling of heterogeneous fields.
        "color": st.one_of(st.sampled_from(COLORS), st.just(7)),
        "n": st.sampled_from([0, 1, 2, 3, 1.5, -1, "2"]),
        "flag": st.booleans(),
        "tags": st.lists(st.sampled_from(TAGS), max_size=3, unique=True),
    },
).filter(bool)
metadata_or_none = st.one_of(st.none(), metadata_values)

leaf_filters = st.one_of(
    st.sampled_from(COLORS).map(lambda c: {"color": c}),
    st.tuples(st.sampled_from(["$eq", "$ne"]), st.sampled_from([*COLORS, 7])).map(
        lambda t: {"color": {t[0]: t[1]}}
    ),
    st.tuples(st.sampled_from(["$in", "$nin"]), st.lists(st.sampled_from([*COLORS, 7]), max_size=3)).map(
        lambda t: {"color": {t[0]: t[1]}}
    ),
    st.tuples(
        st.sampled_from(["$gt", "$gte", "$lt", "$lte", "$eq", "$ne"]), st.sampled_from([0, 1, 2, 1.5, 3, -1])
    ).map(lambda t: {"n": {t[0]: t[1]}}),
    st.just({"n": {"$in": [1, 2.0, "2"]}}),
    st.just({"n": "2"}),
    st.booleans().map(lambda b: {"flag": b}),
    st.booleans().map(lambda b: {"flag": {"$ne": b}}),
    st.sampled_from(TAGS).map(lambda t: {"tags": t}),
    st.tuples(st.sampled_from(["$in", "$nin"]), st.lists(st.sampled_from(TAGS), max_size=2)).map(
        lambda t: {"tags": {t[0]: t[1]}}
    ),
    st.tuples(st.sampled_from(["color", "n", "flag", "tags"]), st.booleans()).map(
        lambda t: {t[0]: {"$exists": t[1]}}
    ),
)
filters = st.recursive(
    leaf_filters,
    lambda children: st.tuples(
        st.sampled_from(["$and", "$or"]), st.lists(children, min_size=1, max_size=3)
    ).map(lambda t: {t[0]: t[1]}),
    max_leaves=4,
)
optional_filters = st.one_of(st.none(), filters)
top_ks = st.one_of(st.integers(1, 4), st.just(50))  # 50 >= any namespace: the whole ranking


# -- the model's scoring ---------------------------------------------------------------------------
def model_score(
    metric: str, rec: Rec, dense: tuple[float, ...] | None, sparse: dict[int, float] | None
) -> float:
    score = 0.0
    if dense is not None:
        q = np.asarray(dense, dtype=np.float64)
        x = np.asarray(rec.values, dtype=np.float64)
        if metric == "cosine":
            denom = math.sqrt(float(x @ x) * float(q @ q))
            score = float(x @ q) / denom if denom > 0 else 0.0
        elif metric == "euclidean":
            score = float(((x - q) ** 2).sum())
        else:
            score = float(x @ q)
    if sparse and rec.sparse is not None:
        score += sum(v * sparse.get(i, 0.0) for i, v in zip(*rec.sparse, strict=True))
    return score


class StoreModel(RuleBasedStateMachine):
    metric = "dotproduct"
    on_disk = False

    def __init__(self) -> None:
        super().__init__()
        self.dir: Path | None = Path(tempfile.mkdtemp(prefix="spruce-model-")) if self.on_disk else None
        self.client = spruce.Client(path=self.dir, config=CONFIG)
        self.client.create_index("model", dimension=DIM, metric=self.metric)
        self.index = self.client.Index("model")
        self.model: dict[str, dict[str, Rec]] = {ns: {} for ns in NAMESPACES}
        self.tol = 1e-5 if self.metric == "cosine" else 0.0

    def teardown(self) -> None:
        self.client.close()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def hybrid(self) -> bool:
        return self.metric == "dotproduct"

    # -- writes -----------------------------------------------------------------------------------
    @initialize(ns=st.sampled_from(NAMESPACES), n=st.integers(0, 12))
    def seed(self, ns: str, n: int) -> None:
        """Start some runs with a batch big enough to seal into an HNSW-indexed block at once."""
        if n:
            recs = {
                IDS[i]: Rec((float(i % 3), 1.0, float(i % 2), -1.0), None, {"n": i % 4}) for i in range(n)
            }
            self._upsert(ns, list(recs.items()))

    def _upsert(self, ns: str, batch: list[tuple[str, Rec]]) -> None:
        payload = []
        for rid, rec in batch:
            item: dict[str, Any] = {"id": rid, "values": list(rec.values)}
            if rec.sparse is not None:
                item["sparse_values"] = {"indices": list(rec.sparse[0]), "values": list(rec.sparse[1])}
            if rec.metadata is not None:
                item["metadata"] = rec.metadata
            payload.append(item)
        res = self.index.upsert(vectors=payload, namespace=ns)
        assert res.upserted_count == len(batch)
        for rid, rec in batch:
            self.model[ns][rid] = rec  # later duplicates in one batch win, as sequential upserts would

    @rule(
        ns=st.sampled_from(NAMESPACES),
        batch=st.lists(
            st.tuples(
                st.sampled_from(IDS), dense_values, st.one_of(st.none(), sparse_values), metadata_or_none
            ),
            min_size=1,
            max_size=10,
        ),
    )
    def upsert(self, ns: str, batch: list[Any]) -> None:
        recs = [(rid, Rec(vals, sp if self.hybrid else None, md)) for rid, vals, sp, md in batch]
        self._upsert(ns, recs)

    @rule(
        ns=st.sampled_from(NAMESPACES),
        rid=st.sampled_from(IDS),
        values=st.one_of(st.none(), dense_values),
        sparse=st.one_of(st.none(), sparse_values),
        set_metadata=st.one_of(st.none(), metadata_values),
    )
    def update_by_id(
        self,
        ns: str,
        rid: str,
        values: tuple[float, ...] | None,
        sparse: tuple[tuple[int, ...], tuple[float, ...]] | None,
        set_metadata: dict[str, Any] | None,
    ) -> None:
        if not self.hybrid:
            sparse = None
        kwargs: dict[str, Any] = {}
        if values is not None:
            kwargs["values"] = list(values)
        if sparse is not None:
            kwargs["sparse_values"] = {"indices": list(sparse[0]), "values": list(sparse[1])}
        if set_metadata is not None:
            kwargs["set_metadata"] = set_metadata
        self.index.update(id=rid, namespace=ns, **kwargs)
        old = self.model[ns].get(rid)
        if old is None:
            return  # updating a missing id changes nothing
        new = old
        if values is not None:
            new = replace(new, values=values)
        if sparse is not None:
            new = replace(new, sparse=sparse)
        if set_metadata is not None:
            new = replace(new, metadata={**(old.metadata or {}), **set_metadata})
        self.model[ns][rid] = new

    @rule(ns=st.sampled_from(NAMESPACES), flt=filters, set_metadata=metadata_values, dry_run=st.booleans())
    def update_by_filter(
        self, ns: str, flt: dict[str, Any], set_metadata: dict[str, Any], dry_run: bool
    ) -> None:
        res = self.index.update(filter=flt, set_metadata=set_metadata, namespace=ns, dry_run=dry_run)
        parsed = parse_filter(flt)
        hit = [rid for rid, rec in self.model[ns].items() if matches(parsed, rec.metadata)]
        assert res.matched_records == len(hit), (flt, sorted(hit))
        if not dry_run:
            for rid in hit:
                old = self.model[ns][rid]
                self.model[ns][rid] = replace(old, metadata={**(old.metadata or {}), **set_metadata})

    @rule(ns=st.sampled_from(NAMESPACES), ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=4))
    def delete_ids(self, ns: str, ids: list[str]) -> None:
        self.index.delete(ids=ids, namespace=ns)
        for rid in ids:
            self.model[ns].pop(rid, None)

    @rule(ns=st.sampled_from(NAMESPACES), flt=filters)
    def delete_by_filter(self, ns: str, flt: dict[str, Any]) -> None:
        self.index.delete(filter=flt, namespace=ns)
        parsed = parse_filter(flt)
        self.model[ns] = {rid: r for rid, r in self.model[ns].items() if not matches(parsed, r.metadata)}

    @rule(ns=st.sampled_from(NAMESPACES))
    def delete_all(self, ns: str) -> None:
        self.index.delete(delete_all=True, namespace=ns)
        self.model[ns] = {}

    # -- maintenance ------------------------------------------------------------------------------
    @rule()
    def flush(self) -> None:
        self.index.flush()

    @rule(ns=st.sampled_from(NAMESPACES), force=st.booleans())
    def compact(self, ns: str, force: bool) -> None:
        # In memory nothing triggers compaction on its own, so drive it directly to exercise the merge.
        compact_namespace(self.index._svc.store, ns, force=force)

    @precondition(lambda self: self.on_disk)
    @rule()
    def reopen(self) -> None:
        self.client.close()
        self.client = spruce.Client(path=self.dir, config=CONFIG)
        self.index = self.client.Index("model")

    # -- reads ------------------------------------------------------------------------------------
    def _check_matches(
        self,
        ns: str,
        res: Any,
        expected: dict[str, float],
        top_k: int,
        include_values: bool,
        include_metadata: bool,
    ) -> None:
        matches_ = res.matches
        got_ids = [m.id for m in matches_]
        assert len(got_ids) == min(top_k, len(expected)), (got_ids, expected)
        assert len(set(got_ids)) == len(got_ids), f"duplicate ids in {got_ids}"
        sign = -1.0 if self.metric == "euclidean" else 1.0  # rank key: larger is better
        keys = [sign * m.score for m in matches_]
        assert all(a >= b - self.tol for a, b in itertools.pairwise(keys)), f"not ranked: {keys}"
        for m in matches_:
            assert m.id in expected, f"{m.id} is not an allowed live record of {ns!r}"
            assert abs(m.score - expected[m.id]) <= self.tol * max(1.0, abs(expected[m.id])), (
                m.id,
                m.score,
                expected[m.id],
            )
        # Ties make the chosen ids ambiguous, but nothing left out may outrank what was returned.
        if matches_:
            worst = min(keys)
            for rid, score in expected.items():
                if rid not in got_ids:
                    assert sign * score <= worst + self.tol, (rid, score, worst)
        for m in matches_:
            rec = self.model[ns][m.id]
            if include_values:
                assert m["values"] == list(rec.values)  # `.values` is dict.values on Obj
            if include_metadata:
                assert m.metadata == rec.metadata

    def _expected(
        self,
        ns: str,
        flt: dict[str, Any] | None,
        dense: tuple[float, ...] | None,
        sparse: dict[int, float] | None,
    ) -> dict[str, float]:
        parsed = parse_filter(flt)
        return {
            rid: model_score(self.metric, rec, dense, sparse)
            for rid, rec in self.model[ns].items()
            if matches(parsed, rec.metadata)
        }

    @rule(
        ns=st.sampled_from(NAMESPACES),
        vector=dense_values,
        top_k=top_ks,
        flt=optional_filters,
        include_values=st.booleans(),
        include_metadata=st.booleans(),
    )
    def query_dense(
        self,
        ns: str,
        vector: tuple[float, ...],
        top_k: int,
        flt: dict[str, Any] | None,
        include_values: bool,
        include_metadata: bool,
    ) -> None:
        res = self.index.query(
            vector=list(vector),
            top_k=top_k,
            namespace=ns,
            filter=flt,
            include_values=include_values,
            include_metadata=include_metadata,
        )
        self._check_matches(
            ns, res, self._expected(ns, flt, vector, None), top_k, include_values, include_metadata
        )

    @precondition(lambda self: self.hybrid)
    @rule(
        ns=st.sampled_from(NAMESPACES),
        vector=st.one_of(st.none(), dense_values),
        sparse=sparse_values,
        top_k=top_ks,
        flt=optional_filters,
    )
    def query_sparse_or_hybrid(
        self,
        ns: str,
        vector: tuple[float, ...] | None,
        sparse: tuple[tuple[int, ...], tuple[float, ...]],
        top_k: int,
        flt: dict[str, Any] | None,
    ) -> None:
        res = self.index.query(
            vector=None if vector is None else list(vector),
            sparse_vector={"indices": list(sparse[0]), "values": list(sparse[1])},
            top_k=top_k,
            namespace=ns,
            filter=flt,
        )
        expected = self._expected(ns, flt, vector, dict(zip(*sparse, strict=True)))
        self._check_matches(ns, res, expected, top_k, False, False)

    @rule(ns=st.sampled_from(NAMESPACES), rid=st.sampled_from(IDS), top_k=top_ks, flt=optional_filters)
    def query_by_id(self, ns: str, rid: str, top_k: int, flt: dict[str, Any] | None) -> None:
        res = self.index.query(id=rid, top_k=top_k, namespace=ns, filter=flt)
        rec = self.model[ns].get(rid)
        if rec is None:
            assert res.matches == []
            return
        sparse = dict(zip(*rec.sparse, strict=True)) if (rec.sparse and self.hybrid) else None
        self._check_matches(ns, res, self._expected(ns, flt, rec.values, sparse), top_k, False, False)

    @rule(ns=st.sampled_from(NAMESPACES), ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=5))
    def fetch(self, ns: str, ids: list[str]) -> None:
        res = self.index.fetch(ids=ids, namespace=ns)
        want = {rid for rid in ids if rid in self.model[ns]}
        assert set(res.vectors) == want
        for rid in want:
            got, rec = res.vectors[rid], self.model[ns][rid]
            assert got.id == rid
            assert got["values"] == list(rec.values)
            assert got.metadata == rec.metadata
            if rec.sparse is None:
                assert got.sparse_values is None
            else:
                assert got.sparse_values == {"indices": list(rec.sparse[0]), "values": list(rec.sparse[1])}

    @rule(ns=st.sampled_from(NAMESPACES), prefix=st.sampled_from(PREFIXES), limit=st.integers(1, 4))
    def list_ids(self, ns: str, prefix: str, limit: int) -> None:
        want = sorted(rid for rid in self.model[ns] if rid.startswith(prefix))
        pages: list[list[str]] = []
        token = None
        while True:
            page = self.index.list_paginated(
                prefix=prefix or None, limit=limit, pagination_token=token, namespace=ns
            )
            items = [v.id for v in page.vectors]
            assert len(items) <= limit
            pages.append(items)
            if page.pagination is None:
                break
            assert len(items) == limit, "a non-final page must be full"
            token = page.pagination.next
            assert len(pages) <= len(IDS) + 1, "pagination does not terminate"
        assert [i for p in pages for i in p] == want
        assert [i for p in self.index.list(prefix=prefix or None, namespace=ns) for i in p] == want

    @rule(flt=filters)
    def stats_filtered(self, flt: dict[str, Any]) -> None:
        stats = self.index.describe_index_stats(filter=flt)
        parsed = parse_filter(flt)
        for ns in NAMESPACES:
            want = sum(1 for r in self.model[ns].values() if matches(parsed, r.metadata))
            got = stats.namespaces[ns].vector_count if ns in stats.namespaces else 0
            assert got == want, (ns, flt)

    @invariant()
    def stats_match_model(self) -> None:
        stats = self.index.describe_index_stats()
        want = {ns: len(recs) for ns, recs in self.model.items() if recs}
        # A namespace whose records are all deleted disappears, as in Pinecone.
        assert {ns: s.vector_count for ns, s in stats.namespaces.items()} == want
        assert stats.total_vector_count == sum(want.values())
        assert stats.dimension == DIM


_SETTINGS = settings(
    max_examples=250,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    # The explain phase traces every line the engine runs and took minutes per failure; shrinking
    # alone already gives a short reproducing sequence.
    phases=[p for p in Phase if p is not Phase.explain],
)


class InMemoryDotproduct(StoreModel):
    metric = "dotproduct"


class InMemoryEuclidean(StoreModel):
    metric = "euclidean"


class InMemoryCosine(StoreModel):
    metric = "cosine"


class OnDiskDotproduct(StoreModel):
    metric = "dotproduct"
    on_disk = True


TestInMemoryDotproduct = InMemoryDotproduct.TestCase
TestInMemoryDotproduct.settings = _SETTINGS
TestInMemoryEuclidean = InMemoryEuclidean.TestCase
TestInMemoryEuclidean.settings = settings(_SETTINGS, max_examples=100)
TestInMemoryCosine = InMemoryCosine.TestCase
TestInMemoryCosine.settings = settings(_SETTINGS, max_examples=100)
TestOnDiskDotproduct = OnDiskDotproduct.TestCase
TestOnDiskDotproduct.settings = settings(_SETTINGS, max_examples=80)

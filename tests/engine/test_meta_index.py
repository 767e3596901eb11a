"""The sorted per-field indexes of sealed blocks (engine/meta_index.py) against the reference evaluator.

`MetaIndex.select` must mark exactly the rows `filter.matches` accepts, for every operator and any mix
of stored types, whether it answers with a row list or a mask: the thresholds that choose between
them are patched to force each path (with the real ones, blocks of a few dozen rows would almost always
get masks). Then the same through the store: random upserts, overwrites, deletes, flushes and
compactions, and every filtered query's ids and scores equal to a numpy brute force over the alive
records that match.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import spruce
from spruce.config import EngineConfig
from spruce.engine import hot_rows, meta_index
from spruce.engine.compaction import compact_namespace
from spruce.engine.filter import matches, parse_filter
from spruce.engine.meta_index import MetaIndex
from spruce.engine.metadata_columns import MetadataColumns
from tests.engine.test_filter import raw_filters, rows_strategy, single_conditions


@contextmanager
def forced(path: str) -> Iterator[None]:
    """ "rows": every selection a row list; "mask": every one a mask; "fallback": `$in` by mask."""
    if path == "rows":  # `len(rows) * _WIDE > n` never holds
        with mock.patch.object(meta_index, "_WIDE", 0):
            yield
    elif path == "mask":
        with mock.patch.object(meta_index, "_WIDE", 10**9):
            yield
    else:
        with mock.patch.object(meta_index, "_MAX_SLICES", 0):
            yield


PATHS = ["rows", "mask", "fallback", "default"]


def check(rows: list[dict[str, Any] | None], raw: dict[str, Any], path: str) -> None:
    f = parse_filter(raw)
    assert f is not None
    expected = [matches(f, row) for row in rows]
    with forced(path) if path != "default" else mock.patch.object(meta_index, "_MIN_CACHED_ROWS", 4096):
        index = MetaIndex(MetadataColumns.from_rows(rows))
        for _ in range(2):  # the second answer comes from the result cache when it is a row list
            sel = index.select(f)
            assert sel.to_mask().tolist() == expected
            if sel.rows is not None:
                assert not sel.rows.flags.writeable
                assert sel.rows.tolist() == sorted(set(sel.rows.tolist()))
            assert sel.to_rows().tolist() == [i for i, hit in enumerate(expected) if hit]


@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy, raw=raw_filters)
def test_select_agrees_with_reference(
    path: str, rows: list[dict[str, Any] | None], raw: dict[str, Any]
) -> None:
    check(rows, raw, path)


# Deep trees hide a wrong leaf behind other conditions, so leaves get their own, denser check.
@pytest.mark.parametrize("path", PATHS)
@settings(max_examples=400, deadline=None)
@given(rows=rows_strategy, raw=single_conditions)
def test_select_agrees_with_reference_on_leaves(
    path: str, rows: list[dict[str, Any] | None], raw: dict[str, Any]
) -> None:
    check(rows, raw, path)


def test_missing_field_and_negations() -> None:
    rows: list[dict[str, Any] | None] = [{"a": 1}, None, {"a": "x"}, {"a": [1, "x"]}, {"b": True}]
    for raw in (
        {"zz": 1},
        {"zz": {"$ne": 1}},
        {"zz": {"$exists": False}},
        {"a": {"$nin": ["x", 1]}},
        {"a": {"$in": []}},
        {"a": {"$nin": []}},
        {"$or": [{"a": "x"}, {"b": {"$ne": True}}]},
        {"$and": [{"a": {"$exists": True}}, {"a": {"$ne": "x"}}]},
    ):
        for path in PATHS:
            check(rows, raw, path)


def test_result_cache_is_bounded() -> None:
    rows: list[dict[str, Any] | None] = [{"v": i % 100} for i in range(1000)]
    index = MetaIndex(MetadataColumns.from_rows(rows))
    with mock.patch.object(meta_index, "_MIN_CACHED_ROWS", 0):
        for v in range(100):
            f = parse_filter({"v": v})
            assert f is not None
            assert index.select(f).to_rows().tolist() == list(range(v, 1000, 100))
    assert 0 < index._cached_rows <= 1000


def test_hot_rows_copy_on_second_use_within_budget() -> None:
    dense = np.arange(40 * 4, dtype=np.float32).reshape(40, 4)
    hot = hot_rows.HotRows(dense, 40)  # budget: 10% of 40 rows = 4 rows
    f1, f2, wide = parse_filter({"a": 1}), parse_filter({"a": 2}), parse_filter({"a": 3})
    assert f1 is not None and f2 is not None and wide is not None
    r1, r2 = np.array([1, 5, 9], dtype=np.int64), np.array([2, 3], dtype=np.int64)
    assert hot.get(f1, r1) is None  # first use: remembered only
    copy = hot.get(f1, r1)
    assert copy is not None and np.array_equal(copy, dense[r1]) and not copy.flags.writeable
    assert hot.get(f1, r1) is copy
    assert hot.get(wide, np.arange(5, dtype=np.int64)) is None  # larger than the whole budget
    assert hot.get(wide, np.arange(5, dtype=np.int64)) is None
    assert hot.get(f2, r2) is None
    # 3 + 2 rows > 4: f2 (2 queries) does not displace f1 (4 queries) ...
    assert hot.get(f2, r2) is None and hot.get(f1, r1) is copy
    for _ in range(8):
        hot.get(f2, r2)
    # ... until it is queried more than twice as often (11 against 5)
    second = hot.get(f2, r2)
    assert second is not None and np.array_equal(second, dense[r2])
    assert hot.get(f2, r2) is second
    assert hot.get(f1, r1) is None


def test_hot_rows_do_not_thrash_when_more_filters_come_back_than_fit() -> None:
    """Five filters of 2 rows cycling through a budget of 4 rows: two copies are made and kept,
    and the other filters are scored in place (None), never gathered again and again."""
    dense = np.arange(40 * 4, dtype=np.float32).reshape(40, 4)
    hot = hot_rows.HotRows(dense, 40)
    filters = [parse_filter({"a": i}) for i in range(5)]
    rows = [np.array([2 * i, 2 * i + 1], dtype=np.int64) for i in range(5)]
    made: list[np.ndarray] = []  # kept alive, so no two of them can share an id
    for _ in range(20):
        for f, r in zip(filters, rows, strict=True):
            assert f is not None
            got = hot.get(f, r)
            if got is not None:
                assert np.array_equal(got, dense[r])
                made.append(got)
    assert len({id(m) for m in made}) == 2


# ---------------------------------------------------------------------------------------------
# Through the store: filtered queries over sealed blocks equal a brute-force oracle

DIM = 4
IDS = [f"r{i}" for i in range(24)]
CONFIG = EngineConfig(
    memtable_max_rows=6,
    ann_min_rows=10**6,  # no graphs: every filtered query is exact, so answers must equal the oracle
    compaction_min_segments=3,
    background=False,
    fsync=False,
)
metadata_values = st.one_of(
    st.none(),
    st.fixed_dictionaries(
        {},
        optional={
            "a": st.sampled_from(["x", "y", "z", ""]),
            "b": st.sampled_from([-2, 0, 1, 1.5, 3]),
            "c": st.booleans(),
            "d": st.lists(st.sampled_from(["x", "y", "z"]), max_size=3),
            "e": st.one_of(st.sampled_from(["x", "y"]), st.integers(-2, 2), st.booleans()),
        },
    ),
)
vectors = st.lists(st.integers(-3, 3), min_size=DIM, max_size=DIM).filter(any)
store_leaves = st.one_of(
    st.builds(lambda f, v: {f: v}, st.sampled_from(["a", "e"]), st.sampled_from(["x", "y", "z"])),
    st.builds(lambda f, v: {f: v}, st.sampled_from(["b", "e"]), st.sampled_from([-2, 0, 1, 1.5, 3])),
    st.builds(lambda v: {"c": v}, st.booleans()),
    st.builds(
        lambda f, op, v: {f: {op: v}},
        st.sampled_from(["b", "e"]),
        st.sampled_from(["$gt", "$gte", "$lt", "$lte"]),
        st.sampled_from([-2, 0, 1, 1.5, 3]),
    ),
    st.builds(
        lambda f, op, v: {f: {op: v}},
        st.sampled_from(["a", "d", "e"]),
        st.sampled_from(["$in", "$nin"]),
        st.lists(st.sampled_from(["x", "y", "z", 1, True]), max_size=3),
    ),
    st.builds(
        lambda f, op, v: {f: {op: v}},
        st.sampled_from(["a", "b", "d", "e"]),
        st.sampled_from(["$eq", "$ne"]),
        st.sampled_from(["x", "y", 0, 1, True]),
    ),
    st.builds(
        lambda f, v: {f: {"$exists": v}}, st.sampled_from(["a", "b", "c", "d", "e", "zz"]), st.booleans()
    ),
)
store_filters = st.recursive(
    store_leaves,
    lambda children: st.one_of(
        st.builds(lambda cs: {"$and": cs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda cs: {"$or": cs}, st.lists(children, min_size=1, max_size=3)),
    ),
    max_leaves=5,
)


class SealedFilterMachine(RuleBasedStateMachine):
    """Random writes and maintenance; every filtered query checked against the model."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="spruce-metaindex-"))
        self.client = spruce.Client(path=self.dir / "db", config=CONFIG)
        self.client.create_index("m", dimension=DIM, metric="dotproduct")
        self.index = self.client.Index("m")
        self.model: dict[str, tuple[list[int], dict[str, Any] | None]] = {}

    @initialize(
        path=st.sampled_from(["rows", "default"]),
        batch=st.lists(st.tuples(st.sampled_from(IDS), vectors, metadata_values), min_size=6, max_size=30),
    )
    def load(self, path: str, batch: list[tuple[str, list[int], dict[str, Any] | None]]) -> None:
        # Sealed blocks from the start: queries on memtables alone would not reach the index.
        self._patch = mock.patch.object(meta_index, "_WIDE", 0 if path == "rows" else 16)
        self._patch.start()
        # Blocks here are tiny: let hot_rows copy any repeated filter's rows so that path is checked too.
        self._hot_patch = mock.patch.object(hot_rows, "_SHARE", 100.0 if path == "rows" else 0.1)
        self._hot_patch.start()
        for rid, values, metadata in batch:
            self.upsert(rid, values, metadata)
        self.index.flush()

    def teardown(self) -> None:
        self._patch.stop()
        self._hot_patch.stop()
        self.client.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(rid=st.sampled_from(IDS), values=vectors, metadata=metadata_values)
    def upsert(self, rid: str, values: list[int], metadata: dict[str, Any] | None) -> None:
        self.index.upsert(
            vectors=[{"id": rid, "values": values, **({"metadata": metadata} if metadata else {})}]
        )
        self.model[rid] = (values, metadata or None)

    @rule(rid=st.sampled_from(IDS))
    def delete(self, rid: str) -> None:
        self.index.delete(ids=[rid])
        self.model.pop(rid, None)

    @rule()
    def flush(self) -> None:
        self.index.flush()

    @rule(force=st.booleans())
    def compact(self, force: bool) -> None:
        compact_namespace(self.index._svc.store, "", force=force)

    @rule(q=vectors, raw=store_filters, top_k=st.integers(1, 30))
    def query(self, q: list[int], raw: dict[str, Any], top_k: int) -> None:
        f = parse_filter(raw)
        # Twice: a filter's second query is the one that gets (and then uses) hot rows' copies.
        first = self.index.query(vector=q, top_k=top_k, filter=raw)
        res = self.index.query(vector=q, top_k=top_k, filter=raw)
        assert [m.id for m in res.matches] == [m.id for m in first.matches]
        allowed = {rid: int(np.dot(v, q)) for rid, (v, md) in self.model.items() if matches(f, md)}
        got = {m.id: m.score for m in res.matches}
        assert len(got) == min(top_k, len(allowed))
        for rid, score in got.items():
            assert rid in allowed, (rid, raw)
            assert score == allowed[rid]
        # Small integer vectors: scores are exact, so the kth best bounds every left-out record.
        worst = min(got.values(), default=None)
        for rid, score in allowed.items():
            if rid not in got:
                assert worst is not None and score <= worst, (rid, score, worst, raw)

    @invariant()
    def counts(self) -> None:
        assert self.index.describe_index_stats().total_vector_count == len(self.model)


SealedFilterMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_sealed_filters_against_oracle = SealedFilterMachine.TestCase


@pytest.mark.parametrize("first", [{"b": True}, {"b": 1}])
def test_true_and_one_are_different_filters_in_every_cache(tmp_path: Path, first: dict[str, Any]) -> None:
    """Python has True == 1 (and the same hash): the per-block caches keyed by parsed filters answered
    `{"b": 1}` with `{"b": true}`'s rows, or the reverse, whichever came first (found by the machine)."""
    with mock.patch.object(meta_index, "_WIDE", 0), mock.patch.object(hot_rows, "_SHARE", 100.0):
        db = spruce.Client(path=tmp_path / "db", config=CONFIG)
        db.create_index("m", dimension=4, metric="dotproduct")
        ix = db.Index("m")
        ix.upsert(vectors=[{"id": "one", "values": [0, 0, 0, 2], "metadata": {"b": 1}}])
        ix.upsert(vectors=[{"id": "true", "values": [0, 0, 0, 3], "metadata": {"b": True}}])
        ix.upsert(vectors=[{"id": f"r{i}", "values": [0, 0, 0, 1]} for i in range(6)])
        ix.flush()
        second = {"b": 1} if first == {"b": True} else {"b": True}
        want = {"one": ["one"], "true": ["true"]}
        for flt in (first, first, first, second, second, second):
            got = [m.id for m in ix.query(vector=[0, 0, 0, 1], top_k=5, filter=flt).matches]
            assert got == want["true" if flt["b"] is True else "one"], flt
        assert parse_filter({"b": True}) != parse_filter({"b": 1})
        db.close()

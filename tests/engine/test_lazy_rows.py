"""Lazily decoded segment metadata and the compact id map: same answers as the eager forms.

A reopened or checkpointed block keeps its metadata encoded (lazy_meta.LazyMetadata) and each id
maps to one int (locations.Locations); fetch, filters, metadata updates, overwrites across segments
and compaction must see exactly what was written. The Hypothesis model in test_store_model.py
covers the same paths in random sequences; these pin the specific cases.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from spruce.config import EngineConfig
from spruce.engine.compaction import compact_namespace
from spruce.engine.filter import parse_filter
from spruce.engine.lazy_meta import LazyMetadata, encode_column, gather
from spruce.engine.store import Store
from spruce.types import Record

DIM = 8
CONFIG = EngineConfig(memtable_max_rows=50, ann_min_rows=1 << 30, background=False)


def recs(start: int, stop: int, version: int = 0) -> list[Record]:
    rng = np.random.default_rng([start, version])
    vecs = rng.standard_normal((stop - start, DIM)).astype(np.float32)
    out = []
    for i in range(start, stop):
        meta = None if i % 7 == 0 else {"i": i, "v": version, "tag": f"t{i % 3}", "l": [f"x{i % 2}"]}
        out.append(Record(f"id{i:04d}", vecs[i - start], None, meta))
    return out


def test_lazy_metadata_sequence() -> None:
    metas = [{"a": 1}, None, {"b": ["x", "y"], "c": 2.5}]
    lazy = LazyMetadata(encode_column(metas, 3))
    assert len(lazy) == 3
    assert [lazy[i] for i in range(3)] == metas
    assert lazy[-1] == metas[-1]
    assert lazy[1:] == metas[1:]
    assert list(lazy) == metas
    with pytest.raises(IndexError):
        lazy[3]
    assert lazy[0] is not lazy[0]  # a fresh dict per read: callers may not mutate shared state
    # Gathering rows: stays encoded when every input is lazy, decodes when one is a plain list.
    both = gather([(lazy, [2, 0]), (lazy, [1])])
    assert isinstance(both, LazyMetadata) and list(both) == [metas[2], metas[0], None]
    mixed = gather([(lazy, [2]), ([{"z": True}], [0])])
    assert list(mixed) == [metas[2], {"z": True}]
    assert encode_column(lazy, 2).equals(pa.array(['{"a":1}', None], pa.string()))


def sealed_metadata_types(store: Store) -> set[type]:
    return {type(b.metadata) for ns in store.namespaces.values() for b in ns.sealed}


def test_reopened_metadata_is_lazy_and_exact(tmp_path: Path) -> None:
    path = tmp_path / "ix"
    store = Store(path, DIM, "cosine", CONFIG)
    written = {r.id: r for r in recs(0, 180)}
    store.put("ns", list(written.values()))
    store.checkpoint()
    # A checkpointed block drops the memtable's dicts and reads from the written segment.
    assert sealed_metadata_types(store) == {LazyMetadata}
    # Overwrite some ids in a newer segment, so the reopen must shadow older rows.
    newer = {r.id: r for r in recs(100, 130, version=1)}
    store.put("ns", list(newer.values()))
    store.checkpoint()
    store.delete("ns", ["id0005", "id0120"])
    store.close()
    written.update(newer)
    del written["id0005"], written["id0120"]

    store = Store(path, DIM, "cosine", CONFIG)
    try:
        assert sealed_metadata_types(store) == {LazyMetadata}
        assert store.namespace_counts() == {"ns": len(written)}
        got = store.fetch("ns", [*written, "id0005", "nope"])
        assert set(got) == set(written)
        for rid, rec in written.items():
            assert got[rid].metadata == rec.metadata
            assert got[rid].values is not None and rec.values is not None
            np.testing.assert_array_equal(got[rid].values, rec.values)
        flt = parse_filter({"$and": [{"tag": "t1"}, {"v": {"$gte": 1}}]})
        want = {
            rid
            for rid, r in written.items()
            if r.metadata and r.metadata["tag"] == "t1" and r.metadata["v"] >= 1
        }
        assert store.count_matching("ns", flt) == len(want)
        # An update after the reopen: the after-image is built from the lazily decoded row.
        old = store.fetch("ns", ["id0011"])["id0011"]
        assert old.metadata is not None
        store.put("ns", [Record(old.id, old.values, None, {**old.metadata, "v": 9})])
        assert store.fetch("ns", ["id0011"])["id0011"].metadata == {**old.metadata, "v": 9}
        assert store.count_matching("ns", parse_filter({"v": 9})) == 1
        store.checkpoint()
        # A merge keeps metadata encoded and exact.
        assert compact_namespace(store, "ns", force=True)
        assert len(store.namespaces["ns"].sealed) == 1
        assert sealed_metadata_types(store) == {LazyMetadata}
        again = store.fetch("ns", list(written))
        assert {rid: r.metadata for rid, r in again.items()} == {
            rid: ({**r.metadata, "v": 9} if rid == "id0011" and r.metadata else r.metadata)
            for rid, r in written.items()
        }
    finally:
        store.close()

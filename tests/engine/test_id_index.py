"""Id lookups through the hashed index of opened segments (engine/id_index.py) are exact.

The hash of a column equals the per-id hash (two implementations, one vectorised); lookups never
answer with a colliding id (a hash squeezed to 2 bits forces collisions everywhere); and a stateful
model drives upserts, overwrites, deletes, flushes, forced compactions and reopens on disk against a
plain dict, checking fetch, count and listing after every step, with and without collisions.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

import spruce
from spruce.config import EngineConfig
from spruce.engine import id_index
from spruce.engine.checked_json import dump_checked, load_checked
from spruce.engine.compaction import compact_namespace
from spruce.engine.id_index import SealedIds, fnv1a64, fnv1a64_column, hash_ids
from spruce.engine.rows import RowBlock
from spruce.engine.segment import FORMAT, VERSION
from spruce.errors import IndexFailedError

ids_text = st.text(min_size=0, max_size=40)


@given(st.lists(ids_text, min_size=1, max_size=60), st.integers(0, 5))
def test_column_hash_equals_the_hash_of_each_id(ids: list[str], cut: int) -> None:
    column = pa.array(ids, pa.string())
    expected = [fnv1a64(i) for i in ids]
    assert fnv1a64_column(column).tolist() == expected
    # A sliced column (non-zero offset) and a large_string one hash the same.
    k = min(cut, len(ids))
    assert fnv1a64_column(column.slice(k)).tolist() == expected[k:]
    assert fnv1a64_column(column.cast(pa.large_string())).tolist() == expected
    assert fnv1a64_column(pa.chunked_array([column[:k], column[k:]], pa.string())).tolist() == expected
    assert hash_ids(ids).tolist() == expected


def test_fnv1a64_known_values() -> None:
    # Published FNV-1a 64 test vectors: a broken implementation cannot match them by accident.
    assert fnv1a64("") == 0xCBF29CE484222325
    assert fnv1a64("a") == 0xAF63DC4C8601EC8C
    assert fnv1a64("foobar") == 0x85944171F73967E8


def _block(block_id: int, ids: list[str], dead: tuple[int, ...] = ()) -> RowBlock:
    block = RowBlock(2, ids=ids, dense=np.zeros((len(ids), 2), np.float32), sealed=True, block_id=block_id)
    for row in dead:
        block.kill(row)
    return block


def _squeezed() -> Any:
    """Patch both hash functions down to 2 bits: nearly every lookup meets a colliding id."""
    column, one = id_index.fnv1a64_column, id_index.fnv1a64
    return mock.patch.multiple(
        id_index,
        fnv1a64=lambda s: one(s) & 3,
        fnv1a64_column=lambda c: column(c) & np.uint64(3),
    )


@given(
    st.lists(st.text(max_size=6), min_size=1, max_size=50, unique=True),
    st.lists(st.text(max_size=6), max_size=50),
    st.booleans(),
)
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_lookups_are_exact_even_when_every_hash_collides(
    stored: list[str], asked: list[str], squeeze: bool
) -> None:
    with _squeezed() if squeeze else contextlib.nullcontext():
        half = len(stored) // 2
        old, new = _block(1, stored[:half] + stored[half:]), _block(2, stored[half:])
        index = SealedIds()
        assert len(index.add(old)) == 0
        shadowed = index.add(new)  # the newer block holds the second half again
        assert sorted((shadowed & id_index.ROW_MASK).tolist()) == list(range(half, len(stored)))
        for code in shadowed.tolist():
            old.kill(code & id_index.ROW_MASK)
        where = {rid: (1, i) for i, rid in enumerate(stored[:half])}
        where.update({rid: (2, i) for i, rid in enumerate(stored[half:])})
        queries = asked + stored
        found = index.find(queries)  # vectorised for 32 ids or more, per id below
        for rid, code in zip(queries, found.tolist(), strict=True):
            expect = where.get(rid)
            got = None if code < 0 else (code >> id_index.SHIFT, code & id_index.ROW_MASK)
            assert got == expect, rid
            one = index.find_one(rid)
            assert (None if one < 0 else (one >> id_index.SHIFT, one & id_index.ROW_MASK)) == expect
        # A killed row is no location any more.
        victim = stored[-1]
        new.kill(len(stored) - half - 1)
        assert index.find_one(victim) == -1


CONFIG = EngineConfig(
    memtable_max_rows=40,
    ann_min_rows=1 << 30,
    compaction_min_segments=3,
    background=False,
    fsync=False,
)
POOL = [f"id-{i}" for i in range(60)] + ["ü", "a", "a0", ""]
POOL = [p for p in POOL if p]


class IdModel(RuleBasedStateMachine):
    """Upserts / overwrites / deletes / flush / compact / reopen against a dict, on disk."""

    squeeze = False

    def __init__(self) -> None:
        super().__init__()
        self._patch = _squeezed() if self.squeeze else None
        if self._patch is not None:
            self._patch.start()
        # Vectorised hashing from 2 ids on, so small batches exercise it too.
        self._min = mock.patch.object(id_index, "_VECTOR_MIN", 2)
        self._min.start()
        self.dir = Path(tempfile.mkdtemp(prefix="spruce-ids-"))
        self.client = spruce.Client(path=self.dir, config=CONFIG)
        self.client.create_index("m", dimension=2, metric="dotproduct")
        self.index = self.client.Index("m")
        self.model: dict[str, float] = {}
        self.step = 0.0

    def teardown(self) -> None:
        self.client.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        self._min.stop()
        if self._patch is not None:
            self._patch.stop()

    @rule(ids=st.lists(st.sampled_from(POOL), min_size=1, max_size=45))
    def upsert(self, ids: list[str]) -> None:
        vectors = []
        for rid in ids:
            self.step += 1.0
            vectors.append((rid, [self.step, 1.0]))
            self.model[rid] = self.step
        self.index.upsert(vectors=vectors)

    @rule(ids=st.lists(st.sampled_from(POOL), min_size=1, max_size=10))
    def delete(self, ids: list[str]) -> None:
        self.index.delete(ids=ids)
        for rid in ids:
            self.model.pop(rid, None)

    @rule()
    def flush(self) -> None:
        self.index.flush(optimize=False)

    @rule()
    def compact(self) -> None:
        compact_namespace(self.index._svc.store, "", force=True)

    @rule()
    def reopen(self) -> None:
        self.client.close()
        self.client = spruce.Client(path=self.dir, config=CONFIG)
        self.index = self.client.Index("m")

    @invariant()
    def matches_the_model(self) -> None:
        got = self.index.fetch(ids=POOL).vectors
        assert {rid: v.values[0] for rid, v in got.items()} == self.model
        assert self.index.describe_index_stats().total_vector_count == len(self.model)
        listed = [rid for page in self.index.list() for rid in page]
        assert sorted(listed) == sorted(self.model)


class SqueezedIdModel(IdModel):
    squeeze = True


_SETTINGS = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestIdModel = IdModel.TestCase
TestIdModel.settings = _SETTINGS
TestSqueezedIdModel = SqueezedIdModel.TestCase
TestSqueezedIdModel.settings = _SETTINGS


def _two_segments(data: Path) -> dict[str, float]:
    """Two segments on disk (the second overwrites some of the first's ids, one id is deleted)."""
    config = EngineConfig(background=False, ann_min_rows=1 << 30, fsync=False)
    expect: dict[str, float] = {}
    with spruce.Client(path=data, config=config) as db:
        db.create_index("h", dimension=2, metric="dotproduct")
        index = db.Index("h")
        for part in range(2):
            batch = [(f"k{part * 30 + j}", [float(part * 100 + j), 1.0]) for j in range(50)]
            index.upsert(vectors=batch)
            expect.update({rid: v[0] for rid, v in batch})
            index.flush(optimize=False)
        index.delete(ids=["k3"])
        expect.pop("k3")
        index.flush(optimize=False)
    return expect


def _segments(data: Path) -> list[Path]:
    root = data / "indexes" / "h" / "segments"
    return sorted(p for p in root.iterdir() if not p.name.startswith("."))


def _check(data: Path, expect: dict[str, float]) -> None:
    with spruce.Client(path=data) as db:
        index = db.Index("h")
        asked = [*sorted(expect), "k3", "nope", "k999"]
        got = index.fetch(ids=asked).vectors
        assert {rid: v.values[0] for rid, v in got.items()} == expect
        assert index.describe_index_stats().total_vector_count == len(expect)


def test_segments_without_stored_hashes_still_open_exactly(tmp_path: Path) -> None:
    """Segments written before idhash.npy existed (format version 2 without it): hashed on open."""
    data = tmp_path / "data"
    expect = _two_segments(data)
    for seg in _segments(data):
        info = load_checked((seg / "segment.json").read_bytes(), FORMAT, (VERSION,), seg / "segment.json")
        assert id_index.HASH_FILE in info["crc32"]
        del info["crc32"][id_index.HASH_FILE]
        (seg / id_index.HASH_FILE).unlink()
        (seg / "segment.json").write_bytes(dump_checked(FORMAT, VERSION, info))
    _check(data, expect)


def test_a_flipped_byte_in_the_stored_hashes_is_reported(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _two_segments(data)
    path = _segments(data)[1] / id_index.HASH_FILE
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x08
    path.write_bytes(bytes(raw))
    with spruce.Client(path=data) as db, pytest.raises(IndexFailedError, match="segment"):
        db.Index("h")

"""A compaction's streamed segment (engine/merge_write.py) and the two-thread file checksum
(engine/checksum.py): same bytes and CRCs as before, damage still reported, never served."""

from __future__ import annotations

import zlib
from pathlib import Path
from unittest import mock

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spruce
from spruce.config import EngineConfig
from spruce.engine import checksum, merge_write
from spruce.engine.checksum import file_crc32
from spruce.engine.compaction import compact_namespace
from spruce.engine.segment import map_vectors
from spruce.errors import IndexFailedError

DIM = 8
CONFIG = EngineConfig(memtable_max_rows=50, ann_min_rows=1 << 30, background=False, fsync=False)


@given(st.binary(max_size=5000), st.integers(2, 5))
@settings(max_examples=60, deadline=None)
def test_parallel_file_crc_is_zlib_crc(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, parts: int
) -> None:
    path = tmp_path_factory.mktemp("crc") / "f"
    path.write_bytes(data)
    with mock.patch.multiple(checksum, _PARALLEL_MIN_BYTES=1, PARALLEL=parts):
        assert file_crc32(path) == zlib.crc32(data)
        if data:
            flipped = bytearray(data)
            flipped[len(data) // 2] ^= 0x40
            path.write_bytes(bytes(flipped))
            assert file_crc32(path) != zlib.crc32(data)


def _vec(i: int) -> list[float]:
    return [float(i), float(i % 7), 1.0, -1.0, float(i % 3), 0.5, 2.0, float(-i)]


def _merged(data: Path) -> tuple[Path, dict[str, list[float]]]:
    """Three segments with overwrites and deletes, merged into one; returns its directory and the
    expected current vectors."""
    expect: dict[str, list[float]] = {}
    with spruce.Client(path=data, config=CONFIG) as db:
        db.create_index("m", dimension=DIM, metric="euclidean")
        index = db.Index("m")
        for part in range(3):
            batch = [(f"r{(part * 37 + j) % 120}", _vec(part * 1000 + j)) for j in range(50)]
            index.upsert(vectors=batch)
            expect.update(dict(batch))
            index.flush(optimize=False)
        index.delete(ids=["r5", "r77"])
        for rid in ("r5", "r77"):
            expect.pop(rid, None)
        with mock.patch.object(merge_write, "CHUNK_BYTES", 3 * 4 * DIM):  # 3 rows a chunk
            assert compact_namespace(index._svc.store, "", force=True)
        index.flush(optimize=False)
        seg_dirs = [p for p in (data / "indexes" / "m" / "segments").iterdir() if not p.name.startswith(".")]
        assert len(seg_dirs) == 1
        got = index.fetch(ids=sorted(expect)).vectors
        assert {k: list(v.values) for k, v in got.items()} == expect
    return seg_dirs[0], expect


def test_merged_segment_streams_the_right_rows_with_the_right_crc(tmp_path: Path) -> None:
    seg, expect = _merged(tmp_path / "data")
    info = orjson.loads((seg / "segment.json").read_bytes())
    assert info["crc32"]["vectors.npy"] == zlib.crc32((seg / "vectors.npy").read_bytes())
    vectors = np.load(seg / "vectors.npy", allow_pickle=False)
    assert vectors.shape == (info["n"], DIM)
    with spruce.Client(path=tmp_path / "data", config=CONFIG) as db:
        got = db.Index("m").fetch(ids=sorted(expect)).vectors
        assert {k: list(v.values) for k, v in got.items()} == expect


@pytest.mark.parametrize("where", [0.1, 0.5, 0.99])
def test_a_flipped_byte_in_a_merged_segment_is_reported_never_served(tmp_path: Path, where: float) -> None:
    seg, _ = _merged(tmp_path / "data")
    path = seg / "vectors.npy"
    raw = bytearray(path.read_bytes())
    raw[int(len(raw) * where)] ^= 0x01
    path.write_bytes(bytes(raw))
    # The two-thread path reads this small file too, so the flip lands in either half.
    with (
        mock.patch.object(checksum, "_PARALLEL_MIN_BYTES", 1),
        spruce.Client(path=tmp_path / "data", config=CONFIG) as db,
        pytest.raises(IndexFailedError, match="segment"),
    ):
        db.Index("m")


def test_release_rows_keeps_the_values_and_leaves_heap_memory_alone(tmp_path: Path) -> None:
    rows = np.arange(4096 * DIM, dtype=np.float32).reshape(4096, DIM)
    heap = rows.copy()
    assert merge_write.file_mapping(heap) is None
    merge_write.release_rows(heap, 0, len(heap))
    assert np.array_equal(heap, rows)
    seg = tmp_path / "seg"
    seg.mkdir()
    np.save(seg / "vectors.npy", rows)
    mapped = map_vectors(seg)
    assert merge_write.file_mapping(mapped) is not None
    assert float(mapped.sum()) == float(rows.sum())  # every page resident now
    merge_write.release_rows(mapped, 0, len(mapped))
    merge_write.release_rows(mapped, 100, 3000)
    assert np.array_equal(mapped, rows)  # read again from the page cache

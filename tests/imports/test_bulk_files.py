"""The bulk writer's own file handling: CRCs computed while writing (the .npy header's combined with
the body's) equal a re-read's, errors of its write thread reach the caller, and files are read across
namespace boundaries in order."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.config import EngineConfig
from spruce.engine.bulk import SparseColumns, crc32_combine
from spruce.engine.id_index import HASH_FILE
from spruce.engine.segment import SEGMENT_FILES, file_crc32, verify_segment
from spruce.engine.store import Store
from spruce.service.import_sources import read_batches
from tests.imports.conftest import dense_table

CFG = EngineConfig(background=False)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=3000))
def test_crc32_combine_equals_the_crc_of_the_concatenation(a: bytes, b: bytes) -> None:
    assert crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_checksums_written_match_the_files_and_survive_reopening(tmp_path: Path) -> None:
    store = Store(tmp_path, 3, "dotproduct", CFG)
    writer = store.bulk_writer(segment_rows=5)  # 12 rows: three segments, one rolled over mid-batch
    rng = np.random.default_rng(1)
    # r0 twice in the first segment (a deletion bitmap), r1 and r0 again in the second: the last wins.
    for start, names in ((0, "r0 r1 r2 r0"), (4, "r4 r5 r6 r7"), (8, "r8 r9 r0 r1")):
        ids = pa.array(names.split())
        sparse = SparseColumns(
            np.array([0, 1, 1, 3, 4]), np.array([5, 1, 9, 2], np.uint32), rng.random(4, dtype=np.float32)
        )
        dense = rng.standard_normal((4, 3), dtype=np.float32)
        writer.write(ids, dense, sparse, pa.array([f'{{"s":{start}}}'] * 4))
    segments = writer.finish()
    assert [s.rows for s in segments] == [8, 4]
    for seg in segments:
        info = verify_segment(seg.path, seg.alive_file)  # raises on any mismatch
        files = (*SEGMENT_FILES, HASH_FILE)  # the sorted id hashes are checksummed too
        assert info["crc32"] == {name: file_crc32(seg.path / name) for name in files}
    assert segments[0].alive_file is not None
    assert store.publish_namespace("ns", segments) == 9
    store.close()
    reopened = Store(tmp_path, 3, "dotproduct", CFG)  # opening verifies every checksum again
    assert reopened.namespace_counts() == {"ns": 9}
    assert reopened.fetch("ns", ["r0"])["r0"].metadata == {"s": 8}
    reopened.close()


def test_an_error_in_the_write_thread_reaches_the_caller_and_abort_cleans_up(tmp_path: Path) -> None:
    store = Store(tmp_path, 2, "cosine", CFG)
    writer = store.bulk_writer()
    dense = np.ones((1, 2), np.float32)
    bad_utf8 = pa.array([b"\xff"], pa.binary())  # cast to string fails in the write thread
    writer.write(pa.array(["a"]), dense, None, bad_utf8)
    with pytest.raises(pa.ArrowInvalid):
        for _ in range(10):  # raised by a later write at the latest by finish
            writer.write(pa.array(["b"]), dense, None, pa.nulls(1, pa.string()))
        writer.finish()
    writer.abort()
    assert list((tmp_path / "segments").iterdir()) == []
    store.close()


def test_read_batches_spans_files_in_order_and_marks_their_ends(tmp_path: Path) -> None:
    paths = []
    for k in range(3):
        path = tmp_path / f"p{k}.parquet"
        pq.write_table(dense_table(f"f{k}-", 10 + k, 4, k), path, row_group_size=4)
        paths.append(str(path))
    seen: list[tuple[int, int | None]] = []
    ids: list[str] = []
    for number, batch in read_batches(pafs.LocalFileSystem(), paths, lambda: None):
        seen.append((number, None if batch is None else batch.num_rows))
        if batch is not None:
            ids += batch.column("id").to_pylist()
    assert [n for n, rows in seen if rows is None] == [0, 1, 2]
    assert [sum(r or 0 for n, r in seen if n == k) for k in range(3)] == [10, 11, 12]
    assert ids == [f"f{k}-{i}" for k in range(3) for i in range(10 + k)]

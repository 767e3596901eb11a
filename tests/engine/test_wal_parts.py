"""A payload given as parts (codec.encode_put_parts: header, then the dense block as a view of the
caller's array) is one frame with the same bytes and CRC as the joined payload, so old and new WALs
read alike and no format version changes."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from spruce.engine import codec
from spruce.engine.wal import Wal
from spruce.types import Record, SparseVector


def _records(n: int, dim: int) -> tuple[list[Record], np.ndarray]:
    dense = np.random.default_rng(n).standard_normal((n, dim)).astype(np.float32)
    recs = [Record(f"r{i}", dense[i], None, {"i": i}) for i in range(n)]
    recs[1].sparse_values = SparseVector(np.array([3, 9], np.uint32), np.array([0.5, 0.25], np.float32))
    return recs, dense


def test_parts_join_to_encode_put() -> None:
    recs, dense = _records(5, 8)
    parts = codec.encode_put_parts("ns", recs, 8, dense)
    assert b"".join(parts) == codec.encode_put("ns", recs, 8, dense)
    assert len(parts) > 2  # the dense block is its own part, not copied into the header's bytes


def test_a_frame_of_parts_reads_back_as_the_joined_payload(tmp_path: Path) -> None:
    recs, dense = _records(50, 16)
    parts = codec.encode_put_parts("ns", recs, 16, dense)
    wal, _ = Wal.open(tmp_path)
    wal.append(b"before")
    lsn = wal.append(parts)
    wal.append(memoryview(dense).cast("B"))  # a float32 view: its bytes, not its item count
    wal.close()
    wal, report = Wal.open(tmp_path)  # recovery checks every CRC
    frames = list(wal.replay())
    wal.close()
    assert report.frames == 3 and report.torn_bytes == 0
    assert frames[1] == (lsn, b"".join(parts))
    assert frames[2][1] == dense.tobytes()
    op = codec.decode(frames[1][1])
    assert [r.id for r in op.records] == [r.id for r in recs]
    np.testing.assert_array_equal(np.stack([r.values for r in op.records]), dense)
    assert op.records[1].sparse_values is not None

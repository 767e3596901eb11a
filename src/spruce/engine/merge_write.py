"""A compaction's merged segment, written with its vectors streamed from the inputs into the file.

Gathering the merged vectors into one heap array and then saving it held 1x the merged vectors on the
heap, and the inputs' memory-mapped pages that the gather read counted in RSS as well (file-backed,
reclaimable, but RSS): a merge of 1M x 128 peaked at ~2x its vectors above everything else. Here the
rows are gathered a chunk at a time (CHUNK_BYTES) into one reused buffer, appended to vectors.npy with
a running CRC-32 (the bulk writer's `NpyAppender`, whose writeback starts as it goes), and the pages of
the input mapping a chunk read are released from this process's page table at once (madvise
MADV_DONTNEED: the page cache keeps them, a concurrent query reading them faults them in again). The
merged block then serves its vectors and metadata from the mapped files, like any written segment.

Ids, norms, sparse arrays and metadata (encoded) are still gathered in memory: small next to the
vectors, and rows.arrow is written from them as a checkpoint writes it.
"""

from __future__ import annotations

import mmap
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from spruce.engine.bulk import NpyAppender
from spruce.engine.lazy_ids import take_ids
from spruce.engine.lazy_meta import gather
from spruce.engine.rows import RowBlock
from spruce.engine.segment import map_metadata, map_vectors, write_segment
from spruce.engine.sparse import SparseRows
from spruce.types import FloatArray, IntArray

CHUNK_BYTES = 8 << 20


def file_mapping(arr: np.ndarray) -> mmap.mmap | None:
    """The read-only file mapping `arr` is a view of, or None (heap memory, or anything else)."""
    base: object = arr
    while base is not None:
        if isinstance(base, mmap.mmap):
            return base
        base = getattr(base, "base", None)
    return None


def release_rows(arr: FloatArray, start: int, stop: int) -> None:
    """Drop this process's resident pages of rows [start, stop) of a file-mapped array, whole pages
    only (a page shared with a row outside the range stays). Heap arrays are left alone: the same
    advice on anonymous memory would zero it."""
    mapping = file_mapping(arr)
    if mapping is None or stop <= start or arr.ndim != 2:
        return
    try:
        origin = np.frombuffer(mapping, dtype=np.uint8).ctypes.data
    except ValueError:  # closed
        return
    row_bytes = arr.strides[0]
    first = arr.ctypes.data - origin + start * row_bytes
    last = arr.ctypes.data - origin + stop * row_bytes
    page = mmap.PAGESIZE
    first = -(-first // page) * page
    last = min(last // page * page, len(mapping) // page * page)
    if last > first:
        mapping.madvise(mmap.MADV_DONTNEED, first, last - first)


def _stream_vectors(path: Path, dimension: int, parts: Sequence[tuple[RowBlock, IntArray]]) -> int:
    """Write vectors.npy holding the given rows of each part, in order; returns its CRC-32."""
    out = NpyAppender(path, np.dtype(np.float32), (dimension,))
    try:
        step = max(1, CHUNK_BYTES // (4 * dimension))
        buf = np.empty((step, dimension), dtype=np.float32)
        for block, rows in parts:
            for i in range(0, len(rows), step):
                chunk = rows[i : i + step]
                k = len(chunk)
                np.take(block.dense, chunk, axis=0, out=buf[:k], mode="clip")  # clip: unbuffered
                out.append(buf[:k])
                # Rows are ascending: everything up to this chunk's last row has been read.
                release_rows(block.dense, int(chunk[0]), int(chunk[-1]) + 1)
        return out.close()
    except BaseException:
        out.abort()
        raise


def _columns(dimension: int, block_id: int, parts: Sequence[tuple[RowBlock, IntArray]]) -> RowBlock:
    """The merged block without its vectors (`dense` is an empty placeholder until mapped)."""
    ids: list[str] = []
    total = sum(len(rows) for _, rows in parts)
    norms = np.empty(total, dtype=np.float32)
    sparse_parts = []
    pos = 0
    for block, rows in parts:
        ids.extend(take_ids(block.ids, rows))
        np.take(block.sq_norms, rows, out=norms[pos : pos + len(rows)], mode="clip")
        sparse_parts.append(block.sparse.take(rows))
        pos += len(rows)
    return RowBlock(
        dimension,
        ids=ids,
        dense=np.empty((0, dimension), dtype=np.float32),
        sq_norms=norms,
        sparse=SparseRows.concat(sparse_parts),
        metadata=gather([(block.metadata, rows.tolist()) for block, rows in parts]),
        sealed=True,
        block_id=block_id,
    )


def write_merged(
    root: Path, dimension: int, block_id: int, parts: Sequence[tuple[RowBlock, IntArray]]
) -> RowBlock:
    """Write one segment under `root` holding the given rows of the given blocks, in order, and return
    it as a persisted block (vectors and metadata mapped from its files). Needs dense vectors
    (dimension > 0) and at least one row; the in-memory gather covers the other cases."""
    assert dimension > 0
    block = _columns(dimension, block_id, parts)
    assert block.n > 0
    seg_dir = write_segment(root, block, vectors=lambda path: _stream_vectors(path, dimension, parts))
    block.dense = map_vectors(seg_dir)
    block.metadata = map_metadata(seg_dir)
    block.persisted = True
    return block

"""Putting a built HNSW graph's nodes back in row order, in place.

Calibration holds out a random sample of a segment's rows: the graph is built over the others, the
sample is searched as new queries, and then added too. faiss numbers nodes in the order they were
added, and a segment's graph must number them by row (labels are rows), so afterwards the nodes added
out of order are renumbered. The held-out rows of the last ones could be left where they are, but on
data inserted in sorted order (by topic, by time) those rows are all alike and unlike the rest, and
the width measured on them was wrong in both directions: 1.3x too narrow on GloVe sorted along its
first principal axis (recall 0.983 where 0.99 was the target), 2x too wide on sorted clusters.

faiss has `permute_entries`, but it builds new copies of the vectors and the links: a third copy of a
graph's vectors at its peak (3 GB at 1M x 768). Here, only the held-out rows are copied aside; the
rest move right, run by run, in chunks, within faiss' own buffers.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import faiss
import numpy as np

from spruce.types import IntArray

_CHUNK_ELEMENTS = 1 << 20  # elements moved (or remapped) per numpy call: bounds the temporaries


def _view(vector: Any, dtype: type[np.generic]) -> np.ndarray[Any, Any]:
    """A writable numpy view of a faiss vector's memory (no copy)."""
    view = faiss.rev_swig_ptr(vector.data(), vector.size())
    assert view.dtype == dtype, (view.dtype, dtype)
    return view


def restore_row_order(index: Any, start: int, kept: IntArray, held: IntArray) -> None:
    """Renumber the graph's nodes `start`.. so that node `start + r` is row `start + r`.

    They were added as `kept` (positions from `start`, ascending) and then `held` (ascending): node
    `start + j` is row `start + kept[j]` for j < len(kept), then row `start + held[j - len(kept)]`.
    """
    kept = np.asarray(kept, dtype=np.int64)
    held = np.asarray(held, dtype=np.int64)
    tail = len(kept) + len(held)
    assert int(index.ntotal) == start + tail
    if not len(held) or np.array_equal(held, np.arange(len(kept), tail)):
        return  # the held-out rows were the last ones: already in row order
    row_of_node = np.concatenate([kept, held])  # node start + j is row start + row_of_node[j]
    hnsw = index.hnsw

    # Vectors: a fixed number of bytes per node.
    codes = _view(faiss.downcast_index(index.storage).codes, np.uint8)  # type: ignore[attr-defined]
    size = len(codes) // int(index.ntotal)
    nodes = np.arange(tail, dtype=np.int64)
    _move(
        codes,
        (start + nodes) * size,
        (start + row_of_node) * size,
        np.full(tail, size, dtype=np.int64),
        len(kept),
    )

    # Links: each node's block of neighbour slots (its size depends on the node's level).
    offsets = _view(hnsw.offsets, np.uint64)
    old_starts = offsets[start : start + tail].astype(np.int64)
    bounds = offsets[start : start + tail + 1].astype(np.int64)
    sizes = np.asarray(bounds[1:] - bounds[:-1], dtype=np.int64)
    by_row = np.empty(tail, dtype=np.int64)
    by_row[row_of_node] = sizes  # the block sizes in the new order
    new_offsets = int(offsets[start]) + np.concatenate([[0], np.cumsum(by_row)])
    new_starts = new_offsets[:-1][row_of_node]  # indexed by old node, like old_starts
    neighbours = _view(hnsw.neighbors, np.int32)
    _move(neighbours, old_starts, new_starts, sizes, len(kept))
    offsets[start : start + tail + 1] = new_offsets.astype(np.uint64)

    levels = _view(hnsw.levels, np.int32)
    tail_levels = levels[start:].copy()
    levels[start + row_of_node] = tail_levels

    # Every link to a renumbered node (old nodes' lists gain links to the new ones too).
    new_id = (start + row_of_node).astype(np.int32)
    for lo in range(0, len(neighbours), _CHUNK_ELEMENTS):
        part = neighbours[lo : lo + _CHUNK_ELEMENTS]
        moved = part >= start
        part[moved] = new_id[part[moved] - start]
    if hnsw.entry_point >= start:
        hnsw.entry_point = int(new_id[hnsw.entry_point - start])


def _move(buf: np.ndarray[Any, Any], old: IntArray, new: IntArray, sizes: IntArray, n_kept: int) -> None:
    """Move node blocks within `buf` from `old` to `new` element offsets (both indexed by node).

    The kept nodes (the first `n_kept`) keep their order and only move right, each by the total size of
    the held nodes placed before it; the held nodes (the rest) lie at the end. So: copy the held blocks
    aside, move the kept ones run by run from the last, then write the held ones in their places.
    """
    end = int(old[-1] + sizes[-1])
    aside = buf[int(old[n_kept]) : end].copy() if n_kept < len(old) else buf[:0].copy()
    shifts = new[:n_kept] - old[:n_kept]
    # Runs of kept nodes with the same shift: [bounds[i], bounds[i + 1]).
    bounds = [0, *(np.flatnonzero(np.diff(shifts)) + 1).tolist(), n_kept] if n_kept else []
    for first, last in reversed(list(pairwise(bounds))):
        shift = int(shifts[first])
        if shift == 0:
            break  # shifts only grow along the kept nodes: every earlier run stays too
        lo, hi = int(old[first]), int(old[last - 1] + sizes[last - 1])
        # From the right end leftwards: a chunk never lands on data still to be read.
        for top in range(hi, lo, -_CHUNK_ELEMENTS):
            bottom = max(lo, top - _CHUNK_ELEMENTS)
            buf[bottom + shift : top + shift] = buf[bottom:top]
    held_sizes = sizes[n_kept:]
    if len(held_sizes):
        within = np.arange(int(held_sizes.sum())) - np.repeat(
            np.concatenate([[0], np.cumsum(held_sizes)[:-1]]), held_sizes
        )
        buf[np.repeat(new[n_kept:], held_sizes) + within] = aside

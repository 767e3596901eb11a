"""Putting a built HNSW graph's nodes back in row order, in place.

Calibration holds out a random sample of a segment's rows: the graph is built over the others, the
sample is searched as new queries, and then added too. faiss numbers nodes in the order they were
added, and a segment's graph must number them by row (labels are rows), so afterwards the nodes added
out of order are renumbered. Holding out the last rows would need no renumbering, and was what
calibration did before; but on data inserted in sorted order (by topic, by time) the last rows are all
alike and unlike the rest: on GloVe sorted along its first principal axis they picked width 80 where
0.99 needed 160, and new queries got recall 0.971 (benchmarks/sorted_inserts.py).

faiss has `permute_entries`, but it builds new copies of the vectors and the links: a third copy of a
graph's vectors at its peak (3 GB at 1M x 768). Here, only the held-out rows are copied aside; the
rest move right, run by run, in chunks, within faiss' own buffers.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from spruce.types import IntArray

_CHUNK_ELEMENTS = 1 << 20  # elements moved (or remapped) per numpy call: bounds the temporaries


@dataclass(frozen=True, slots=True)
class GraphArrays:
    """Writable numpy views of an HNSW graph's own buffers (ann.py makes them; no copies)."""

    codes: np.ndarray[Any, Any]  # uint8: each node's vector, a fixed number of bytes
    offsets: np.ndarray[Any, Any]  # uint64, n + 1: where each node's neighbour slots start
    neighbours: np.ndarray[Any, Any]  # int32: node ids, -1 for an empty slot
    levels: np.ndarray[Any, Any]  # int32, n: each node's level count


def restore_row_order(
    graph: GraphArrays, entry_point: int, start: int, kept: IntArray, held: IntArray
) -> int:
    """Renumber the graph's nodes `start`.. so that node `start + r` is row `start + r`; returns the
    entry point's new number.

    They were added as `kept` (positions from `start`, ascending) and then `held` (ascending): node
    `start + j` is row `start + kept[j]` for j < len(kept), then row `start + held[j - len(kept)]`.
    """
    kept = np.asarray(kept, dtype=np.int64)
    held = np.asarray(held, dtype=np.int64)
    tail = len(kept) + len(held)
    total = len(graph.levels)
    assert total == start + tail
    if not len(held) or np.array_equal(held, np.arange(len(kept), tail)):
        return entry_point  # the held-out rows were the last ones: already in row order
    row_of_node = np.concatenate([kept, held])  # node start + j is row start + row_of_node[j]

    # Vectors: a fixed number of bytes per node.
    size = len(graph.codes) // total
    nodes = np.arange(tail, dtype=np.int64)
    code_sizes = np.full(tail, size, dtype=np.int64)
    _move(graph.codes, (start + nodes) * size, (start + row_of_node) * size, code_sizes, len(kept))

    # Links: each node's block of neighbour slots (its size depends on the node's level).
    offsets = graph.offsets
    bounds = offsets[start : start + tail + 1].astype(np.int64)
    sizes = np.asarray(bounds[1:] - bounds[:-1], dtype=np.int64)
    by_row = np.empty(tail, dtype=np.int64)
    by_row[row_of_node] = sizes  # the block sizes in the new order
    new_offsets = int(bounds[0]) + np.concatenate([[0], np.cumsum(by_row)])
    new_starts = new_offsets[:-1][row_of_node]  # indexed by old node, like bounds[:-1]
    neighbours = graph.neighbours
    _move(neighbours, bounds[:-1], new_starts, sizes, len(kept))
    offsets[start : start + tail + 1] = new_offsets.astype(np.uint64)

    tail_levels = graph.levels[start:].copy()
    graph.levels[start + row_of_node] = tail_levels

    # Every link to a renumbered node (old nodes' lists gain links to the new ones too).
    new_id = (start + row_of_node).astype(np.int32)
    for lo in range(0, len(neighbours), _CHUNK_ELEMENTS):
        part = neighbours[lo : lo + _CHUNK_ELEMENTS]
        moved = part >= start
        part[moved] = new_id[part[moved] - start]
    return int(new_id[entry_point - start]) if entry_point >= start else entry_point


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

"""Scoring one block for a query, exactly or through its ANN index, and merging blocks' top-k.

Scores follow Pinecone: cosine and dotproduct are larger-is-better; euclidean is the squared distance,
smaller-is-better. Internally every candidate carries a rank key (larger is better: the score, or the
negated distance) so merging is metric-agnostic. Hybrid (dense + sparse) and sparse queries are always
exact; dense queries use the block's HNSW index when the block has one and the allowed rows are too
costly to scan (decided per block by estimated cost: see planner.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from spruce.engine.ann import AnnIndex
from spruce.engine.blas import single_threaded_blas
from spruce.engine.kernels import inner_products, inner_products_by_index
from spruce.engine.planner import choose
from spruce.engine.sparse import SparseSnapshot
from spruce.engine.stats import COUNTERS
from spruce.types import BoolArray, FloatArray, IntArray, SparseVector

_EF_CAP = 4096
_BLAS_SINGLE_THREAD_ROWS = 1024  # below this a scan is too small for BLAS to thread; skip the ~10 us toggle
_FILTERED_EF_FLOOR = 64


@dataclass(frozen=True, slots=True)
class QuerySpec:
    metric: str
    top_k: int
    dense: FloatArray | None
    sparse: SparseVector | None
    ef_search: int  # 0: each graph's calibrated width
    exact_max_rows: int

    @property
    def q_sq_norm(self) -> float:
        return 0.0 if self.dense is None else float(np.dot(self.dense, self.dense))


@dataclass(slots=True)
class BlockView:
    """What a query needs of a block, captured under the store lock; valid after it is released."""

    block_key: int
    n: int
    dense: FloatArray
    sq_norms: FloatArray
    sparse: SparseSnapshot
    allowed: BoolArray | None  # None when `rows` says the same thing (built on demand: `mask()`)
    allowed_count: int
    all_alive_unfiltered: bool
    ann: AnnIndex | None
    rows: IntArray | None = None  # the allowed rows ascending, when a block index produced them
    inv_norms: FloatArray | None = None  # 1 / |row| of a sealed block (0 for zero rows)
    gathered: FloatArray | None = None  # the vectors of `rows`, side by side (hot_rows.py)

    def mask(self) -> BoolArray:
        if self.allowed is None:
            assert self.rows is not None
            allowed = np.zeros(self.n, dtype=np.bool_)
            allowed[self.rows] = True
            self.allowed = allowed
        return self.allowed

    def allowed_rows(self) -> IntArray:
        if self.rows is None:
            self.rows = np.flatnonzero(self.mask()).astype(np.int64, copy=False)
        return self.rows


def score_rows(view: BlockView, spec: QuerySpec, rows: IntArray | None) -> tuple[FloatArray, FloatArray]:
    """(scores, rank keys) of `rows` (None: all n rows) of the block."""
    n = view.n if rows is None else len(rows)
    if rows is None and n >= _BLAS_SINGLE_THREAD_ROWS and not _faiss_ok(view, spec.dense):
        with single_threaded_blas():
            return _score_rows(view, spec, rows, n)
    return _score_rows(view, spec, rows, n)


def _faiss_ok(view: BlockView, q: FloatArray | None) -> bool:
    dense = view.dense
    return (
        q is not None
        and dense.dtype == np.float32
        and dense.flags.c_contiguous
        and q.dtype == np.float32
        and q.flags.c_contiguous
    )


def _dots(view: BlockView, q: FloatArray, rows: IntArray | None) -> FloatArray:
    """Dot products of the query with `rows` (None: all n rows).

    faiss' single-threaded SIMD kernels score the rows where they lie: no gathered copy (which cost
    more than the dot products: 1k of 100k x 768 rows, 133 us gathered and multiplied, 81 us here),
    no BLAS (whose thread pool must be limited to one per query, and entering that limit through
    threadpoolctl cost ~10-17 us a query).
    """
    dense = view.dense
    if not _faiss_ok(view, q):
        mat = dense[: view.n] if rows is None else np.take(dense, rows, axis=0)
        return np.asarray(mat @ q, dtype=np.float32)
    if rows is not None and view.gathered is not None and rows is view.rows:
        return inner_products(view.gathered, q, len(rows))  # the same rows, side by side
    if rows is None:
        return inner_products(dense, q, view.n)
    return inner_products_by_index(dense, q, rows)


def _score_rows(
    view: BlockView, spec: QuerySpec, rows: IntArray | None, n: int
) -> tuple[FloatArray, FloatArray]:
    scores: FloatArray
    if spec.dense is not None and view.dense.shape[1]:
        scores = _dense_scores(view, spec, spec.dense, rows)
    else:
        scores = np.zeros(n, dtype=np.float32)
    if spec.sparse is not None and len(spec.sparse.indices):
        sparse_scores = view.sparse.dot(spec.sparse)
        scores = scores + (sparse_scores if rows is None else sparse_scores[rows])
    keys = -scores if spec.metric == "euclidean" else scores
    return scores, keys


def _dense_scores(view: BlockView, spec: QuerySpec, q: FloatArray, rows: IntArray | None) -> FloatArray:
    q_sq = spec.q_sq_norm
    if spec.metric == "cosine" and view.inv_norms is not None:
        if q_sq == 0:  # a zero query has zero dot products: its scores are 0 already
            return _dots(view, q, rows)
        # The query is normalised before the dot products (d multiplies), so each row needs one
        # multiply, in place: scaling the n row factors by 1 / |q| first cost a temporary a query.
        scores = _dots(view, np.asarray(q * np.float32(1.0 / np.sqrt(q_sq)), dtype=np.float32), rows)
        inv = view.inv_norms[: view.n] if rows is None else np.take(view.inv_norms, rows)
        return np.multiply(scores, inv, out=scores)
    scores = _dots(view, q, rows)
    if spec.metric == "dotproduct":
        return scores
    norms = view.sq_norms[: view.n] if rows is None else np.take(view.sq_norms, rows)
    if spec.metric == "cosine":
        # One sqrt and one masked divide in place: a zero norm (either side) leaves the dot
        # product, which is then 0 itself. No errstate context (it cost more than the
        # arithmetic on a few hundred rows).
        denom = np.sqrt(norms * np.float32(q_sq))
        np.divide(scores, denom, out=scores, where=denom > 0)
        return scores
    return np.maximum(norms - 2.0 * scores + q_sq, 0.0).astype(np.float32)


_SORT_MAX_ROWS = 512
_SCREEN_WIDTH = 64


def _top(keys: FloatArray, k: int) -> IntArray:
    """Positions of the k largest keys, best first; equal keys in position order (lower rows
    first), so a tie is always broken the same way whatever the partition happened to do."""
    n = len(keys)
    width = min(_SCREEN_WIDTH, n // (8 * k))
    if n > _SORT_MAX_ROWS and width >= 2:
        # Screen first: split the keys into groups (position modulo n / width: a column-wise max,
        # which numpy vectorises, where a max per run was 6x slower); the k-th largest group maximum
        # is at most the k-th largest key (k groups hold a key at least that large), so every key of
        # the top k is at or above it. A scan of 2k-20k keys then sorts a few dozen, not all of them.
        m = n - n % width
        maxima = keys[:m].reshape(width, -1).max(axis=0)
        bound = np.partition(maxima, len(maxima) - k)[len(maxima) - k]
        candidates = np.flatnonzero(keys >= bound)
        return np.asarray(candidates[_top_exact(keys[candidates], k)], dtype=np.int64)
    return _top_exact(keys, k)


def _top_exact(keys: FloatArray, k: int) -> IntArray:
    n = len(keys)
    if n <= max(k, _SORT_MAX_ROWS):
        # One stable sort of a few hundred keys (~4 us at 200) beats a partition, a tie check and a
        # sort of the k (~9 us): numpy's argpartition costs ~10 ns a key here. lexsort's last key is
        # the primary one: larger keys first, then lower positions.
        return np.asarray(np.lexsort((np.arange(n), -keys))[:k], dtype=np.int64)
    # Partition for the k largest directly: negating every key first cost a temporary per query.
    part = np.argpartition(keys, n - k)[n - k :]
    top = keys[part]
    threshold = top.min()
    if np.count_nonzero(keys == threshold) > np.count_nonzero(top == threshold):
        # A tie straddles the cut: keep the lowest positions among the tied keys.
        above = np.flatnonzero(keys > threshold)
        tied = np.flatnonzero(keys == threshold)[: k - len(above)]
        part = np.concatenate([above, tied])
        top = keys[part]
    return np.asarray(part[np.lexsort((part, -top))], dtype=np.int64)


def _frozen_empty(dtype: type[np.generic]) -> Any:
    a = np.zeros(0, dtype=dtype)
    a.setflags(write=False)
    return a


_EMPTY: tuple[IntArray, FloatArray, FloatArray] = (
    _frozen_empty(np.int64),
    _frozen_empty(np.float32),
    _frozen_empty(np.float32),
)


def search_block(view: BlockView, spec: QuerySpec) -> tuple[IntArray, FloatArray, FloatArray]:
    """Top-k (rows, scores, keys) of one block among its allowed rows."""
    if view.allowed_count == 0:
        return _EMPTY
    dim = max(view.dense.shape[1] if view.dense.ndim == 2 else 0, 1)
    selectivity = view.allowed_count / max(view.n, 1)
    ef = 0
    graph_ok = (
        view.ann is not None
        and spec.sparse is None
        and spec.dense is not None
        # A graph that could not reach its target recall at any width is scanned instead, unless the
        # caller fixed the width itself.
        and (spec.ef_search > 0 or view.ann.trusted_for(spec.top_k))
    )
    if graph_ok:
        assert view.ann is not None
        # A narrower filter leaves fewer allowed nodes on the graph's paths: widen the beam in
        # proportion (design: ef >= 2048 was needed for recall 0.99 at 1%), within a cap.
        # Twice the inverse selectivity: measured at 10% on 100k x 768, ef 640 gave recall 0.92.
        boost = min(64.0, 2.0 / selectivity) if selectivity < 0.5 else (1.0 / selectivity)
        width = spec.ef_search or view.ann.ef_for(spec.top_k)
        base = max(width, spec.top_k, _FILTERED_EF_FLOOR if selectivity < 1.0 else 0)
        ef = min(int(base * boost), max(_EF_CAP, spec.ef_search))
    # The configured budget caps narrow-filter scans (in floats: more rows at lower dimensions).
    cap = spec.exact_max_rows * 768 // dim if selectivity < 0.5 else None
    # Without a usable graph there is nothing to choose (and `degree` is a call into faiss).
    use_ann = (
        graph_ok
        and choose(
            allowed=view.allowed_count,
            n=view.n,
            dim=dim,
            ef=ef,
            degree=view.ann.degree if view.ann is not None else 0,
            max_scan_rows=cap,
        ).use_ann
    )
    COUNTERS.searched(view.allowed_count, use_ann)
    if use_ann:
        assert view.ann is not None and spec.dense is not None
        allowed = None if view.all_alive_unfiltered else view.mask()
        if view.ann.quantized:
            # Candidates found on 8-bit codes, scored as an exact scan scores rows (so scores and
            # the order of ties, by row, agree with it).
            _, found = view.ann.candidates(spec.dense, spec.top_k, ef, allowed)
            return _rank_rows(view, spec, np.sort(found))
        rows, scores = view.ann.search(spec.dense, spec.top_k, ef, allowed)
        # faiss returns them best first, scored in the metric's own convention.
        keys = -scores if spec.metric == "euclidean" else scores
        return rows, scores, keys
    if view.allowed_count == view.n:
        scores, keys = score_rows(view, spec, None)
        order = _top(keys, spec.top_k)
        return order, scores[order], keys[order]
    if view.allowed_count * 4 >= view.n:
        # Most rows allowed: one contiguous mat-vec beats gathering rows one by one.
        scores, keys = score_rows(view, spec, None)
        keys = np.where(view.mask(), keys, -np.inf).astype(np.float32)
        order = _top(keys, min(spec.top_k, view.allowed_count))
        return order, scores[order], keys[order]
    return _rank_rows(view, spec, view.allowed_rows())


def _rank_rows(view: BlockView, spec: QuerySpec, rows: IntArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """Top-k (rows, scores, keys) among `rows` (ascending, so ties go by row), scored exactly."""
    scores, keys = score_rows(view, spec, rows)
    order = _top(keys, spec.top_k)
    return rows[order], scores[order], keys[order]


def merge_top_k(
    parts: list[tuple[int, IntArray, FloatArray, FloatArray]], k: int
) -> list[tuple[int, int, float]]:
    """Merge per-block results into the global top-k as (block_key, row, score)."""
    if not parts:
        return []
    if len(parts) == 1:
        # One block (the common layout after a flush): already ranked, nothing to merge.
        b, r, s, _ = parts[0]
        return [(b, row, score) for row, score in zip(r[:k].tolist(), s[:k].tolist(), strict=True)]
    blocks = np.concatenate([np.full(len(r), b, dtype=np.int64) for b, r, _, _ in parts])
    rows = np.concatenate([r for _, r, _, _ in parts])
    scores = np.concatenate([s for _, _, s, _ in parts])
    keys = np.concatenate([kk for _, _, _, kk in parts])
    order = _top(keys, k)
    return [(int(blocks[i]), int(rows[i]), float(scores[i])) for i in order]

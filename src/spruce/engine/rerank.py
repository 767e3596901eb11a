"""Exact scores for the candidates of a quantised graph.

A graph whose storage is 8-bit codes (ann.py) walks its links on approximate distances, which is where
a search's time goes at 384-d and up: a code is a quarter of a float32 row to read. Its candidates
are then scored again here against the block's own float32 rows, so the scores a query returns are
the metric's exact ones, as a flat graph's are, and the ranking among them is exact too.

Rows are read where they lie (the block's vectors, memory-mapped for a segment): a query re-scores
only its few candidates, so nothing is copied but those rows.
"""

from __future__ import annotations

import numpy as np

from spruce.types import FloatArray, IntArray


def exact_scores(vectors: FloatArray, query: FloatArray, rows: IntArray, metric: str) -> FloatArray:
    """The metric's score of `query` against each of `rows` of `vectors`.

    cosine: the query arrives normalised, the rows do not (a segment stores what was written), so the
    inner product is divided by each row's norm (a zero row scores 0); euclidean: squared L2, as
    faiss reports it; dotproduct: the inner product.
    """
    gathered = np.asarray(vectors[rows], dtype=np.float32)
    q = np.asarray(query, dtype=np.float32).reshape(-1)
    if metric == "euclidean":
        diff = gathered - q
        return np.asarray(np.einsum("ij,ij->i", diff, diff), dtype=np.float32)
    dots = gathered @ q
    if metric == "cosine":
        norms = np.sqrt(np.einsum("ij,ij->i", gathered, gathered))
        norms[norms == 0] = np.float32(1.0)
        dots = dots / norms
    return np.asarray(dots, dtype=np.float32)


def best_first(rows: IntArray, scores: FloatArray, metric: str, k: int) -> tuple[IntArray, FloatArray]:
    """The k best of `rows` by `scores` (smallest first for euclidean), ties by row number."""
    keys = scores if metric == "euclidean" else -scores
    order = np.lexsort((rows, keys))[:k]
    return rows[order], scores[order]


def rescore(
    vectors: FloatArray, query: FloatArray, candidates: IntArray, metric: str, k: int
) -> tuple[IntArray, FloatArray]:
    """(rows, exact scores) of the k best candidates (-1 entries, where the graph found fewer, dropped)."""
    rows = candidates[candidates >= 0].astype(np.int64, copy=False)
    return best_first(rows, exact_scores(vectors, query, rows, metric), metric, k)

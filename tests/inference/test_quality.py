"""Retrieval quality on a hand-written set: relevant passage first for >= 90% of queries, per dense model,
and the reranker (over each model's top 5) never makes that worse."""

from __future__ import annotations

import numpy as np
import pytest
from quality_set import MULTILINGUAL, PASSAGES, QUERIES

from spruce.service.inference import get_registry
from spruce.types import SparseVector

CASES = [
    ("all-MiniLM-L6-v2", QUERIES),
    ("multilingual-e5-small", QUERIES + MULTILINGUAL),
    ("multilingual-e5-large", MULTILINGUAL),
    ("llama-text-embed-v2", QUERIES),
]


def _rankings(model: str, queries: list[tuple[str, int]]) -> np.ndarray:
    registry = get_registry()
    docs = registry.embed(model, PASSAGES, input_type="passage").dense
    qs = registry.embed(model, [q for q, _ in queries], input_type="query").dense
    assert docs is not None and qs is not None
    return np.argsort(-(qs @ docs.T), axis=1, kind="stable")


@pytest.mark.parametrize(("model", "queries"), CASES, ids=[c[0] for c in CASES])
def test_relevant_first_and_rerank_does_not_hurt(model: str, queries: list[tuple[str, int]]) -> None:
    order = _rankings(model, queries)
    first = [int(order[i, 0]) == want for i, (_, want) in enumerate(queries)]
    assert sum(first) >= 0.9 * len(queries), [q for (q, _), ok in zip(queries, first, strict=True) if not ok]
    registry = get_registry()
    reranked_first = []
    for i, (query, want) in enumerate(queries):
        top5 = [int(j) for j in order[i, :5]]
        result = registry.rerank("bge-reranker-v2-m3", query, [PASSAGES[j] for j in top5])
        reranked_first.append(top5[result.ranked[0][0]] == want)
    assert sum(reranked_first) >= sum(first)


def _dot(a: SparseVector, b: SparseVector) -> float:
    common, ia, ib = np.intersect1d(a.indices, b.indices, return_indices=True)
    return float(a.values[ia] @ b.values[ib]) if len(common) else 0.0


@pytest.mark.parametrize(
    ("model", "queries"),
    [("pinecone-sparse-english-v0", QUERIES), ("pinecone-sparse-multilingual-v0", QUERIES + MULTILINGUAL)],
)
def test_sparse_models(model: str, queries: list[tuple[str, int]]) -> None:
    registry = get_registry()
    docs = registry.embed(model, PASSAGES).sparse
    qs = registry.embed(model, [q for q, _ in queries], input_type="query").sparse
    assert docs is not None and qs is not None
    hits = sum(
        int(np.argmax([_dot(q, d) for d in docs])) == want for q, (_, want) in zip(qs, queries, strict=True)
    )
    assert hits >= 0.9 * len(queries)


def test_reranker_alone_over_the_whole_pool() -> None:
    registry = get_registry()
    queries = QUERIES + MULTILINGUAL
    first = 0
    for query, want in queries:
        result = registry.rerank("cohere-rerank-3.5", query, PASSAGES, top_n=3)
        first += result.ranked[0][0] == want
    assert first >= 0.9 * len(queries)

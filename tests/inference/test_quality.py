"""Retrieval quality on a hand-written set: relevant passage first for >= 90% of queries, per dense model,
and the reranker (over each model's top 5) never makes that worse."""

from __future__ import annotations

import numpy as np
import pytest
from quality_set import MULTILINGUAL, PASSAGES, QUERIES

from spruce.service.inference import get_registry

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


def test_sparse_model_finds_lexical_matches() -> None:
    # SPLADE is lexical: held to the queries that share a content word with their passage.
    lexical = [(q, i) for q, i in QUERIES if i in (0, 3, 12, 15, 17, 22, 23, 24)]
    registry = get_registry()
    docs = registry.embed("pinecone-sparse-english-v0", PASSAGES).sparse
    qs = registry.embed("pinecone-sparse-english-v0", [q for q, _ in lexical], input_type="query").sparse
    assert docs is not None and qs is not None
    hits = 0
    for q, (_, want) in zip(qs, lexical, strict=True):
        scores = []
        for d in docs:
            common, qi, di = np.intersect1d(q.indices, d.indices, return_indices=True)
            scores.append(float(q.values[qi] @ d.values[di]) if len(common) else 0.0)
        hits += int(np.argmax(scores)) == want
    assert hits >= 0.9 * len(lexical)


def test_reranker_alone_over_the_whole_pool() -> None:
    registry = get_registry()
    queries = QUERIES + MULTILINGUAL
    first = 0
    for query, want in queries:
        result = registry.rerank("cohere-rerank-3.5", query, PASSAGES, top_n=3)
        first += result.ranked[0][0] == want
    assert first >= 0.9 * len(queries)

"""pyseekdb's hybrid search, the parts beside the vector query: BM25 full-text ranking of a collection's
documents and reciprocal-rank fusion of several rankings."""

from __future__ import annotations

import numpy as np

from spruce.engine.fulltext import bm25_scores, text_index, tokenize
from spruce.engine.namespace import Namespace
from spruce.engine.predicate import RowPredicate
from spruce.service.collection_rules import DOCUMENT_FIELD, NS
from spruce.service.data import IndexService
from spruce.service.where import contains_terms


def text_ranking(
    svc: IndexService | None, pred: RowPredicate | None, where_document: object, k: int
) -> list[tuple[str, float]]:
    """The k records of best BM25 score for the words of `where_document`'s $contains, among those
    `pred` allows (no words to score, e.g. only $regex: every matching record, score 0)."""
    terms = [t for s in contains_terms(where_document) for t in tokenize(s)]
    if svc is None:
        return []

    def ranked(ns: Namespace | None) -> list[tuple[str, float]]:
        if ns is None:
            return []
        parts, blocks = [], []
        for block in ns.blocks():
            n = block.n
            if n == 0 or block.live_count == 0:
                continue
            allowed = block.alive[:n] & block.filter_mask(pred, n)
            parts.append((text_index(block, DOCUMENT_FIELD, n), allowed))
            blocks.append((block, allowed))
        out: list[tuple[str, float]] = []
        if terms:
            for (block, _), (rows, scores) in zip(blocks, bm25_scores(parts, terms), strict=True):
                out.extend(
                    (block.ids[r], float(s)) for r, s in zip(rows.tolist(), scores.tolist(), strict=True)
                )
        else:  # no words to score (e.g. only $regex): every matching record, score 0
            for block, allowed in blocks:
                out.extend((block.ids[r], 0.0) for r in np.flatnonzero(allowed).tolist())
        out.sort(key=lambda t: (-t[1], t[0]))
        return out[:k]

    result: list[tuple[str, float]] = svc.store.with_namespace(NS, ranked)
    return result


def fuse(
    rankings: list[list[tuple[str, float]]], k: int, rrf: tuple[int, float] | None
) -> list[tuple[str, float]]:
    """The top k of one ranking as it is (one list, no `rank` asked), else of the reciprocal-rank
    fusion of all: each id scores the sum of 1 / (constant + position) over the lists it is in."""
    if len(rankings) == 1 and rrf is None:
        return rankings[0][:k]
    constant = rrf[1] if rrf else 60
    scores: dict[str, float] = {}
    for ranking in rankings:
        for pos, (rid, _) in enumerate(ranking, 1):
            scores[rid] = scores.get(rid, 0.0) + 1.0 / (constant + pos)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]

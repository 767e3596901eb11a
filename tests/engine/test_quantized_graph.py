"""Graphs that store 8-bit codes: candidates found on codes, re-scored exactly against the rows.

Each check is against a brute-force oracle over the float32 rows: the scores a query returns must be
the metric's exact ones, the results the exact top-k at the recall the graph calibrated for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import spruce
from spruce.config import EngineConfig
from spruce.engine.ann import AnnIndex
from spruce.errors import InvalidArgumentError

D = 128


def _clustered(rng: np.random.Generator, n: int, centres: np.ndarray) -> np.ndarray:
    which = rng.integers(0, len(centres), size=n)
    noise = rng.standard_normal((n, D)).astype(np.float32) * np.float32(1.6 / np.sqrt(D))
    # Unequal norms: cosine must divide by each row's own norm when it re-scores.
    scale = rng.uniform(0.5, 2.0, size=(n, 1)).astype(np.float32)
    return np.asarray((centres[which] + noise) * scale, dtype=np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(23)
    centres = rng.standard_normal((40, D)).astype(np.float32) / np.float32(np.sqrt(D))
    return _clustered(rng, 6000, centres), _clustered(rng, 200, centres)


def _scores(rows: np.ndarray, q: np.ndarray, metric: str) -> np.ndarray:
    r, q = rows.astype(np.float64), q.astype(np.float64)
    if metric == "euclidean":
        return np.asarray(((r - q) ** 2).sum(axis=1))
    dots = r @ q
    if metric == "cosine":
        dots = dots / (np.linalg.norm(r, axis=1) * np.linalg.norm(q))
    return np.asarray(dots)


def _truth(
    rows: np.ndarray, q: np.ndarray, metric: str, k: int, allowed: np.ndarray | None = None
) -> np.ndarray:
    s = _scores(rows, q, metric)
    keys = s if metric == "euclidean" else -s
    if allowed is not None:
        keys = np.where(allowed, keys, np.inf)
    return np.argsort(keys, kind="stable")[:k]


def _recall(found: list[np.ndarray], truth: list[np.ndarray]) -> float:
    return sum(len(np.intersect1d(f, t)) for f, t in zip(found, truth, strict=True)) / sum(
        len(t) for t in truth
    )


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
def test_quantized_graph_returns_exact_scores_at_the_calibrated_recall(
    data: tuple[np.ndarray, np.ndarray], metric: str
) -> None:
    rows, fresh = data
    index = AnnIndex.build(rows, metric, m=16, ef_construction=60, target_recall=0.97, quantized=True)
    assert index.quantized and index.calibration is not None
    found, truth = [], []
    for q in fresh:
        got, scores = index.search(q, 10, index.ef_for(10), None, rows)
        # The metric's exact scores (not the codes' approximations), best first.
        np.testing.assert_allclose(scores, _scores(rows[got], q, metric), rtol=2e-5, atol=2e-5)
        ordered = scores if metric == "euclidean" else -scores
        assert np.all(np.diff(ordered) >= 0)
        found.append(got)
        truth.append(_truth(rows, q, metric, 10))
    # dotproduct over unequal norms is what HNSW walks worst; the calibration still bounds it.
    assert _recall(found, truth) >= (0.9 if metric == "dotproduct" else 0.95)
    # The batch path agrees with the single-query path.
    batch = index.search_many(fresh[:20], 10, index.ef_for(10), rows)
    assert all(np.array_equal(b, f) for b, f in zip(batch, found[:20], strict=True))


def test_quantized_graph_numbers_nodes_by_row(data: tuple[np.ndarray, np.ndarray]) -> None:
    rows, _ = data
    # Unit rows: with the fixture's unequal norms even a flat graph finds only ~86% of rows from
    # themselves (small rows crowd the origin), which would hide a numbering fault.
    rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    index = AnnIndex.build(rows, "euclidean", m=16, ef_construction=60, target_recall=0.97, quantized=True)
    # The held-out rows were added last and renumbered: every row must still find itself first.
    firsts = index.search_many(rows[::7], 1, 64, rows)[:, 0]
    assert np.mean(firsts == np.arange(len(rows))[::7]) > 0.99


def test_filtered_search_on_a_quantized_graph_returns_only_allowed_rows(
    data: tuple[np.ndarray, np.ndarray],
) -> None:
    rows, fresh = data
    index = AnnIndex.build(rows, "cosine", m=16, ef_construction=60, target_recall=0.97, quantized=True)
    allowed = np.random.default_rng(3).random(len(rows)) < 0.3
    found, truth = [], []
    for q in fresh[:50]:
        got, _ = index.search(q, 10, 400, allowed, rows)
        assert allowed[got].all()
        found.append(got)
        truth.append(_truth(rows, q, "cosine", 10, allowed))
    assert _recall(found, truth) >= 0.95


def test_quantized_graph_round_trips_and_extends(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    rows, fresh = data
    base = AnnIndex.build(rows[:4500], "cosine", m=16, ef_construction=60, target_recall=0.97, quantized=True)
    path = tmp_path / "hnsw.faiss"
    base.save(path)
    for mmap in (True, False):
        loaded = AnnIndex.load(path, "cosine", mmap=mmap)
        assert loaded.quantized and loaded.calibration is not None and base.calibration is not None
        assert loaded.calibration.efs == base.calibration.efs
        for q in fresh[:10]:
            a, sa = base.search(q, 10, 64, None, rows)
            b, sb = loaded.search(q, 10, 64, None, rows)
            assert np.array_equal(a, b) and np.array_equal(sa, sb)
    grown = base.extended(rows, target_recall=0.97)
    assert grown.quantized and grown.ntotal == len(rows) and grown.calibration is not None
    found = [grown.search(q, 10, grown.ef_for(10), None, rows)[0] for q in fresh]
    assert _recall(found, [_truth(rows, q, "cosine", 10) for q in fresh]) >= 0.95
    with pytest.raises(ValueError, match="only 100 rows"):
        base.extended(rows[:100])
    with pytest.raises(ValueError, match="need the block's vectors"):
        base.search(fresh[0], 10, 64, None)


def test_store_builds_quantized_graphs_at_and_above_the_threshold(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, fresh = data
    config = EngineConfig(
        ann_min_rows=1000, memtable_max_rows=2000, ingest_quiet_ms=0, ann_target_recall=0.97
    )
    db = spruce.Client(path=tmp_path / "db", config=config)
    db.create_index(name="q", dimension=D, metric="cosine")
    ix = db.Index("q")
    for start in range(0, len(rows), 1000):
        ix.upsert(vectors=[(str(i), rows[i].tolist()) for i in range(start, start + 1000)])
    ix.flush()
    blocks = ix._svc.store.namespaces[""].sealed
    assert blocks and all(b.ann is not None and b.ann.quantized for b in blocks)

    def answers(index: Any) -> list[tuple[list[int], list[float]]]:
        out = []
        for q in fresh[:60]:
            matches = index.query(vector=q.tolist(), top_k=10).matches
            out.append(([int(m.id) for m in matches], [m.score for m in matches]))
        return out

    before = answers(ix)
    for (ids, scores), q in zip(before, fresh[:60], strict=True):
        np.testing.assert_allclose(scores, _scores(rows[ids], q, "cosine"), rtol=2e-5, atol=2e-5)
    truth = [_truth(rows, q, "cosine", 10) for q in fresh[:60]]
    assert _recall([np.array(i) for i, _ in before], truth) >= 0.95
    db.close()

    db = spruce.Client(path=tmp_path / "db", config=config)
    ix = db.Index("q")
    assert all(b.ann is not None and b.ann.quantized for b in ix._svc.store.namespaces[""].sealed)
    assert answers(ix) == before
    db.close()

    # Below the threshold the same rows get flat graphs.
    flat = EngineConfig(
        ann_min_rows=1000, memtable_max_rows=2000, ingest_quiet_ms=0, hnsw_quantize_min_dimension=D + 8
    )
    db = spruce.Client(path=tmp_path / "flat", config=flat)
    db.create_index(name="f", dimension=D, metric="cosine")
    ix = db.Index("f")
    ix.upsert(vectors=[(str(i), rows[i].tolist()) for i in range(2000)], batch_size=1000)
    ix.flush()
    assert all(b.ann is not None and not b.ann.quantized for b in ix._svc.store.namespaces[""].sealed)
    db.close()
    with pytest.raises(InvalidArgumentError, match="hnsw_quantize_min_dimension"):
        EngineConfig(hnsw_quantize_min_dimension=-1)

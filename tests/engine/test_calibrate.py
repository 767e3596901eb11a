"""Self-calibrated search width: each graph measures the efSearch its own data needs, against a
brute-force oracle, and queries at the defaults use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import spruce
from spruce.config import EngineConfig, Settings
from spruce.engine.ann import UNCALIBRATED_EF, AnnIndex, calibration_path
from spruce.engine.calibrate import EF_LADDER, Calibration, calibrate, held_out_count
from spruce.errors import InvalidArgumentError


def _clustered(rng: np.random.Generator, n: int, d: int, centres: np.ndarray) -> np.ndarray:
    which = rng.integers(0, len(centres), size=n)
    x = centres[which] + rng.standard_normal((n, d)).astype(np.float32) * np.float32(1.6 / np.sqrt(d))
    return np.asarray(x, dtype=np.float32)


def _oracle(rows: np.ndarray, queries: np.ndarray, metric: str, k: int) -> np.ndarray:
    if metric == "cosine":
        rows = rows / np.linalg.norm(rows, axis=1, keepdims=True)
        queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    dots = queries @ rows.T
    if metric == "euclidean":
        keys = -((rows * rows).sum(1)[None, :] - 2 * dots + (queries * queries).sum(1)[:, None])
    else:
        keys = dots
    return np.argsort(-keys, axis=1, kind="stable")[:, :k]


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(np.intersect1d(f[f >= 0], t)) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    centres = rng.standard_normal((60, 32)).astype(np.float32)
    return _clustered(rng, 6000, 32, centres), _clustered(rng, 300, 32, centres)


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_calibrated_width_reaches_the_target_on_new_queries(
    data: tuple[np.ndarray, np.ndarray], metric: str
) -> None:
    rows, fresh = data
    index = AnnIndex.build(rows, metric, m=16, ef_construction=40, target_recall=0.97)
    cal = index.calibration
    assert cal is not None
    assert cal.rows == len(rows) and cal.queries == held_out_count(len(rows)) == len(rows) // 10
    assert cal.ks == (10, 100)
    assert all(ef in EF_LADDER or ef == k for ef, k in zip(cal.efs, cal.ks, strict=True))
    assert cal.efs[0] <= cal.efs[1]
    assert min(cal.recalls) >= 0.97
    # Queries the calibration never saw, from the same distribution, scored by brute force.
    truth = _oracle(rows, fresh, metric, 10)
    assert _recall(index.search_many(fresh, 10, index.ef_for(10)), truth) >= 0.95
    # It chose, rather than falling back to the widest rung.
    assert cal.efs[0] < EF_LADDER[-1]


def test_a_graph_that_cannot_reach_the_target_is_scanned_exactly(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    # Inner product over vectors of unequal norms: HNSW's greedy walk misses large-norm rows, and at
    # k=100 no width on the ladder reaches 0.97. The calibration says so, and such queries scan.
    rows, fresh = data
    rows = rows * np.random.default_rng(5).uniform(0.2, 3.0, size=(len(rows), 1)).astype(np.float32)
    index = AnnIndex.build(rows, "dotproduct", m=16, ef_construction=40, target_recall=0.97)
    assert index.calibration is not None
    assert not index.calibration.reaches(100) and not index.trusted_for(100)
    assert not index.trusted_for(50) and not index.trusted_for(500)
    assert index.calibration.efs[index.calibration.ks.index(100)] == EF_LADDER[-1]

    config = EngineConfig(
        ann_min_rows=1000, memtable_max_rows=10_000, ingest_quiet_ms=0, ann_target_recall=0.97
    )
    db = spruce.Client(path=tmp_path / "db", config=config)
    db.create_index(name="ip", dimension=32, metric="dotproduct")
    ix = db.Index("ip")
    for start in range(0, len(rows), 1000):
        ix.upsert(vectors=[(str(i), rows[i].tolist()) for i in range(start, start + 1000)])
    ix.flush()
    assert all(b.ann is not None for b in ix._svc.store.namespaces[""].sealed)
    truth = _oracle(rows, fresh[:50], "dotproduct", 100)
    for q, want in zip(fresh[:50], truth, strict=True):
        got = [int(m.id) for m in ix.query(vector=q.tolist(), top_k=100).matches]
        assert got == want.tolist()
    db.close()


def test_harder_target_needs_a_wider_beam(data: tuple[np.ndarray, np.ndarray]) -> None:
    rows, _ = data
    loose = AnnIndex.build(rows, "cosine", m=16, ef_construction=40, target_recall=0.8).calibration
    strict = AnnIndex.build(rows, "cosine", m=16, ef_construction=40, target_recall=1.0).calibration
    assert loose is not None and strict is not None
    assert loose.efs[0] <= strict.efs[0]


def test_extended_graph_calibrates_on_its_new_rows(data: tuple[np.ndarray, np.ndarray]) -> None:
    rows, fresh = data
    base = AnnIndex.build(rows[:4000], "cosine", m=16, ef_construction=40, target_recall=0.97)
    grown = base.extended(rows, target_recall=0.97)
    assert grown.ntotal == len(rows)
    assert grown.calibration is not None and grown.calibration.rows == len(rows)
    truth = _oracle(rows, fresh, "cosine", 10)
    assert _recall(grown.search_many(fresh, 10, grown.ef_for(10)), truth) >= 0.95
    # Too few new rows to measure: the base graph's figures carry over.
    small = base.extended(rows[:4005], target_recall=0.97)
    assert small.calibration == base.calibration


def test_tiny_graphs_are_not_calibrated_and_use_the_fallback() -> None:
    rows = np.random.default_rng(0).standard_normal((50, 8)).astype(np.float32)
    assert held_out_count(50) == 0
    index = AnnIndex.build(rows, "cosine", m=8, ef_construction=20, target_recall=0.99)
    assert index.calibration is None
    assert index.ef_for(10) == UNCALIBRATED_EF
    assert index.ef_for(1000) == 1000


def test_width_scales_with_top_k() -> None:
    cal = Calibration(0.99, (10, 100), (48, 384), (0.99, 0.99), 500, 10_000)
    assert cal.ef_for(1) == 48
    assert cal.ef_for(10) == 48
    assert cal.ef_for(100) == 384
    assert 48 < cal.ef_for(30) < 384
    assert cal.ef_for(1000) == 3840
    widths = [cal.ef_for(k) for k in range(1, 300)]
    assert widths == sorted(widths)
    assert all(w >= k for k, w in zip(range(1, 300), widths, strict=True))


def test_saved_calibration_round_trips_and_damage_is_ignored(tmp_path: Path) -> None:
    cal = Calibration(0.99, (10, 100), (48, 384), (0.9932, 0.9916), 500, 20_000)
    path = tmp_path / "hnsw.calib.json"
    cal.save(path)
    assert Calibration.load(path) == Calibration(0.99, (10, 100), (48, 384), (0.9932, 0.9916), 500, 20_000)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"384")
    raw[at : at + 3] = b"999"
    path.write_bytes(bytes(raw))
    assert Calibration.load(path) is None  # checksum mismatch: measured again, never trusted
    path.write_bytes(b"not json")
    assert Calibration.load(path) is None
    assert Calibration.load(tmp_path / "missing.json") is None


def test_store_calibrates_graphs_and_reopens_with_their_width(
    tmp_path: Path, data: tuple[np.ndarray, np.ndarray]
) -> None:
    rows, fresh = data
    config = EngineConfig(ann_min_rows=1000, memtable_max_rows=10_000, ingest_quiet_ms=0)
    db = spruce.Client(path=tmp_path / "db", config=config)
    db.create_index(name="cal", dimension=32, metric="cosine")
    ix = db.Index("cal")
    for start in range(0, len(rows), 1000):
        ix.upsert(vectors=[(str(i), rows[i].tolist()) for i in range(start, start + 1000)])
    ix.flush()
    blocks = ix._svc.store.namespaces[""].sealed
    assert blocks and all(b.ann is not None and b.ann.calibration is not None for b in blocks)
    efs = [b.ann.calibration.efs for b in blocks if b.ann is not None and b.ann.calibration is not None]
    graph_dirs = list((tmp_path / "db").rglob("hnsw.faiss"))
    assert graph_dirs and all(calibration_path(g).exists() for g in graph_dirs)
    truth = _oracle(rows, fresh, "cosine", 10)
    found = np.array([[int(m.id) for m in ix.query(vector=q.tolist(), top_k=10).matches] for q in fresh])
    assert _recall(found, truth) >= 0.95
    db.close()

    db = spruce.Client(path=tmp_path / "db", config=config)
    ix = db.Index("cal")
    reopened = [
        b.ann.calibration.efs for b in ix._svc.store.namespaces[""].sealed if b.ann and b.ann.calibration
    ]
    assert reopened == efs
    again = np.array([[int(m.id) for m in ix.query(vector=q.tolist(), top_k=10).matches] for q in fresh])
    assert np.array_equal(again, found)
    db.close()


def test_target_recall_and_width_are_validated() -> None:
    with pytest.raises(InvalidArgumentError, match="ann_target_recall"):
        EngineConfig(ann_target_recall=1.5)
    with pytest.raises(InvalidArgumentError, match="hnsw_ef_search"):
        EngineConfig(hnsw_ef_search=-1)
    settings = Settings.from_env({"SPRUCE_ENGINE_ANN_TARGET_RECALL": "0.95"})
    assert settings.engine.ann_target_recall == 0.95
    with pytest.raises(InvalidArgumentError, match="must be a number"):
        Settings.from_env({"SPRUCE_ENGINE_ANN_TARGET_RECALL": "high"})


def test_margin_is_over_queries_when_misses_clump() -> None:
    """The same mean recall is less certain when the misses fall on a few queries (as on real text
    embeddings) than when they are spread one per query: the margin is the standard error over
    queries, never below the binomial one over neighbours."""
    from spruce.engine.calibrate import _confidently_reaches

    clumped = np.ones(500)
    clumped[:3] = 0.0  # three queries lose all ten neighbours: mean 0.994
    spread = np.ones(500)
    spread[:30] = 0.9  # thirty queries lose one each: mean 0.994
    assert spread.mean() == pytest.approx(clumped.mean())
    assert _confidently_reaches(spread, 5000, 0.99)
    assert not _confidently_reaches(clumped, 5000, 0.99)
    # No miss at all: no spread, and the target is reached.
    assert _confidently_reaches(np.ones(500), 5000, 0.99)
    assert not _confidently_reaches(np.zeros(0), 0, 0.99)


def _scripted(good_from: int | None, calls: list[tuple[int, int, int]]) -> Any:
    """A graph whose searches find every neighbour from width `good_from` on and half of them below
    it (None: half at every width), recording (queries, k, ef) of each search."""

    def search(q: np.ndarray, k: int, ef: int) -> np.ndarray:
        calls.append((len(q), k, ef))
        found = np.tile(np.arange(k, dtype=np.int64), (len(q), 1))
        if good_from is None or ef < good_from:
            found[:, k // 2 :] = -1
        return found

    return search


def _exact(queries: np.ndarray, k: int) -> np.ndarray:
    return np.tile(np.arange(k, dtype=np.int64), (len(queries), 1))


def test_clear_misses_are_decided_by_the_first_queries_and_passes_by_all() -> None:
    rows = np.random.default_rng(1).standard_normal((30_000, 8)).astype(np.float32)
    queries = np.random.default_rng(2).standard_normal((2_000, 8)).astype(np.float32)
    calls: list[tuple[int, int, int]] = []
    cal = calibrate(len(rows), queries, "euclidean", _scripted(64, calls), _exact, ks=(10,))
    assert cal.efs == (64,) and cal.queries == 2_000
    # Widths far below the target (recall 0.5) were rejected on the first 500 queries; a width that
    # passed was searched with the other 1,500 too before it was accepted.
    assert calls and all(n in (500, 1_500) for n, _, _ in calls)
    misses = {ef for n, _, ef in calls if ef < 64}
    passes = {ef for n, _, ef in calls if ef >= 64}
    assert 56 in misses and 64 in passes
    assert all(n == 500 for n, _, ef in calls if ef in misses)
    assert all(sum(n for n, _, e in calls if e == ef) == 2_000 for ef in passes)

    calls.clear()
    out_of_reach = calibrate(len(rows), queries, "euclidean", _scripted(None, calls), _exact, ks=(10, 100))
    assert out_of_reach.efs == (EF_LADDER[-1], EF_LADDER[-1])
    assert out_of_reach.recalls == (0.5, 0.5)
    # Each k searched the widest rung once, and only with its first look (500 at k=10, 50 at k=100).
    assert sum(1 for _, k, ef in calls if ef == EF_LADDER[-1]) == 2
    assert all(n == (500 if k == 10 else 50) for n, k, _ in calls)


def _reaching_up_to(best_k: int) -> Any:
    """A graph that finds every neighbour for k <= `best_k` from width 2k on, and loses 3% of them
    (at least one) at larger k at every width (as on tight clusters, whose 100th neighbours are near-ties)."""

    def search(q: np.ndarray, k: int, ef: int) -> np.ndarray:
        found = np.tile(np.arange(k, dtype=np.int64), (len(q), 1))
        if k > best_k:
            found[:, : max(1, (3 * k) // 100)] = -1
        elif ef < 2 * k:
            found[:, k // 2 :] = -1
        return found

    return search


@pytest.mark.parametrize(
    ("best_k", "ks", "trusted", "untrusted"),
    [
        (50, (10, 20, 50, 100), (10, 15, 20, 30, 50), (51, 100, 200)),
        (10, (10, 20, 100), (10,), (11, 20, 50, 100)),
    ],
)
def test_trust_ends_where_the_graph_stops_reaching_the_target(
    best_k: int, ks: tuple[int, ...], trusted: tuple[int, ...], untrusted: tuple[int, ...]
) -> None:
    """A k=100 that no width reaches must not send top_k 11-99 to an exact scan when the graph
    reaches the target there: the ks between are measured, so trust ends where the recall does."""
    queries = np.random.default_rng(2).standard_normal((2_000, 8)).astype(np.float32)
    cal = calibrate(30_000, queries, "euclidean", _reaching_up_to(best_k), _exact)
    assert cal.ks == ks
    assert [cal.reaches(k) for k in trusted] == [True] * len(trusted)
    assert [cal.reaches(k) for k in untrusted] == [False] * len(untrusted)
    # The reached ks kept the narrow widths they need; the missed ones say they took the widest.
    assert cal.efs[0] <= 24 and cal.efs[-1] == EF_LADDER[-1]

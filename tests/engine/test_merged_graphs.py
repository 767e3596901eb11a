"""Merges that extend the largest input's HNSW graph instead of building one from scratch.

The kept graph's dead rows move into the merged segment as dead rows (so its labels stay row numbers):
they must never come back in results, after the merge or after a reopen, and the merged graph must
still find what brute force finds at its calibrated width, measured on the merged graph itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import spruce
from spruce.config import EngineConfig
from spruce.engine.store import Store

DIM = 24
BASE = 2_000  # rows of the first segment, whose graph the merge keeps
NEW = 600
CONFIG = EngineConfig(memtable_max_rows=BASE, ann_min_rows=400, background=False)


def clustered(n: int, seed: int) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).standard_normal((20, DIM)).astype(np.float32) * 3
    pick = rng.integers(0, len(centres), n)
    return (centres[pick] + rng.standard_normal((n, DIM))).astype(np.float32)


def store_of(index: spruce.Index) -> Store:
    store: Store = index._svc.store
    return store


def upsert(index: spruce.Index, ids: list[str], vectors: np.ndarray[Any, Any]) -> None:
    for start in range(0, len(ids), 500):
        index.upsert(
            vectors=list(zip(ids[start : start + 500], vectors[start : start + 500].tolist(), strict=True))
        )


def truth(current: dict[str, np.ndarray[Any, Any]], q: np.ndarray[Any, Any], k: int) -> list[str]:
    ids = sorted(current)
    mat = np.stack([current[i] for i in ids])
    dist = ((mat - q) ** 2).sum(axis=1)
    return [ids[j] for j in np.argsort(dist, kind="stable")[:k]]


def build(
    index: spruce.Index, dead: int
) -> tuple[dict[str, np.ndarray[Any, Any]], list[np.ndarray[Any, Any]]]:
    """A graph-carrying segment of BASE rows with `dead` of them deleted or overwritten, plus NEW rows;
    returns the current vectors by id and the dead versions' vectors."""
    first = clustered(BASE, 1)
    ids = [f"a{i}" for i in range(BASE)]
    upsert(index, ids, first)  # fills the memtable: sealed with its graph
    sealed = store_of(index).namespaces[""].sealed
    assert len(sealed) == 1 and sealed[0].ann is not None
    current = dict(zip(ids, first, strict=True))
    gone = [f"a{i}" for i in range(0, BASE, BASE // dead)][:dead]
    deleted, overwritten = gone[: dead // 2], gone[dead // 2 :]
    index.delete(ids=deleted)
    fresh = clustered(len(overwritten), 2)
    upsert(index, overwritten, fresh)
    dead_vectors = [current[i] for i in gone]
    for rid in deleted:
        del current[rid]
    current.update(zip(overwritten, fresh, strict=True))
    extra = clustered(NEW, 3)
    upsert(index, [f"b{i}" for i in range(NEW)], extra)
    current.update(zip([f"b{i}" for i in range(NEW)], extra, strict=True))
    return current, dead_vectors


def check_results(index: spruce.Index, current: dict[str, np.ndarray[Any, Any]], dead: list[Any]) -> None:
    queries = clustered(100, 4)
    hits = 0
    for q in queries:
        got = [m.id for m in index.query(vector=q.tolist(), top_k=10).matches]
        assert len(got) == 10
        hits += len(set(got) & set(truth(current, q, 10)))
    # Calibrated for 0.99 on the merged graph; 0.95 leaves room for the sampling of 100 queries.
    assert hits / (10 * len(queries)) >= 0.95
    for v in dead:
        # A dead version's own vector is its nearest point: a dead row leaking would come first.
        top = index.query(vector=v.tolist(), top_k=1, include_values=True).matches[0]
        assert top.id in current
        assert np.allclose(top.values, current[top.id])


@pytest.mark.parametrize("persist", [True, False])
def test_a_merge_extends_the_largest_graph_and_never_returns_its_dead_rows(
    tmp_path: Path, persist: bool
) -> None:
    db = tmp_path / "db" if persist else None
    dead = 200  # 10% of the kept segment: under the threshold, so its graph is extended
    with spruce.Client(path=db, config=CONFIG) as client:
        client.create_index("g", dimension=DIM, metric="euclidean")
        index = client.Index("g")
        current, dead_vectors = build(index, dead)
        kept = store_of(index).namespaces[""].sealed[0].ann
        index.flush()
        (merged,) = store_of(index).namespaces[""].sealed
        # Every row of the kept graph is still there (dead ones dead), then the other inputs' rows.
        assert merged.n == BASE + dead // 2 + NEW and merged.live_count == len(current)
        assert merged.ann is not None and merged.ann is not kept and merged.ann.ntotal == merged.n
        calibration = merged.ann.calibration
        assert calibration is not None and calibration.rows == merged.n  # measured on the merged graph
        check_results(index, current, dead_vectors)
        assert index.describe_index_stats().total_vector_count == len(current)
    if db is not None:
        with spruce.Client(path=db, config=CONFIG) as client:
            index = client.Index("g")
            (reopened,) = store_of(index).namespaces[""].sealed
            assert reopened.live_count == len(current) and reopened.ann is not None
            check_results(index, current, dead_vectors)


def test_a_merge_rebuilds_when_the_largest_graph_is_mostly_dead(tmp_path: Path) -> None:
    dead = 800  # 40% of the kept segment: a fresh graph over the alive rows pays
    with spruce.Client(path=tmp_path / "db", config=CONFIG) as client:
        client.create_index("g", dimension=DIM, metric="euclidean")
        index = client.Index("g")
        current, dead_vectors = build(index, dead)
        index.flush()
        (merged,) = store_of(index).namespaces[""].sealed
        assert merged.n == merged.live_count == len(current)  # no dead rows carried
        assert merged.ann is not None and merged.ann.ntotal == merged.n
        check_results(index, current, dead_vectors)

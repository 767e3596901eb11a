"""The per-block plan (exact scan or HNSW, by estimated cost) and reads from many threads.

The cost figures are checked through their consequences: which path a real block takes (the engine's
row counters say which one ran) and that exact answers equal brute force.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

import spruce
from spruce.config import EngineConfig
from spruce.engine.planner import choose, graph_cost, scan_cost
from spruce.engine.stats import COUNTERS

DIM = 16
CONFIG = EngineConfig(memtable_max_rows=50_000, ann_min_rows=100, background=False, fsync=False)


def brute(vectors: np.ndarray, q: np.ndarray, k: int, allowed: np.ndarray | None = None) -> list[str]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit @ (q / np.linalg.norm(q))
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    return [str(i) for i in np.argsort(-scores, kind="stable")[:k]]


def test_cost_model_orders_the_two_paths() -> None:
    # A tiny block: scanning 50 rows beats any graph walk.
    tiny = choose(allowed=50, n=50, dim=768, ef=48, degree=64, max_scan_rows=None)
    assert not tiny.use_ann and tiny.scan_cost < tiny.graph_cost
    # A big block with a narrow calibrated width: the graph is far cheaper.
    big = choose(allowed=200_000, n=200_000, dim=768, ef=48, degree=64, max_scan_rows=None)
    assert big.use_ann and big.graph_cost < big.scan_cost
    # The crossover moves with the width: a graph that needs ef 4096 loses to the same scan.
    wide = choose(allowed=200_000, n=200_000, dim=768, ef=4096, degree=64, max_scan_rows=None)
    assert not wide.use_ann
    # No graph: always a scan; a configured cap forces the graph above it.
    assert not choose(allowed=10**6, n=10**6, dim=8, ef=None, degree=0, max_scan_rows=None).use_ann
    assert choose(allowed=600, n=10_000, dim=768, ef=4096, degree=64, max_scan_rows=500).use_ann
    # Gathered (filtered) rows cost more per row than a contiguous scan; the graph cost grows with ef.
    assert scan_cost(1000, 50, gathered=True) > scan_cost(1000, 50, gathered=False)
    assert graph_cost(96, 64, 50) == 2 * graph_cost(48, 64, 50)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((30_000, DIM)).astype(np.float32)
    tags = np.arange(30_000) % 500
    db = spruce.Client(path=tmp_path_factory.mktemp("planner") / "db", config=CONFIG)
    db.create_index("p", dimension=DIM, metric="cosine")
    ix = db.Index("p")
    for s in range(0, len(vectors), 1_000):
        ix.upsert(vectors=[(str(i), vectors[i], {"tag": int(tags[i])}) for i in range(s, s + 1_000)])
    ix.flush()
    assert all(b.ann is not None for b in ix._svc.store.namespaces[""].sealed)
    yield ix, vectors, tags
    db.close()


def ran(ix: Any, **kw: Any) -> tuple[list[str], int, int]:
    """(ids, rows scanned exactly, rows searched by graph) of one query."""
    before = COUNTERS.snapshot()
    ids = [m.id for m in ix.query(top_k=10, **kw).matches]
    after = COUNTERS.snapshot()
    return (
        ids,
        after.rows_searched_exact - before.rows_searched_exact,
        after.rows_searched_graph - before.rows_searched_graph,
    )


def test_narrow_filter_scans_exactly_and_equals_brute_force(client: Any) -> None:
    ix, vectors, tags = client
    q = np.random.default_rng(1).standard_normal(DIM).astype(np.float32)
    ids, exact, graph = ran(ix, vector=q, filter={"tag": 3})  # 60 allowed rows of 30,000
    assert (exact, graph) == (60, 0)
    assert ids == brute(vectors, q, 10, tags == 3)


def test_big_unfiltered_block_uses_its_graph(client: Any) -> None:
    ix, vectors, _ = client
    block = ix._svc.store.namespaces[""].sealed[0]
    ef = block.ann.ef_for(10)
    # The premise: at this block's calibrated width the estimate favours the graph.
    assert choose(
        allowed=block.n, n=block.n, dim=DIM, ef=ef, degree=block.ann.degree, max_scan_rows=None
    ).use_ann
    q = np.random.default_rng(2).standard_normal(DIM).astype(np.float32)
    ids, exact, graph = ran(ix, vector=q)
    assert graph == block.n and exact == 0
    assert len(set(ids) & set(brute(vectors, q, 10))) >= 8


def test_threads_get_the_serial_answers(client: Any) -> None:
    ix = client[0]
    rng = np.random.default_rng(9)
    queries = rng.standard_normal((64, DIM)).astype(np.float32)
    filters: list[dict[str, Any] | None] = [None, {"tag": {"$lt": 50}}, {"tag": 7}]

    def one(i: int) -> list[tuple[str, float]]:
        res = ix.query(vector=queries[i], top_k=10, filter=filters[i % 3])
        return [(m.id, m.score) for m in res.matches]

    serial = [one(i) for i in range(len(queries))]
    start = threading.Barrier(4)

    def worker(i: int) -> list[tuple[str, float]]:
        if i < 4:
            start.wait(timeout=30)  # all four threads query at once
        return one(i)

    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(worker, range(len(queries))))
    assert threaded == serial

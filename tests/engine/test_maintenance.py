"""Background maintenance: deferred HNSW builds during bulk loads, compaction running beside
checkpoints and deletes, and saved graphs brought into RAM after a reopen."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import spruce
from spruce.config import EngineConfig
from spruce.engine.compaction import compact_namespace
from spruce.engine.store import Store

DIM = 16


VECTORS = np.random.default_rng(0).standard_normal((4_000, DIM)).astype(np.float32)


def rows(start: int, stop: int) -> list[tuple[str, np.ndarray[Any, Any], dict[str, Any]]]:
    return [(f"id{i:05d}", VECTORS[i], {"i": i}) for i in range(start, stop)]


def exact_best(vectors: np.ndarray[Any, Any], q: np.ndarray[Any, Any], metric: str, labels: Any) -> int:
    dots = vectors @ q
    if metric == "cosine":
        score = dots / np.linalg.norm(vectors, axis=1) / np.linalg.norm(q)
    elif metric == "euclidean":
        score = -((vectors - q) ** 2).sum(axis=1)
    else:
        score = dots
    return int(labels[int(np.argmax(score))])


def store_of(index: spruce.Index) -> Store:
    store: Store = index._svc.store
    return store


def sealed(index: spruce.Index) -> list[Any]:
    return list(store_of(index).namespaces[""].sealed)


def all_ids(index: spruce.Index) -> set[str]:
    return {i for page in index.list() for i in page}


class FakeClock:
    """The store's clock, moved only by the test: deferral is decided without waiting for real time."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def wait_for(condition: Any, what: str, timeout: float = 600.0) -> None:
    """Poll a condition of background work (generous timeout: a loaded machine only makes it later)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_hnsw_builds_wait_while_writes_stream_in(tmp_path: Path) -> None:
    config = EngineConfig(memtable_max_rows=500, ann_min_rows=400, ingest_quiet_ms=60_000)
    with spruce.Client(path=tmp_path / "db", config=config) as client:
        client.create_index("m", dimension=DIM, metric="cosine")
        index = client.Index("m")
        store = store_of(index)
        store.scheduler.clock = FakeClock()  # never advances: writes are always "just now"
        for start in range(0, 2_000, 250):
            index.upsert(vectors=rows(start, start + 250))
        wait_for(lambda: sum(b.n for b in sealed(index)) >= 1_500, "checkpoints (they are not deferred)")
        assert store.scheduler.build_wait() is not None, "a build may start although writes were recent"
        blocks = sealed(index)
        assert max(b.n for b in blocks) >= config.ann_min_rows
        assert all(b.ann is None for b in blocks), "a build started although writes were recent"
        # Deferred rows are searched exactly: every record is found by its own vector.
        for rid, vec, _ in rows(0, 2_000)[::97]:
            assert index.query(vector=vec, top_k=1).matches[0].id == rid
        index.flush()  # urgent: builds and compaction run at once, despite the quiet period
        blocks = sealed(index)
        assert len(blocks) == 1 and blocks[0].n == 2_000 and blocks[0].ann is not None


@pytest.mark.parametrize(
    ("cap", "longest_ms"),
    [(1, 600_000), (2**40, 300)],
    ids=["backlog-over-cap", "oldest-segment-waited-long-enough"],
)
def test_builds_start_under_writes_that_never_pause(tmp_path: Path, cap: int, longest_ms: int) -> None:
    """Writes never pause for the quiet period (the injected clock only moves when the test says), yet
    a build goes ahead once the backlog passes its cap, or once the oldest segment has waited long enough."""
    config = EngineConfig(
        memtable_max_rows=500,
        ann_min_rows=400,
        ingest_quiet_ms=60_000,
        unindexed_max_bytes=cap,
        ingest_defer_max_ms=longest_ms,
    )
    with spruce.Client(path=tmp_path / "db", config=config) as client:
        client.create_index("m", dimension=DIM, metric="cosine")
        index = client.Index("m")
        store = store_of(index)
        clock = FakeClock()
        store.scheduler.clock = clock
        index.upsert(vectors=rows(0, 600))  # 500 rows are sealed by a background checkpoint
        wait_for(lambda: any(b.persisted for b in sealed(index)), "the checkpoint")
        index.upsert(vectors=rows(600, 700))  # a write just now: not quiet
        if cap == 1:
            assert store.scheduler.build_wait() is None  # the unindexed backlog is over its cap
        else:
            assert store.scheduler.build_wait() is not None  # the segment has not waited long enough yet
            clock.now += longest_ms / 1000 + 1
            index.upsert(vectors=rows(700, 800))  # still writing: never quiet
            assert store.scheduler.build_wait() is None
        wait_for(lambda: any(b.ann is not None for b in sealed(index)), "an HNSW graph")


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
def test_compaction_keeps_deaths_across_a_checkpoint_during_its_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, metric: str
) -> None:
    """Deletes and a checkpoint land while compaction builds the merged graph: after a reopen (WAL
    before that checkpoint is gone) the deleted rows must stay deleted."""
    config = EngineConfig(memtable_max_rows=300, ann_min_rows=200, background=False)
    db = tmp_path / "db"
    with spruce.Client(path=db, config=config) as client:
        client.create_index("m", dimension=DIM, metric=metric)
        index = client.Index("m")
        for start in range(0, 900, 300):
            index.upsert(vectors=rows(start, start + 300))  # three sealed segments with graphs
        store = store_of(index)
        assert len(store.namespaces[""].sealed) == 3
        doomed = [f"id{i:05d}" for i in range(0, 900, 7)]
        real_attach = store.graphs.attach_ann
        fired: list[bool] = []

        def attach_then_interfere(block: Any, graph: Any) -> None:
            if not fired:
                fired.append(True)
                index.delete(ids=doomed)  # after the snapshot, before the swap
                index.upsert(vectors=rows(900, 1_000))
                store.checkpoint()  # writes the old segments' bitmaps, drops the WAL of the deletes
            real_attach(block, graph)

        monkeypatch.setattr(store.graphs, "attach_ann", attach_then_interfere)
        assert compact_namespace(store, "", force=True)
        assert fired, "compaction built no graph: the race was not exercised"
        expected = {f"id{i:05d}" for i in range(1_000)} - set(doomed)
        assert all_ids(index) == expected
    with spruce.Client(path=db, config=config) as client:
        index = client.Index("m")
        assert all_ids(index) == expected
        assert index.fetch(ids=doomed[:50]).vectors == {}
        live = np.array(sorted(int(rid[2:]) for rid in expected))
        for q in VECTORS[1:1_000:50]:
            top = index.query(vector=q, top_k=1).matches[0].id
            assert top == f"id{exact_best(VECTORS[live], q, metric, live):05d}"


def test_compaction_merges_sparse_rows_and_metadata(tmp_path: Path) -> None:
    config = EngineConfig(memtable_max_rows=100, background=False)
    with spruce.Client(path=tmp_path / "db", config=config) as client:
        client.create_index("s", dimension=4, metric="dotproduct")
        index = client.Index("s")
        want: dict[str, Any] = {}
        for i in range(450):
            sv = {"indices": [i, 10_000 + i % 7], "values": [1.0, 0.5]} if i % 3 else None
            rec: dict[str, Any] = {"id": f"r{i}", "values": [float(i), 1.0, 0.0, 0.5], "metadata": {"i": i}}
            if sv is not None:
                rec["sparse_values"] = sv
            index.upsert(vectors=[rec])
            want[f"r{i}"] = (sv, {"i": i})
        index.delete(ids=[f"r{i}" for i in range(0, 450, 5)])
        for i in range(0, 450, 5):
            del want[f"r{i}"]
        index.flush()
        assert len(sealed(index)) == 1
        got = index.fetch(ids=list(want)).vectors
        assert set(got) == set(want)
        for rid, (sv, meta) in want.items():
            assert got[rid].metadata == meta
            if sv is None:
                assert got[rid].sparse_values is None
            else:
                assert got[rid].sparse_values.indices == sv["indices"]
                assert got[rid].sparse_values.values == sv["values"]


def test_reopened_graphs_are_loaded_into_ram(tmp_path: Path) -> None:
    config = EngineConfig(memtable_max_rows=500, ann_min_rows=400)
    db = tmp_path / "db"
    with spruce.Client(path=db, config=config) as client:
        client.create_index("m", dimension=DIM, metric="cosine")
        index = client.Index("m")
        index.upsert(vectors=rows(0, 900))
        index.flush()
        assert all(b.ann is not None and not b.ann.mapped for b in sealed(index))
    with spruce.Client(path=db, config=config) as client:
        index = client.Index("m")
        store_of(index).wait_idle()
        blocks = sealed(index)
        assert blocks and all(b.ann is not None and not b.ann.mapped for b in blocks)
        for rid, vec, _ in rows(0, 900)[::89]:
            assert index.query(vector=vec, top_k=1).matches[0].id == rid


def test_a_maintenance_round_waits_for_quiet_at_most_the_defer_limit(tmp_path: Path) -> None:
    """Merging already-indexed segments has no unindexed backlog to age, so the round itself is timed:
    under writes that never pause for the 60 s quiet period it must still go ahead."""
    config = EngineConfig(ingest_quiet_ms=60_000, ingest_defer_max_ms=200)
    with spruce.Client(path=tmp_path / "db", config=config) as client:
        client.create_index("m", dimension=DIM, metric="cosine")
        index = client.Index("m")
        store = store_of(index)
        clock = FakeClock()
        store.scheduler.clock = clock
        index.upsert(vectors=rows(0, 10))  # a write just now: not quiet
        store.scheduler.maintenance_since = clock.now
        assert store.scheduler.build_wait() is not None
        clock.now += 0.5  # past the defer limit, far from the quiet period
        assert store.scheduler.build_wait() is None, "waits for the quiet period, not the defer limit"
        store.scheduler.yield_to_writes()  # and so returns at once

"""A closed store is freed by reference counting alone: its segments, mapped rows and graphs leave RAM
at close, not whenever Python's cycle collector next runs (which, in a process that opens and closes
indexes, held several closed copies of an index in memory at once)."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import spruce
from spruce.config import EngineConfig
from spruce.engine.store import Store
from spruce.types import Record

DIM = 16
CONFIG = EngineConfig(memtable_max_rows=300, ann_min_rows=200)


@pytest.fixture
def no_cycle_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def live_stores() -> int:
    return sum(1 for o in gc.get_objects() if isinstance(o, Store))


def fill(store: Store, n: int) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    for start in range(0, n, 250):
        store.put(
            "ns",
            [Record(f"r{i}", vectors[i], None, {"i": i}) for i in range(start, min(n, start + 250))],
        )
    store.flush()


def test_closed_store_with_graphs_is_freed_without_the_cycle_collector(
    tmp_path: Path, no_cycle_collector: None
) -> None:
    store = Store(tmp_path / "idx", DIM, "cosine", CONFIG)
    fill(store, 1200)
    block = store.namespaces["ns"].sealed[0]
    assert block.ann is not None, "the test needs a segment with a graph"
    refs = [weakref.ref(store), weakref.ref(block), weakref.ref(block.ann)]
    store.close()
    del store, block
    assert [r() is None for r in refs] == [True, True, True]


def test_reopened_store_is_freed_at_close_through_the_client(
    tmp_path: Path, no_cycle_collector: None
) -> None:
    before = live_stores()
    store = Store(tmp_path / "idx", DIM, "cosine", CONFIG)
    fill(store, 700)
    store.close()
    del store
    for _ in range(3):
        with spruce.Client(path=tmp_path, config=CONFIG) as client:
            pass
        del client
    # The client's own data directory is separate from the engine store's: open it with data too.
    with spruce.Client(path=tmp_path / "client", config=CONFIG) as client:
        client.create_index("a", dimension=DIM, metric="cosine")
        index = client.Index("a")
        index.upsert(vectors=[(f"v{i}", [float(i % 7 + 1)] * DIM) for i in range(400)])
        index.flush()
        assert index.query(vector=[1.0] * DIM, top_k=3).matches
        del index
    del client
    for _ in range(2):
        with spruce.Client(path=tmp_path / "client", config=CONFIG) as client:
            index = client.Index("a")
            assert index.describe_index_stats().total_vector_count == 400
            assert len(index.query(vector=[1.0] * DIM, top_k=3).matches) == 3
            del index
        del client
    assert live_stores() == before

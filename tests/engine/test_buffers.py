"""The memtable buffer pool hands an array out again only when nothing else refers to it."""

from __future__ import annotations

import numpy as np

import spruce
from spruce.config import EngineConfig
from spruce.engine.buffers import POOL, BufferPool


def test_released_array_is_reused_once_unreferenced() -> None:
    pool = BufferPool()
    arr = np.empty((100, 8), dtype=np.float32)
    view = arr[:10]
    pool.release(arr)
    del arr
    fresh = pool.take(50, 8)
    assert fresh.base is None and not np.shares_memory(fresh, view), "handed out while a view was alive"
    del view
    again = pool.take(50, 8)
    assert again.shape == (100, 8) and len(pool) == 0


def test_pool_refuses_views_and_wrong_shapes() -> None:
    pool = BufferPool()
    base = np.empty((100, 8), dtype=np.float32)
    pool.release(base[:50])
    pool.release(np.empty((100, 8), dtype=np.float64))
    assert len(pool) == 0
    pool.release(base)
    del base
    assert pool.take(200, 8).shape == (200, 8)  # too small: a new one
    assert pool.take(100, 4).shape == (100, 4)  # other dimension: a new one
    assert len(pool) == 1


def test_memtables_reuse_sealed_buffers_without_mixing_rows(tmp_path: object) -> None:
    """Through the store: many seals in a row, old rows read back intact from their segments."""
    config = EngineConfig(memtable_max_rows=10_000, background=False)  # past 8,192 rows: full size
    rng = np.random.default_rng(1)
    data = rng.standard_normal((30_000, 16)).astype(np.float32)
    reused_before = POOL.reused
    with spruce.Client(path=tmp_path / "db", config=config) as client:  # type: ignore[operator]
        client.create_index("b", dimension=16, metric="euclidean")
        index = client.Index("b")
        for start in range(0, len(data), 1_000):
            index.upsert(vectors=[(str(i), data[i]) for i in range(start, start + 1_000)])
        assert POOL.reused > reused_before, "no memtable reused a sealed block's buffer"
        got = index.fetch(ids=[str(i) for i in range(0, 30_000, 997)]).vectors
        for rid, vec in got.items():
            np.testing.assert_array_equal(np.asarray(vec.values, dtype=np.float32), data[int(rid)])
        for i in range(0, 30_000, 2_503):
            assert index.query(vector=data[i], top_k=1).matches[0].id == str(i)

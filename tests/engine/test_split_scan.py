"""Large flat scans split across cores: the same scores however they are split, and no helper lost."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spruce.engine import kernels
from spruce.engine.lazy_pool import LazyPool


@pytest.fixture
def tiny_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    # Parts of a few hundred floats, so that small arrays are split too.
    monkeypatch.setattr(kernels, "SPLIT_MIN_FLOATS", 256)
    monkeypatch.setattr(kernels, "_CORES", 4)
    monkeypatch.setattr(kernels, "_SCAN_POOL", LazyPool(3, "test-scan"))


def _free_helpers() -> int:
    free = 0
    while kernels._SCAN_POOL.free.acquire(blocking=False):
        free += 1
    for _ in range(free):
        kernels._SCAN_POOL.free.release()
    return free


# The fixture's patch holds for every example (it is the same for all of them).
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(0, 1500), dim=st.sampled_from([1, 3, 8, 50]), seed=st.integers(0, 2**16))
def test_split_scores_equal_one_pass(tiny_parts: None, n: int, dim: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((max(n, 1), dim), dtype=np.float32)
    q = rng.standard_normal(dim, dtype=np.float32)
    rows = np.sort(rng.choice(len(dense), size=min(n, len(dense)), replace=False))
    split = kernels.inner_products(dense, q, n)
    split_gathered = kernels.inner_products_by_index(dense, q, rows)
    with pytest.MonkeyPatch.context() as one_part:
        one_part.setattr(kernels, "SPLIT_MIN_FLOATS", 10**12)
        np.testing.assert_array_equal(split, kernels.inner_products(dense, q, n))
        np.testing.assert_array_equal(split_gathered, kernels.inner_products_by_index(dense, q, rows))
    np.testing.assert_allclose(split_gathered, dense[rows] @ q, rtol=1e-5, atol=1e-5)
    assert _free_helpers() == 3


def test_concurrent_scans_each_get_their_own_scores(tiny_parts: None) -> None:
    rng = np.random.default_rng(7)
    dense = rng.standard_normal((5_000, 32), dtype=np.float32)
    queries = rng.standard_normal((8, 32), dtype=np.float32)
    expected = [kernels.inner_products(dense, q, len(dense)) for q in queries]
    wrong: list[int] = []

    def scan(i: int) -> None:
        for _ in range(20):
            if not np.array_equal(kernels.inner_products(dense, queries[i], len(dense)), expected[i]):
                wrong.append(i)

    threads = [threading.Thread(target=scan, args=(i,)) for i in range(len(queries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []
    assert _free_helpers() == 3


def _scan_in_child() -> None:
    from spruce.client.fan_out import map_in_order

    dense = np.ones((2_000, 8), dtype=np.float32)
    assert float(kernels.inner_products(dense, np.ones(8, dtype=np.float32), 2_000).sum()) == 16_000.0
    assert map_in_order(lambda x: x * 2, [1, 2, 3]) == [2, 4, 6]


def test_a_forked_child_scans_with_its_own_pool(tiny_parts: None) -> None:
    from spruce.client.fan_out import map_in_order

    # The parent's pools exist (and have threads) before the fork.
    kernels.inner_products(np.ones((2_000, 8), dtype=np.float32), np.ones(8, dtype=np.float32), 2_000)
    map_in_order(lambda x: x, [1, 2, 3])
    child = multiprocessing.get_context("fork").Process(target=_scan_in_child)
    child.start()
    child.join(timeout=120)  # a pool inherited from the parent would never finish the scan
    if child.is_alive():
        child.kill()
        pytest.fail("the forked child's scan hung on the parent's pool")
    assert child.exitcode == 0

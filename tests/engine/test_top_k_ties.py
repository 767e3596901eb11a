"""Top-k selection breaks ties the same way every time: equal scores in row order."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from spruce.engine.search import _top

# Few distinct values, so ties (also across the cut at k) are the common case.
keys_strategy = st.lists(st.sampled_from([-np.inf, -1.0, 0.0, 0.5, 2.0]), min_size=1, max_size=60)


@given(keys=keys_strategy, k=st.integers(1, 70))
def test_top_equals_sort_by_key_then_position(keys: list[float], k: int) -> None:
    arr = np.asarray(keys, dtype=np.float32)
    want = sorted(range(len(keys)), key=lambda i: (-keys[i], i))[:k]
    assert _top(arr, k).tolist() == want


def test_all_equal_keys_give_the_first_rows() -> None:
    assert _top(np.full(1000, 3.0, dtype=np.float32), 5).tolist() == [0, 1, 2, 3, 4]


@given(
    codes=st.binary(min_size=1, max_size=64),
    n=st.integers(4096, 9000),
    k=st.integers(1, 12),
)
def test_screened_top_equals_the_exact_one(codes: bytes, n: int, k: int) -> None:
    # Long enough for the group-maxima screen; few distinct values, so the bound is usually tied.
    values = np.asarray([-np.inf, -1.0, 0.0, 0.25, 0.5, 2.0], dtype=np.float32)
    pattern = np.frombuffer(codes, dtype=np.uint8) % len(values)
    arr = values[np.resize(pattern, n)]
    want = np.lexsort((np.arange(len(arr)), -arr))[:k].tolist()
    assert _top(arr, k).tolist() == want


def test_screened_top_on_random_scores() -> None:
    rng = np.random.default_rng(3)
    for n in (4096, 5000, 20_000, 100_003):
        arr = rng.standard_normal(n).astype(np.float32)
        arr[rng.integers(0, n, n // 3)] = -np.inf  # masked rows, as a filtered scan has
        for k in (1, 10, 100):
            want = np.lexsort((np.arange(n), -arr))[:k].tolist()
            assert _top(arr, k).tolist() == want

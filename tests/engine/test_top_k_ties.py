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

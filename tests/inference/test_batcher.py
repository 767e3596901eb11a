"""The batching queue merges waiting callers into one model call and hands each caller its own slice."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.service.inference.batcher import Batcher

TIMEOUT = 30.0


def _wait(predicate: object) -> None:
    # A state the worker reaches by itself; a hang is reported by pytest-timeout, not by a clock here.
    while not predicate():  # type: ignore[operator]
        time.sleep(0.001)


def test_waiting_callers_share_one_call() -> None:
    gate = threading.Event()
    calls: list[tuple[Hashable, list[int]]] = []

    def fn(key: Hashable, batch: list[int]) -> list[int]:
        calls.append((key, list(batch)))
        if len(calls) == 1:
            gate.wait(TIMEOUT)
        return [x * 10 for x in batch]

    b: Batcher[int, int] = Batcher(fn, max_batch=8, workers=1, name="t")
    results: dict[str, list[int]] = {}

    def call(name: str, key: str, items: list[int]) -> None:
        results[name] = b.run(key, items)

    first = threading.Thread(target=call, args=("first", "a", [0]))
    first.start()
    _wait(lambda: len(calls) == 1)  # the worker is busy with the first call
    others = [
        threading.Thread(target=call, args=("x", "a", [1, 2])),
        threading.Thread(target=call, args=("y", "b", [3])),
        threading.Thread(target=call, args=("z", "a", [4, 5, 6])),
    ]
    for t in others:
        t.start()
    _wait(lambda: len(b._queue) == 3)
    gate.set()
    for t in [first, *others]:
        t.join(TIMEOUT)
    assert results == {"first": [0], "x": [10, 20], "y": [30], "z": [40, 50, 60]}
    # x and z (same key) went in one call; y (another key) in its own.
    assert sorted(calls[1:], key=lambda c: str(c[0])) == [("a", [1, 2, 4, 5, 6]), ("b", [3])]
    b.close()


def test_large_jobs_split_and_errors_reach_the_caller() -> None:
    def fn(key: Hashable, batch: list[int]) -> list[int]:
        if -1 in batch:
            raise ValueError("bad item")
        return batch

    b: Batcher[int, int] = Batcher(fn, max_batch=4, workers=2, name="t")
    assert b.run(None, list(range(10))) == list(range(10))
    with pytest.raises(ValueError, match="bad item"):
        b.run(None, [1, 2, -1])
    assert b.run(None, [7]) == [7]
    b.close()
    with pytest.raises(RuntimeError, match="closed"):
        b.run(None, [1])


@settings(max_examples=40, deadline=None)
@given(
    jobs=st.lists(
        st.tuples(st.sampled_from(["q", "p"]), st.lists(st.integers(0, 1000), min_size=1, max_size=20)),
        min_size=1,
        max_size=12,
    ),
    max_batch=st.integers(1, 16),
    workers=st.integers(1, 3),
)
def test_every_caller_gets_its_own_results(
    jobs: list[tuple[str, list[int]]], max_batch: int, workers: int
) -> None:
    seen_keys: list[tuple[Hashable, int]] = []

    def fn(key: Hashable, batch: list[int]) -> list[tuple[Hashable, int]]:
        assert 1 <= len(batch) <= max_batch
        seen_keys.append((key, len(batch)))
        return [(key, x) for x in batch]

    b: Batcher[int, tuple[Hashable, int]] = Batcher(fn, max_batch=max_batch, workers=workers, name="h")
    out: dict[int, list[tuple[Hashable, int]]] = {}

    def call(i: int, key: str, items: list[int]) -> None:
        out[i] = b.run(key, items)

    threads = [threading.Thread(target=call, args=(i, k, items)) for i, (k, items) in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    b.close()
    assert out == {i: [(k, x) for x in items] for i, (k, items) in enumerate(jobs)}
    assert sum(n for _, n in seen_keys) == sum(len(items) for _, items in jobs)

"""One call per item on a shared pool of threads, results in item order.

The embedded `query_namespaces` runs one query per namespace. A query's math (faiss' graph walk, the
flat kernels) runs without the GIL, so queries on several threads use several cores; the GIL-bound
rest (validation, the merge, response objects) still takes turns. The calling thread takes items
too, so one item costs no hand-off, and the pool is made once per process rather
than per call (the pinecone SDK builds a new executor for every `query_namespaces`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from spruce.engine.lazy_pool import LazyPool

T = TypeVar("T")
R = TypeVar("R")

# More threads than cores gain nothing: the GIL-bound part of each call is the same either way. Not
# the scan pool of engine/kernels.py: a query on it that split its scan would wait on its own pool.
_FAN_OUT_POOL = LazyPool((os.cpu_count() or 2) - 1, "spruce-fan-out")


def map_in_order(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """[fn(item) for item in items], shared between the calling thread and the pool's: each takes the
    next item not yet taken (a fixed split gave the caller one item of four and the single helper of
    a 2-core machine the other three). The first failure, in item order, is raised once every call
    has ended (none is left running behind the caller)."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    results: list[Any] = [None] * len(items)
    errors: list[BaseException | None] = [None] * len(items)
    taken = iter(range(len(items)))
    take_lock = threading.Lock()

    def work() -> None:
        while True:
            with take_lock:
                i = next(taken, None)
            if i is None:
                return
            try:
                results[i] = fn(items[i])
            except BaseException as exc:  # re-raised by the caller, once every item has ended
                errors[i] = exc

    pool = _FAN_OUT_POOL.get()
    helpers = [pool.submit(work) for _ in range(min(_FAN_OUT_POOL.workers, len(items) - 1))]
    work()
    for helper in helpers:
        helper.result()
    for error in errors:
        if error is not None:
            raise error
    return results

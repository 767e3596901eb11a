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
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# More threads than cores gain nothing: the GIL-bound part of each call is the same either way.
_WORKERS = max(1, (os.cpu_count() or 2) - 1)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool_in_child() -> None:
    """A forked child has none of the parent's threads: an inherited pool would never run what it
    is given. The child starts its own on first use."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool_in_child)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="spruce-fan-out")
        return _pool


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

    pool = _executor()
    helpers = [pool.submit(work) for _ in range(min(_WORKERS, len(items) - 1))]
    work()
    for helper in helpers:
        helper.result()
    for error in errors:
        if error is not None:
            raise error
    return results

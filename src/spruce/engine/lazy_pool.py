"""A shared thread pool made on first use, and made afresh in a forked child.

A forked child has none of its parent's threads: a pool inherited from the parent would accept work
and never run it (a scan split over it, or a fan-out, would wait forever). Each pool forgets itself
in the child, which then starts its own on first use.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor


class LazyPool:
    """`workers` threads named `name`-N, started on the first `get()`. `free` counts the workers not
    taken, for callers that only hand work over when a thread is idle (acquire without blocking,
    release when the work is done)."""

    def __init__(self, workers: int, name: str) -> None:
        self.workers = max(1, workers)
        self._name = name
        self._forget()
        os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.free = threading.Semaphore(self.workers)

    def get(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=self._name)
            return self._pool

"""Merge texts from concurrent callers into shared model calls, on a small bounded pool of threads.

A model call has a fixed cost (dispatch, padding, memory traffic) that a batch of 32 pays once. Requests
from several callers (96 records here, a query there) would each pay it alone and compete for the cores;
through a `Batcher` they queue, and each worker takes as many waiting items as fit in one batch, of the
same key (e.g. queries apart from passages), and answers each caller its slice.

The workers are the only threads that run the model, so `workers` bounds the CPU the model takes whatever
the number of callers: the query path keeps the remaining cores.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

BatchFn = Callable[[Hashable, list[T]], Sequence[R]]


@dataclass(slots=True)
class _Job(Generic[R]):
    size: int
    results: list[Any]
    remaining: int
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


@dataclass(slots=True)
class _Chunk(Generic[T, R]):
    job: _Job[R]
    key: Hashable
    offset: int
    items: list[T]


class Batcher(Generic[T, R]):
    """`run(key, items)` blocks until `fn(key, batch)` has produced a result for each item."""

    def __init__(self, fn: BatchFn[T, R], *, max_batch: int, workers: int, name: str) -> None:
        if max_batch < 1 or workers < 1:
            raise ValueError("max_batch and workers must be >= 1")
        self._fn = fn
        self._max_batch = max_batch
        self._workers = workers
        self._name = name
        self._queue: deque[_Chunk[T, R]] = deque()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._closed = False
        self.calls = 0  # model calls made; how much merging happened is items / calls

    def run(self, key: Hashable, items: Sequence[T]) -> list[R]:
        if not items:
            return []
        job: _Job[R] = _Job(size=len(items), results=[None] * len(items), remaining=len(items))
        with self._cond:
            if self._closed:
                raise RuntimeError(f"the {self._name} batcher is closed")
            for start in range(0, len(items), self._max_batch):
                part = list(items[start : start + self._max_batch])
                self._queue.append(_Chunk(job, key, start, part))
            self._start_workers()
            self._cond.notify_all()
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.results

    def close(self) -> None:
        """Let the workers finish what is queued and exit (models live as long as the process: tests)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            t.join()

    def _start_workers(self) -> None:
        while len(self._threads) < self._workers:
            t = threading.Thread(
                target=self._work, name=f"spruce-model-{self._name}-{len(self._threads)}", daemon=True
            )
            self._threads.append(t)
            t.start()

    def _take(self) -> list[_Chunk[T, R]] | None:
        """The first waiting chunk and the later ones with its key, up to `max_batch` items in all;
        None once closed and drained."""
        with self._cond:
            while not self._queue:
                if self._closed:
                    return None
                self._cond.wait()
            first = self._queue.popleft()
            taken = [first]
            room = self._max_batch - len(first.items)
            kept: deque[_Chunk[T, R]] = deque()
            while self._queue and room > 0:
                chunk = self._queue.popleft()
                if chunk.key == first.key and len(chunk.items) <= room:
                    taken.append(chunk)
                    room -= len(chunk.items)
                else:
                    kept.append(chunk)
            kept.extend(self._queue)
            self._queue = kept
            return taken

    def _work(self) -> None:
        while True:
            chunks = self._take()
            if chunks is None:
                return
            batch = [item for c in chunks for item in c.items]
            try:
                out = self._fn(chunks[0].key, batch)
                if len(out) != len(batch):
                    raise RuntimeError(f"model {self._name} returned {len(out)} results for {len(batch)}")
                error: BaseException | None = None
            except BaseException as exc:  # handed to every caller of the batch
                error = exc
            with self._cond:
                self.calls += 1
            pos = 0
            for c in chunks:
                job = c.job
                if error is not None:
                    job.error = error
                else:
                    job.results[c.offset : c.offset + len(c.items)] = out[pos : pos + len(c.items)]
                pos += len(c.items)
                with self._cond:
                    job.remaining -= len(c.items)
                    finished = job.remaining == 0
                if finished:
                    job.done.set()

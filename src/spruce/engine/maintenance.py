"""When background work runs: the worker threads, and the rules that defer graph builds and
compaction while writes stream in.

An HNSW build takes a core for a minute per 100k x 768 rows, and on small machines it halved a bulk
load's throughput; deferred, the load runs at full speed and the rows, searched exactly meanwhile, get
their graph once writes pause. Writes that never pause for long (a steady trickle, or a very long
load) defer no longer than `ingest_defer_max_ms` after the oldest unindexed segment was sealed, and no
longer than the backlog stays under `unindexed_max_bytes`, so exact scans stay bounded. Someone
waiting (flush, wait_idle) makes the work urgent: it goes at once, on every core.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from spruce.config import EngineConfig
from spruce.engine.graphs import GraphKeeper
from spruce.engine.namespace import Namespace
from spruce.errors import ClosedError

log = logging.getLogger("spruce.engine")


class Scheduler:
    """Deferral state and the maintenance round of one store.

    `namespaces` lists the store's namespaces (called under `lock`); `compact` merges segments (see
    compaction.py); `closing` says the store is closing."""

    def __init__(
        self,
        config: EngineConfig,
        lock: threading.RLock,
        namespaces: Callable[[], Iterable[Namespace]],
        graphs: GraphKeeper,
        compact: Callable[[], object],
        closing: Callable[[], bool],
        persisted: bool,
    ) -> None:
        self.config = config
        self._lock = lock
        self._namespaces = namespaces
        self._graphs = graphs
        self._compact = compact
        self._closing = closing
        self._persisted = persisted
        # The clock deferral is decided by (a test may replace it to decide without waiting).
        self.clock: Callable[[], float] = time.monotonic
        self.last_write = 0.0  # self.clock() of the latest write
        self.maintenance_since = math.inf  # start of the running maintenance round
        self.background = False  # set once the store has its build worker: only then is work deferred
        self._urgent = 0  # flush() / wait_idle() callers waiting: background work goes at once

    def note_write(self) -> None:
        self.last_write = self.clock()

    def writes_quiet(self) -> bool:
        """Whether no foreground write came in the last `ingest_quiet_ms` (at least a second)."""
        quiet = max(self.config.ingest_quiet_ms / 1000.0, 1.0)
        return self.clock() - self.last_write >= quiet

    @property
    def urgent(self) -> bool:
        return self._urgent > 0

    @contextlib.contextmanager
    def urgency(self) -> Iterator[None]:
        with self._lock:
            self._urgent += 1
        try:
            yield
        finally:
            with self._lock:
                self._urgent -= 1

    def backlog(self) -> tuple[int, float]:
        """(bytes of vectors awaiting a graph, clock() the oldest of them was sealed)."""
        rows, oldest = 0, math.inf
        with self._lock:
            for ns in self._namespaces():
                for b in ns.sealed:
                    if self._graphs.needs_ann(b):
                        rows += b.n
                        oldest = min(oldest, b.sealed_at)
        return rows * self._graphs.dimension * 4, oldest

    def yield_to_writes(self) -> None:
        """Block a background build while writes are streaming in (see the module's docstring).
        Raises ClosedError once the store closes."""
        while True:
            if self._closing():
                raise ClosedError("background work cancelled: the store is closing")
            wait = self.build_wait()
            if wait is None:
                return
            time.sleep(wait)

    def build_wait(self) -> float | None:
        """None if deferred background work may go ahead now, else how long to wait before asking again.

        Decided on `self.clock` alone, so it can be tested without waiting."""
        quiet = self.config.ingest_quiet_ms / 1000.0
        longest = self.config.ingest_defer_max_ms / 1000.0
        if self._urgent or quiet <= 0 or not self.background:
            return None  # without a worker, builds run inline in the writer: never wait there
        now = self.clock()
        idle = now - self.last_write
        if idle >= quiet:
            return None
        backlog, oldest = self.backlog()
        oldest = min(oldest, self.maintenance_since)  # merges of indexed segments wait too
        if backlog > self.config.unindexed_max_bytes or now - oldest >= longest:
            return None
        return min(quiet - idle, 0.05)

    def maintain(self) -> None:
        """Background upkeep after a checkpoint: merge segments, then build missing HNSW graphs."""
        self.maintenance_since = self.clock()
        try:
            self._maintain()
        finally:
            self.maintenance_since = math.inf

    def _maintain(self) -> None:
        self.yield_to_writes()
        with self._lock:
            unwritten = self._persisted and any(
                not b.persisted for ns in self._namespaces() for b in ns.sealed
            )
        if unwritten:
            # A checkpoint is writing segments; compaction must wait for them, and graphs built for
            # segments about to be merged would be thrown away. That checkpoint asks for another round.
            return
        self._compact()
        with self._lock:
            todo = [b for ns in self._namespaces() for b in ns.sealed if self._graphs.needs_ann(b)]
        for block in todo:
            with self._lock:
                still_here = any(block in ns.sealed for ns in self._namespaces())
            if still_here and block.ann is None:
                self._graphs.build_ann(block, pause=self.yield_to_writes)


class Worker:
    """One background thread running `handle(task)` for each request, in request order; repeated
    requests for the same named task ("checkpoint", "maintain") while one is queued are merged."""

    def __init__(self, name: str, handle: Callable[[Any], None]) -> None:
        self._handle = handle
        self._cond = threading.Condition()
        self._queue: list[Any] = []
        self._busy = False
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def request(self, task: Any) -> None:
        with self._cond:
            if isinstance(task, str) and task in self._queue:
                return
            self._queue.append(task)
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                task = self._queue.pop(0)
                self._busy = True
            try:
                self._handle(task)
            except ClosedError:
                pass
            except Exception:
                log.exception("background maintenance task %r failed", task)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return not self._queue and not self._busy

    def wait_idle(self, timeout: float) -> None:
        with self._cond:
            self._cond.wait_for(lambda: not self._queue and not self._busy, timeout=timeout)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._queue.clear()
            self._cond.notify_all()
        self._thread.join(timeout=600)


def wait_all_idle(workers: list[Worker], timeout: float) -> None:
    """Until every worker is idle at the same time (each can queue work for the other: a checkpoint
    schedules HNSW builds), or `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while workers and time.monotonic() < deadline:
        for worker in workers:
            worker.wait_idle(max(0.0, deadline - time.monotonic()))
        if all(w.idle() for w in workers):
            return

"""Where the REST data routes run their service calls: inline on the event loop, or in a thread.

The service is synchronous and thread-safe. Writes always run in a thread, so a slow fsync never
stalls the event loop that serves the other connections. A read runs inline when a thread would cost
more than it gives:

* when it is cheap and no write is in flight: the last reads of its namespace took under
  `CHEAP_READ_S` of CPU (with a write in flight it could wait on the store lock and stall the loop
  for the write's apply, so it takes a thread like before). A thread hop
  costs the loop ~0.1-0.2 ms of Python and the request ~0.3-0.6 ms of latency on these 2-core VMs,
  while a query on a few thousand rows is ~0.05-0.2 ms of work: sending it to a thread only moves the
  hop onto the one core the loop needs (stop 17: 4 x 3k x 768, the anyio hop was ~20% of the server's
  GIL time, the searches themselves 3%);
* when it is alone: nothing else is in flight, so no other request could use the second core meanwhile
  (stop 16: 1.2 ms inside the server inline against 1.9 ms through the pool, 100k x 768).

Otherwise (an expensive read while others are in flight) it goes to a thread: faiss and BLAS release
the GIL, so concurrent searches use both cores. Reads use their own small executor through
`run_in_executor` (one future, one wake-up of the loop) rather than anyio's `to_thread`, whose cancel
scopes, capacity limiter and worker queue cost the loop about twice as much per hop.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import time
import weakref
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

T = TypeVar("T")

# A read whose recent CPU time is below this runs inline whatever else is in flight.
CHEAP_READ_S = 0.0004
# How long after two data-plane calls last overlapped an expensive read keeps going to a thread.
OVERLAP_MEMORY_S = 0.5
# Weight of the newest measurement in a namespace's read cost (a moving average: one slow outlier,
# a page fault say, does not send the next reads to threads).
_COST_WEIGHT = 0.25
# Namespaces whose read cost is remembered; past this the memory starts again (many namespaces).
_COST_KEYS = 4096


class Calls:
    """Runs service calls for the routes, counting those in flight (one event loop: no lock needed)."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.pooled_in_flight = 0  # writes (and the rare read that always takes a thread)
        self.inline_reads = 0  # how many reads ran on the loop (for tests and benchmarks)
        self.threaded_reads = 0
        self._overlap_until = 0.0  # monotonic time until which expensive reads go to a thread
        self._cost: dict[Hashable, float] = {}  # read CPU seconds, moving average, per namespace
        self._executor: ThreadPoolExecutor | None = None
        self._decode: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def pooled(self, fn: Callable[[], T]) -> T:
        self.in_flight += 1
        self.pooled_in_flight += 1
        try:
            return await run_in_threadpool(fn)
        finally:
            self.in_flight -= 1
            self.pooled_in_flight -= 1

    async def pooled_decode(self, fn: Callable[[], T]) -> T:
        """`pooled`, one call at a time. For work that holds the GIL for tens of ms (decoding an
        upsert body): eight at once on two cores cost 20-30 ms more server CPU per 1,000 x 768 batch
        than two, all of it in thread hand-offs, and two at once more than one (stop 17)."""
        loop = asyncio.get_running_loop()
        limit = self._decode.get(loop)
        if limit is None:
            limit = self._decode[loop] = asyncio.Semaphore(1)
        async with limit:
            return await self.pooled(fn)

    def cost(self, key: Hashable) -> float | None:
        """The remembered CPU seconds of a read of `key`, None before the first."""
        return self._cost.get(key)

    async def read(self, fn: Callable[[], T], key: Hashable = None) -> T:
        """Run a read inline when cheap or alone, else in a thread (module docstring)."""
        self.in_flight += 1
        try:
            cost = self._cost.get(key)
            if cost is not None and cost < CHEAP_READ_S and not self.pooled_in_flight:
                return self._inline(fn, key)
            if self._alone():
                # Let requests already waiting on other connections reach this point first: run
                # inline, they could not even be read until this call returns, so a burst of
                # concurrent queries (the SDK's query_namespaces) would be served one by one.
                await asyncio.sleep(0)
                if self._alone():
                    return self._inline(fn, key)
            # Concurrency seen: keep using threads (both cores) until it has been quiet a while.
            self._overlap_until = time.monotonic() + OVERLAP_MEMORY_S
            self.threaded_reads += 1
            ctx = contextvars.copy_context()
            return await asyncio.get_running_loop().run_in_executor(
                self._read_executor(), ctx.run, self._measured, fn, key
            )
        finally:
            self.in_flight -= 1

    def _alone(self) -> bool:
        return self.in_flight == 1 and time.monotonic() >= self._overlap_until

    def _inline(self, fn: Callable[[], T], key: Hashable) -> T:
        self.inline_reads += 1
        return self._measured(fn, key)

    def _measured(self, fn: Callable[[], T], key: Hashable) -> T:
        # CPU time of this thread, not wall time: a read waiting for the GIL behind others is not
        # expensive, and faiss and BLAS run a query's math in the calling thread (one thread each).
        start = time.thread_time()
        result = fn()
        spent = time.thread_time() - start
        old = self._cost.get(key)
        if old is None and len(self._cost) >= _COST_KEYS:
            self._cost.clear()
        self._cost[key] = spent if old is None else old + _COST_WEIGHT * (spent - old)
        return result

    def _read_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            # Enough for every core to search while as many reads wait on the store lock behind a
            # write; more would only queue on the GIL.
            workers = 4 * (os.cpu_count() or 1)
            self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="spruce-read")
        return self._executor


# ~70 records of 768 floats; smaller bodies decode in a few ms and need no slot.
LARGE_BODY_BYTES = 1 << 20

# Shared by every index app of the process: they run on one event loop and share its cores.
CALLS = Calls()

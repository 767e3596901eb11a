"""How the REST data routes hand service calls to threads."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from spruce.api.rest.calls import CHEAP_READ_S
from spruce.api.rest.calls import Calls as _Calls


def test_decodes_run_one_at_a_time() -> None:
    calls = _Calls()
    started, release = threading.Event(), threading.Event()
    running = peak = 0
    lock = threading.Lock()

    def work() -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        started.set()
        release.wait(timeout=120)
        with lock:
            running -= 1
        return 1

    async def main() -> list[int]:
        tasks = [asyncio.ensure_future(calls.pooled_decode(work)) for _ in range(8)]
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 120)
        for _ in range(20):  # every other task gets to run up to its semaphore (no I/O involved)
            await asyncio.sleep(0)
        waiting_at_peak = calls.in_flight
        release.set()
        results = await asyncio.gather(*tasks)
        assert waiting_at_peak == 1  # only the decode in progress entered the pool
        return results

    assert asyncio.run(main()) == [1] * 8
    assert peak == 1
    assert calls.in_flight == 0


def test_plain_pooled_calls_are_not_limited() -> None:
    calls = _Calls()
    barrier = threading.Barrier(6, timeout=10)

    def work() -> int:
        barrier.wait()  # only returns once all six run at the same time
        return 1

    async def main() -> list[int]:
        return await asyncio.gather(*[calls.pooled(work) for _ in range(6)])

    assert asyncio.run(main()) == [1] * 6


def _spin_cpu(seconds: float) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def test_reads_alone_run_inline_and_concurrent_expensive_reads_use_threads() -> None:
    calls = _Calls()
    loop_thread = threading.get_ident()
    where: list[bool] = []  # True: ran on the loop's thread

    def expensive() -> int:
        where.append(threading.get_ident() == loop_thread)
        _spin_cpu(3 * CHEAP_READ_S)
        return 2

    async def main() -> None:
        assert await calls.read(expensive, "ns") == 2  # alone: inline
        assert where == [True]
        assert await asyncio.gather(*[calls.read(expensive, "ns") for _ in range(4)]) == [2] * 4
        assert where[1:].count(False) >= 3  # overlapping and known to be expensive: threads
        cost = calls.cost("ns")
        assert cost is not None and cost >= CHEAP_READ_S

    asyncio.run(main())
    assert calls.in_flight == 0


def test_cheap_reads_stay_inline_under_concurrency_but_not_beside_a_write() -> None:
    calls = _Calls()
    loop_thread = threading.get_ident()
    where: list[bool] = []
    write_started, finish_write = threading.Event(), threading.Event()

    def cheap() -> int:
        where.append(threading.get_ident() == loop_thread)
        return 1

    def write() -> int:
        write_started.set()
        finish_write.wait(timeout=120)
        return 0

    async def main() -> None:
        await calls.read(cheap, "ns")  # learns that "ns" is cheap
        assert calls.cost("ns") is not None
        where.clear()
        assert await asyncio.gather(*[calls.read(cheap, "ns") for _ in range(6)]) == [1] * 6
        assert where == [True] * 6  # overlapping, but cheaper than a thread hop: inline
        pending = asyncio.ensure_future(calls.pooled(write))
        await asyncio.get_running_loop().run_in_executor(None, write_started.wait, 120)
        where.clear()
        assert await calls.read(cheap, "ns") == 1
        assert where == [False]  # a write is in flight: the read could block the loop on its lock
        finish_write.set()
        assert await pending == 0

    asyncio.run(main())
    assert calls.in_flight == 0 and calls.pooled_in_flight == 0


def test_read_errors_propagate_from_both_paths() -> None:
    calls = _Calls()

    def boom() -> int:
        raise ValueError("bad read")

    async def main() -> None:
        with pytest.raises(ValueError, match="bad read"):
            await calls.read(boom, "x")  # inline
        results = await asyncio.gather(*[calls.read(boom, "y") for _ in range(3)], return_exceptions=True)
        assert all(isinstance(r, ValueError) for r in results)

    asyncio.run(main())
    assert calls.in_flight == 0

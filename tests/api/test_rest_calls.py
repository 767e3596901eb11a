"""How the REST data routes hand service calls to threads."""

from __future__ import annotations

import asyncio
import threading

from spruce.api.rest.data import _Calls


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

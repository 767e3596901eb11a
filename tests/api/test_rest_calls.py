"""How the REST data routes hand service calls to threads."""

from __future__ import annotations

import asyncio
import os
import threading

from spruce.api.rest.data import _Calls


def test_cpu_bound_calls_run_at_most_one_per_core() -> None:
    calls = _Calls()
    limit = min(8, os.cpu_count() or 1)
    changed = threading.Condition()
    running = peak = 0

    def work() -> int:
        nonlocal running, peak
        with changed:
            running += 1
            peak = max(peak, running)
            changed.notify_all()
            # Hold the slot until `limit` calls have overlapped (an event, not a sleep, so a slow machine
            # cannot make the calls run one after another); a limit never reached times out below.
            changed.wait_for(lambda: peak >= limit, timeout=120)
            running -= 1
        return 1

    async def main() -> list[int]:
        return await asyncio.gather(*[calls.pooled_cpu_bound(work) for _ in range(8)])

    assert asyncio.run(main()) == [1] * 8
    assert peak == limit
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

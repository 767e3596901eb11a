"""Reused buffers for large request bodies (upserts of ~15 MB of JSON).

Joining a large body's chunks into a new `bytes` asks the allocator for 15 MB each time, and with
several uploads in flight that memory keeps coming fresh from the kernel, which zeroes every page on
first touch: with 8 SDK uploads in flight `clear_page` was ~30% of the server's CPU. A body read into
a warm buffer that is given back after decoding costs only the copy.

Only touched from the event loop (take and give both run there), so no lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.requests import Request

from spruce.errors import PayloadTooLargeError

# Idle buffers kept, in bytes all told: what a few large uploads in flight need, no more. The body
# budget (middleware.BodyBudget) already caps what is held while requests are in flight.
_MAX_IDLE_BYTES = 64 << 20


class BodyPool:
    def __init__(self, max_idle_bytes: int = _MAX_IDLE_BYTES) -> None:
        self.max_idle_bytes = max_idle_bytes
        self._idle: list[bytearray] = []

    def take(self, size: int) -> bytearray:
        """An idle buffer of at least `size` bytes (the smallest that fits), or a new one."""
        fits = [b for b in self._idle if len(b) >= size]
        if fits:
            buf = min(fits, key=len)
            self._idle.remove(buf)
            return buf
        return bytearray(size)

    def give(self, buf: bytearray) -> None:
        self._idle.append(buf)
        self._idle.sort(key=len, reverse=True)
        while sum(map(len, self._idle)) > self.max_idle_bytes:
            self._idle.pop()  # keep the largest, which serve any body


POOL = BodyPool()


@asynccontextmanager
async def pooled_body(request: Request, size: int, limit: int) -> AsyncIterator[memoryview]:
    """The body of a request that declared `size` bytes (Content-Length, already checked against
    `limit`), as a view of a pooled buffer valid inside the block only. A body longer than declared
    is refused as the plain path refuses it; a shorter one (a client that lied) is what arrived."""
    buf = POOL.take(size)
    view = memoryview(buf)
    reusable = False
    try:
        got = 0
        async for chunk in request.stream():
            end = got + len(chunk)
            if end > size:
                if end > limit:
                    raise PayloadTooLargeError(f"request body exceeds the limit of {limit} bytes")
                # More than Content-Length said: HTTP servers do not pass that on, but stay correct.
                grown = bytearray(end)
                grown[:got] = view[:got]
                view.release()
                buf, view = grown, memoryview(grown)
                size = end
            view[got:end] = chunk
            got = end
        body = view[:got]
        try:
            yield body
            reusable = True
        except Exception:
            # The decoder ran to its end (its error came back through the await): nobody reads the
            # buffer any more. A cancellation (BaseException) may leave a thread still reading it, so
            # that buffer is never reused.
            reusable = True
            raise
        finally:
            reusable = _released(body) and reusable
    finally:
        if _released(view) and reusable:
            POOL.give(buf)


def _released(view: memoryview) -> bool:
    """Release the view; False if something (a numpy array in a lingering traceback) still holds it,
    and then the buffer is left to the garbage collector instead of the pool."""
    try:
        view.release()
    except BufferError:
        return False
    return True

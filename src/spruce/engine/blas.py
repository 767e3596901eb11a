"""Single-threaded BLAS for query scoring.

numpy's OpenBLAS runs each matrix-vector product on every core. A query's exact scans are small and
several queries run at once (server threads), so the threads only contend: measured on 2 cores under
load, 2,000 x 768 took 8.1 ms on 2 BLAS threads and 0.25 ms on one. The limit is process-wide while a
query scores (threadpoolctl has no per-thread limit); entering it costs ~10 us.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None
_init_lock = threading.Lock()


def _get() -> ThreadpoolController:
    global _controller
    if _controller is None:
        with _init_lock:
            if _controller is None:
                _controller = ThreadpoolController()
    return _controller


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    with _get().limit(limits=1, user_api="blas"):
        yield

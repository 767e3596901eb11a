"""Single-threaded BLAS for query scoring.

numpy's OpenBLAS runs each matrix-vector product on every core. A query's exact scans are small and
several queries run at once (server threads), so the threads only contend: measured on 2 cores under
load, 2,000 x 768 took 8.1 ms on 2 BLAS threads and 0.25 ms on one.

The limit is process-wide (threadpoolctl has no per-thread limit), so it is reference counted: the
first query to enter sets one thread, the last one to leave restores what was there before. A plain
`threadpoolctl` limit per query would race: query A enters (saves 2, sets 1), B enters (saves 1), A
leaves and restores 2 while B still scores, and B's exit then leaves the process at 1 for good.
Entering and leaving while another query holds the limit costs a lock and a counter (~1 us); only the
first entry and the last exit call into OpenBLAS (~10 us).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from threadpoolctl import ThreadpoolController

_controller: ThreadpoolController | None = None
_lock = threading.Lock()
_holders = 0
_saved: Any = None  # what threadpoolctl gives back to restore on the last exit


def _get() -> ThreadpoolController:
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


def _enter() -> None:
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = _get().limit(limits=1, user_api="blas")
        _holders += 1


def _exit() -> None:
    global _holders, _saved
    with _lock:
        _holders -= 1
        if _holders == 0 and _saved is not None:
            saved, _saved = _saved, None
            saved.restore_original_limits()


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    _enter()
    try:
        yield
    finally:
        _exit()


def holders() -> int:
    """Queries inside `single_threaded_blas` right now (for tests)."""
    return _holders

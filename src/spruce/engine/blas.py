"""Single-threaded BLAS for query scoring.

numpy's OpenBLAS runs each matrix-vector product on every core. A query's exact scans are small and
several queries run at once (server threads), so the threads only contend: measured on 2 cores under
load, 2,000 x 768 took 8.1 ms on 2 BLAS threads and 0.25 ms on one.

The limit is process-wide (threadpoolctl has no per-thread limit), so it is reference counted: the
first query to enter sets one thread, the last one to leave restores what was there before. A plain
`threadpoolctl` limit per query would race: query A enters (saves 2, sets 1), B enters (saves 1), A
leaves and restores 2 while B still scores, and B's exit then leaves the process at 1 for good.
Entering and leaving while another query holds the limit costs a lock and a counter (~1 us); the
first entry and the last exit call each OpenBLAS library's get/set directly (~1 us a call) instead of
threadpoolctl's `limit`, which rebuilt its library info three times per query (~100 us, stop 17).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from threadpoolctl import ThreadpoolController

_libs: list[Any] | None = None  # threadpoolctl's controller of each BLAS library loaded (numpy, faiss)
_lock = threading.Lock()
_holders = 0
_saved: list[int] = []  # each library's thread count before the first holder entered


def _blas_libs() -> list[Any]:
    global _libs
    if _libs is None:
        _libs = list(ThreadpoolController().select(user_api="blas").lib_controllers)
    return _libs


def _enter() -> None:
    global _holders, _saved
    with _lock:
        if _holders == 0:
            libs = _blas_libs()
            _saved = [lib.get_num_threads() for lib in libs]
            for lib in libs:
                lib.set_num_threads(1)
        _holders += 1


def _exit() -> None:
    global _holders
    with _lock:
        _holders -= 1
        if _holders == 0:
            for lib, n in zip(_blas_libs(), _saved, strict=True):
                lib.set_num_threads(n)


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

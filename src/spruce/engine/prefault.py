"""Pages of a memtable's vector buffer made present just ahead of the writer, on another thread.

A memtable's vectors go into one large `np.empty` array (its full size at once, rows.py) whose pages
the kernel supplies on first write. On these VMs that first touch is slow: freed guest memory goes
back to the host, and getting it again cost 4.7 s per GB (buffers.py). A 1,000 x 768 upsert writes 3
MB of new pages, 5-9 ms of an upsert whose other work is ~10 ms, all of it on the writer's thread
while it holds the store lock.

`populate_ahead(array, start, stop)` asks a daemon thread to madvise(MADV_POPULATE_WRITE) those bytes:
that allocates the pages without changing a byte of them (Linux 5.14+), so it can run while the
writer fills the same array, and the syscall holds no GIL. The memtable asks for a window of
WINDOW_BYTES past its last row whenever less than half of it is left, so the writer mostly finds its
pages present, and at most one window per memtable is resident before rows need it (populating the
whole array would make a memtable that never fills hold its full size in RAM). Where the kernel
refuses the call (older kernels, other systems), nothing is done: the writer faults the pages in
itself, as before.
"""

from __future__ import annotations

import ctypes
import logging
import mmap
import queue
import threading
from typing import Any

import numpy as np

log = logging.getLogger("spruce.engine")

_MADV_POPULATE_READ = 22  # <linux/mman.h>; absent from Python's mmap module before 3.13
_MADV_POPULATE_WRITE = 23
_CHUNK = 4 << 20  # bytes per madvise call
WINDOW_BYTES = 8 << 20  # populated ahead of a memtable's last row (2-5 upserts of 1,000 rows)

_jobs: queue.SimpleQueue[tuple[np.ndarray[Any, Any], int, int]] = queue.SimpleQueue()
_started = threading.Lock()
_thread: threading.Thread | None = None
_supported = True
_read_supported = True


def _madvise() -> Any | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.madvise
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    fn.restype = ctypes.c_int
    return fn


_MADVISE = _madvise()


def populate(array: np.ndarray[Any, Any], start: int = 0, stop: int | None = None) -> bool:
    """Make the whole pages within bytes [start, stop) of the array present now, on this thread.
    False where unsupported."""
    global _supported
    if _MADVISE is None or not _supported:
        return False
    page = mmap.PAGESIZE
    addr = array.ctypes.data
    end_byte = array.nbytes if stop is None else min(stop, array.nbytes)
    # Whole pages only: a page shared with the bytes around the range may be written by others.
    first = -(-(addr + start) // page) * page
    last = (addr + end_byte) // page * page
    if not _advise(first, last, _MADV_POPULATE_WRITE):
        _supported = False
        log.debug(
            "MADV_POPULATE_WRITE unavailable (errno %d): memtable pages fault in on write", ctypes.get_errno()
        )
        return False
    return True


def _advise(first: int, last: int, advice: int) -> bool:
    """madvise(advice) over the addresses [first, last), a chunk at a time; False on the first refusal."""
    assert _MADVISE is not None
    while first < last:
        n = min(_CHUNK, last - first)
        if _MADVISE(first, n, advice) != 0:
            return False
        first += n
    return True


def map_in(array: np.ndarray[Any, Any]) -> bool:
    """Map every page of a read-only memory-mapped array into this process now (MADV_POPULATE_READ),
    reading from disk what the page cache lacks. A quantised graph re-scores ~20 random rows of its
    segment per query, and in a fresh process each first touch of a page was a fault: 42 us of a
    ~430 us query at 100k x 768 until every page had been touched (stop 23). False where unsupported."""
    global _read_supported
    if _MADVISE is None or not _read_supported or array.nbytes == 0:
        return False
    addr = array.ctypes.data
    # Reading touches nothing, so the partial pages at either end are included.
    if not _advise(addr // mmap.PAGESIZE * mmap.PAGESIZE, addr + array.nbytes, _MADV_POPULATE_READ):
        _read_supported = False
        log.debug("MADV_POPULATE_READ unavailable (errno %d)", ctypes.get_errno())
        return False
    return True


def _run() -> None:
    while True:
        array, start, stop = _jobs.get()
        populate(array, start, stop)
        del array  # the array's memory may go back as soon as its owner lets it go


def populate_ahead(array: np.ndarray[Any, Any], start: int, stop: int) -> bool:
    """Queue bytes [start, stop) of a C-contiguous array for `populate` on the prefault thread.
    False (nothing queued) where unsupported."""
    global _thread
    if _MADVISE is None or not _supported or not array.flags.c_contiguous or start >= stop:
        return False
    with _started:
        if _thread is None:
            _thread = threading.Thread(target=_run, name="spruce-prefault", daemon=True)
            _thread.start()
    _jobs.put((array, start, stop))
    return True

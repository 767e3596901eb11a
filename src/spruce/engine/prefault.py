"""Pages of a fresh memtable buffer made present ahead of the writer, on another thread.

A memtable's vectors go into one large `np.empty` array whose pages the kernel supplies on first
write. On these VMs that first touch is slow: freed guest memory goes back to the host, and getting
it again cost 4.7 s per GB (buffers.py). A 1,000 x 384 upsert writes 1.5 MB of new pages, 5-7 ms
of an upsert whose other work is ~10 ms, all of it on the writer's thread while it holds the store
lock.

`populate_ahead(array)` asks a daemon thread to madvise(MADV_POPULATE_WRITE) the array from its start
in chunks: that allocates the pages without changing a byte of them (Linux 5.14+), so it can run
while the writer fills the same array, and the syscall holds no GIL. The writer then mostly finds
its pages present. Where the kernel refuses it (older kernels, other systems), nothing is done: the
writer faults the pages in itself, as before.
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

_MADV_POPULATE_WRITE = 23  # <linux/mman.h>; absent from Python's mmap module before 3.13
_CHUNK = 4 << 20  # bytes per madvise: small enough that the writer rarely waits on a chunk's lock
_MIN_BYTES = 8 << 20  # smaller arrays fault in quickly enough on their own

_jobs: queue.SimpleQueue[np.ndarray[Any, Any]] = queue.SimpleQueue()
_started = threading.Lock()
_thread: threading.Thread | None = None
_supported = True


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


def populate(array: np.ndarray[Any, Any]) -> bool:
    """Make the array's whole pages present now (on this thread). False where unsupported."""
    global _supported
    if _MADVISE is None or not _supported:
        return False
    page = mmap.PAGESIZE
    addr = array.ctypes.data
    start = -(-addr // page) * page
    end = (addr + array.nbytes) // page * page
    while start < end:
        n = min(_CHUNK, end - start)
        if _MADVISE(start, n, _MADV_POPULATE_WRITE) != 0:
            err = ctypes.get_errno()
            _supported = False
            log.debug("MADV_POPULATE_WRITE unavailable (errno %d): memtable pages fault in on write", err)
            return False
        start += n
    return True


def _run() -> None:
    while True:
        array = _jobs.get()
        populate(array)
        del array  # the array's memory may go back as soon as its owner lets it go


def populate_ahead(array: np.ndarray[Any, Any]) -> None:
    """Queue a fresh, C-contiguous array for `populate` on the prefault thread."""
    global _thread
    if _MADVISE is None or not _supported or array.nbytes < _MIN_BYTES or not array.flags.c_contiguous:
        return
    with _started:
        if _thread is None:
            _thread = threading.Thread(target=_run, name="spruce-prefault", daemon=True)
            _thread.start()
    _jobs.put(array)

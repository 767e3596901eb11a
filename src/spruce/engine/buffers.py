"""Reuse of memtable vector buffers across seals.

A memtable's vectors live in one large array (60 MB for 20,000 x 768). Once its segment is written,
the sealed block reads its rows from the memory-mapped file and the array is dropped. Handing that
memory back to the OS and asking for fresh memory for the next memtable is expensive on virtual
machines that return freed guest pages to the host: measured here, touching 60 MB that had been free
for 3 s or more cost 270-320 ms (4.7 s per GB), against 13-20 ms for memory freed a moment ago; at
50,000 vectors/s that is most of a core. So released arrays are kept and handed to the next memtable.

An array may be handed out again only when nothing else refers to it: a query that captured the
sealed block's rows before the switch still reads them. CPython's reference count says exactly
that, so a released array waits in the pool until the pool's own reference is the only one left.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

_MAX_KEPT = 2  # per (rows, dimension): the memtable being filled plus one being written out


class BufferPool:
    def __init__(self, max_kept: int = _MAX_KEPT) -> None:
        self._lock = threading.Lock()
        self._kept: list[np.ndarray[Any, Any]] = []
        self._max_kept = max_kept
        self.reused = 0  # arrays handed out again (for tests and benchmarks)

    def release(self, array: np.ndarray[Any, Any]) -> None:
        """Offer a no-longer-needed float32 (rows, dimension) array for reuse."""
        if array.ndim != 2 or array.dtype != np.float32 or array.base is not None:
            return  # a view or a memory map: not ours to reuse
        with self._lock:
            same = [i for i, a in enumerate(self._kept) if a.shape == array.shape]
            if len(same) >= self._max_kept:
                del self._kept[same[0]]
            self._kept.append(array)

    def take(self, rows: int, dimension: int) -> np.ndarray[Any, Any]:
        """A float32 array of at least `rows` x `dimension` (contents undefined), reused if possible."""
        with self._lock:
            for i in range(len(self._kept)):
                a = self._kept[i]
                # Two references: the list's and getrefcount's argument. `a` above is a third.
                if a.shape[1] == dimension and a.shape[0] >= rows and sys.getrefcount(a) == 3:
                    del self._kept[i]
                    self.reused += 1
                    return a
        return np.empty((rows, dimension), dtype=np.float32)

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)


POOL = BufferPool()

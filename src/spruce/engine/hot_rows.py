"""Contiguous copies of a sealed block's rows for filters that keep coming back.

Scoring 1k scattered rows of a 100k x 768 block reads 1k random 3 KB rows; the same rows side by side
are one streaming mat-vec, which is what a system partitioned by the filter's field would do. A sealed
block's vectors never change, so the copy stays valid for the block's life (deleted rows only matter
through `alive`, and a block with deleted rows does not use the copies at all).

A copy is made on a filter's second narrow query (one-off filters never pay for it), and the copies
of one block hold at most `_SHARE` of the block's own vector bytes. When they are full, a new filter's
copy displaces others only if it is queried more than twice as often as each (query counts are halved
every `_AGE_EVERY` lookups, so yesterday's hot filter fades). Evicting the oldest copy instead made a
workload of more filters than fit (25 filters of 3 MB cycling through a 30 MB budget) gather 3 MB on
every query: 6x slower than scoring the scattered rows without any copy.
"""

from __future__ import annotations

import threading
from typing import Final

import numpy as np

from spruce.engine.filter import Filter
from spruce.types import FloatArray, IntArray

_SHARE: Final = 0.10  # of the block's vector bytes, at most, in copies
_MAX_FILTERS_SEEN: Final = 1024  # filters whose query counts are kept
_AGE_EVERY: Final = 4096  # lookups between halvings of every count


class HotRows:
    def __init__(self, dense: FloatArray, n: int) -> None:
        self._dense = dense
        self._budget = int(_SHARE * n * dense.shape[1] * dense.itemsize)
        self._copies: dict[Filter, FloatArray] = {}
        self._bytes = 0
        self._counts: dict[Filter, int] = {}  # recent narrow queries of each filter
        self._lookups = 0
        self._lock = threading.Lock()

    def get(self, f: Filter, rows: IntArray) -> FloatArray | None:
        """The vectors of `rows` (the filter's rows, ascending) side by side, or None (not yet)."""
        size = len(rows) * self._dense.shape[1] * self._dense.itemsize
        if size > self._budget or not len(rows):
            return None
        with self._lock:
            count = self._count(f)
            hit = self._copies.get(f)
            if hit is not None and len(hit) == len(rows):
                return hit
            if count < 2 or not self._room_for(size, count, evict=False):
                return None
        copy = np.take(self._dense, rows, axis=0)
        copy.setflags(write=False)
        with self._lock:
            if f in self._copies or not self._room_for(size, count, evict=True):
                return copy  # another thread admitted it meanwhile, or the copies changed
            self._copies[f] = copy
            self._bytes += size
        return copy

    def _count(self, f: Filter) -> int:
        self._lookups += 1
        if self._lookups >= _AGE_EVERY or len(self._counts) >= _MAX_FILTERS_SEEN:
            self._lookups = 0
            self._counts = {g: c // 2 for g, c in self._counts.items() if c > 1 or g in self._copies}
            if len(self._counts) >= _MAX_FILTERS_SEEN:  # many filters, each queried often
                self._counts = {g: c for g, c in self._counts.items() if g in self._copies}
        count = self._counts.get(f, 0) + 1
        self._counts[f] = count
        return count

    def _room_for(self, size: int, count: int, *, evict: bool) -> bool:
        """Whether a copy of `size` bytes for a filter queried `count` times fits, once the copies of
        filters queried less than half as often are dropped (they are dropped if `evict`)."""
        free = self._budget - self._bytes
        if free >= size:
            return True
        victims = sorted(self._copies, key=lambda g: self._counts.get(g, 0))
        chosen: list[Filter] = []
        for g in victims:
            if free >= size or 2 * self._counts.get(g, 0) >= count:
                break
            free += self._copies[g].nbytes
            chosen.append(g)
        if free < size:
            return False
        if evict:
            for g in chosen:
                self._bytes -= self._copies.pop(g).nbytes
        return True

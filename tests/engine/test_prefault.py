"""Memtable pages made present on another thread (engine/prefault.py) without changing a byte."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from spruce.engine import prefault
from spruce.engine.buffers import BufferPool


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


needs_linux = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="Linux only")


@needs_linux
def test_populate_makes_pages_resident_and_keeps_contents() -> None:
    size = 64 << 20
    array = np.empty((size // (4 * 256), 256), dtype=np.float32)
    half = len(array) // 2
    array[:half] = np.arange(half * 256, dtype=np.float32).reshape(half, 256)
    before = _rss_bytes()
    if not prefault.populate(array):
        pytest.skip("this kernel has no MADV_POPULATE_WRITE (Linux < 5.14)")
    grown = _rss_bytes() - before
    # The unwritten half (32 MB) became resident; the written half already was.
    assert grown >= 0.9 * (size // 2), grown
    np.testing.assert_array_equal(array[:half].ravel(), np.arange(half * 256, dtype=np.float32))
    assert not array[half:].any()  # fresh anonymous pages read as zeros


@needs_linux
def test_writer_and_prefault_thread_on_one_array_lose_no_write() -> None:
    """The writer fills rows while the prefault thread populates the same array: every row written
    is what it reads back (populating never replaces a page the writer has touched)."""
    rows, dim = 40_000, 128
    array = np.empty((rows, dim), dtype=np.float32)
    prefault.populate_ahead(array)
    chunk = np.ones((500, dim), dtype=np.float32)
    for start in range(0, rows, 500):
        array[start : start + 500] = chunk * start
    done = threading.Event()
    prefault._jobs.put(np.empty((0, 0), dtype=np.float32))  # a marker after our array
    # Wait for the thread to reach the marker (the queue drains in order) without sleeping blindly.
    while not prefault._jobs.empty():
        done.wait(0.01)
    expected = np.repeat(np.arange(0, rows, 500, dtype=np.float32), 500)
    np.testing.assert_array_equal(array[:, 0], expected)
    np.testing.assert_array_equal(array[:, -1], expected)


def test_pool_hands_out_fresh_arrays_for_prefault(monkeypatch: pytest.MonkeyPatch) -> None:
    queued: list[tuple[int, ...]] = []
    monkeypatch.setattr("spruce.engine.buffers.populate_ahead", lambda a: queued.append(a.shape))
    pool = BufferPool()
    a = pool.take(1000, 64)
    assert queued == [(1000, 64)]
    pool.release(a)
    del a
    b = pool.take(1000, 64)  # reused: already paged in, not queued again
    assert queued == [(1000, 64)] and pool.reused == 1 and b.shape == (1000, 64)

"""Memtable pages made present on another thread (engine/prefault.py) without changing a byte."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from spruce.engine import prefault
from spruce.engine.rows import RowBlock
from spruce.types import Record


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
    assert prefault.populate_ahead(array, 0, array.nbytes) or not prefault._supported
    chunk = np.ones((500, dim), dtype=np.float32)
    for start in range(0, rows, 500):
        array[start : start + 500] = chunk * start
    _drain()
    expected = np.repeat(np.arange(0, rows, 500, dtype=np.float32), 500)
    np.testing.assert_array_equal(array[:, 0], expected)
    np.testing.assert_array_equal(array[:, -1], expected)


@needs_linux
def test_memtable_keeps_only_a_window_ahead_resident() -> None:
    """A full-size memtable buffer (115 MB here) is populated a window at a time past its last row,
    never all at once: a memtable that stays small must not hold its whole size in RAM."""
    dim = 256
    block = RowBlock(dim, block_id=1, grow_to=100_000)
    rows = np.ones((1_000, dim), dtype=np.float32)
    records = [Record(id=f"r{i}", values=rows[i]) for i in range(1_000)]
    before = _rss_bytes()
    for _ in range(5):  # past 4,096 rows: the buffer jumps to its full size
        block.extend(records, rows)
    _drain()
    assert block.dense.nbytes > 100 << 20
    assert block._populated <= 5_000 * dim * 4 + prefault.WINDOW_BYTES
    assert _rss_bytes() - before < 5 * dim * 4 * 1_000 + prefault.WINDOW_BYTES + (16 << 20)
    if prefault._supported:
        assert block._populated > 5_000 * dim * 4  # the window past the last row was asked for


def _drain() -> None:
    """Wait until the prefault thread has taken every job queued so far (it takes them in order, so
    once a marker queued after them is gone, they are done), without sleeping blindly."""
    if prefault._thread is None:
        return
    marker = np.empty(0, dtype=np.float32)
    prefault._jobs.put((marker, 0, 0))
    gone = threading.Event()
    while not prefault._jobs.empty():
        gone.wait(0.005)

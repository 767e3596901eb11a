"""CRC-32 of files, read on two threads when they are large, and of concatenated pieces.

Verifying a segment on open reads every file (512 MB of vectors for 1M x 128): zlib.crc32 releases
the GIL, so the file is read in PARALLEL pieces with `os.pread` into reused buffers and the pieces'
CRCs are combined. The result is the plain zlib CRC-32 of the file: the on-disk format is unchanged.
"""

from __future__ import annotations

import os
import threading
import zlib
from pathlib import Path

PARALLEL = 2  # the machines this runs on have 2 cores; more pieces only add seeks
_PARALLEL_MIN_BYTES = 64 << 20
_BUF_BYTES = 4 << 20


def _range_crc32(fd: int, start: int, stop: int) -> int:
    crc = 0
    buf = bytearray(min(_BUF_BYTES, max(stop - start, 1)))
    view = memoryview(buf)
    pos = start
    while pos < stop:
        k = os.preadv(fd, [view[: min(len(buf), stop - pos)]], pos)
        if k == 0:
            raise OSError(f"file shrank while being read (at byte {pos} of {stop})")
        crc = zlib.crc32(view[:k], crc)
        pos += k
    return crc


def file_crc32(path: Path) -> int:
    """zlib.crc32 of the whole file."""
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size < _PARALLEL_MIN_BYTES or PARALLEL < 2 or not hasattr(os, "preadv"):
            crc = 0
            with os.fdopen(os.dup(fd), "rb") as f:
                while chunk := f.read(1 << 20):
                    crc = zlib.crc32(chunk, crc)
            return crc
        bounds = [size * i // PARALLEL for i in range(PARALLEL + 1)]
        crcs = [0] * PARALLEL
        errors: list[BaseException] = []

        def piece(i: int) -> None:
            try:
                crcs[i] = _range_crc32(fd, bounds[i], bounds[i + 1])
            except BaseException as exc:  # re-raised by the caller
                errors.append(exc)

        threads = [threading.Thread(target=piece, args=(i,), daemon=True) for i in range(1, PARALLEL)]
        for t in threads:
            t.start()
        piece(0)
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        crc = crcs[0]
        for i in range(1, PARALLEL):
            crc = crc32_combine(crc, crcs[i], bounds[i + 1] - bounds[i])
        return crc
    finally:
        os.close(fd)


# -- CRC-32 of concatenated pieces ------------------------------------------------------------------
# A `.npy` header is written last (it holds the final row count) but comes first in the file, so its
# CRC is combined with the body's: CRC-32 is linear over GF(2), and running the register over n zero
# bytes is a 32x32 bit matrix, raised to the n-th power by squaring (log n steps, no data read).
_CRC_POLY = 0xEDB88320  # reflected CRC-32 polynomial, as zlib.crc32 uses


def _apply(matrix: list[int], vector: int) -> int:
    out, bit = 0, 0
    while vector:
        if vector & 1:
            out ^= matrix[bit]
        vector >>= 1
        bit += 1
    return out


def _zero_bytes_operator() -> list[int]:
    """The register's transformation for one zero byte: the one-bit shift-and-feedback, cubed twice."""
    op = [_CRC_POLY] + [1 << (i - 1) for i in range(1, 32)]  # column i = image of register bit i
    for _ in range(3):
        op = [_apply(op, col) for col in op]
    return op


_ONE_ZERO_BYTE = _zero_bytes_operator()


def crc32_combine(crc_a: int, crc_b: int, len_b: int) -> int:
    """zlib.crc32(a + b) from zlib.crc32(a), zlib.crc32(b) and len(b)."""
    op, crc = _ONE_ZERO_BYTE, crc_a
    while len_b:
        if len_b & 1:
            crc = _apply(op, crc)
        len_b >>= 1
        if len_b:
            op = [_apply(op, col) for col in op]
    return crc ^ crc_b

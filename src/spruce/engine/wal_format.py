"""The WAL's bytes on disk: file names, headers, frames and their checksum.

Byte layout
===========

A WAL is a directory::

    <dir>/wal-<first_lsn:020d>.log      WAL files; first_lsn is the LSN of the file's first frame
    <dir>/wal-....log.torn-<n>          quarantined torn tails cut off by recovery (kept for
                                        forensics, never read again)
    <dir>/wal-....log.corrupt-<n>       copies of corrupt stretches skipped by recovery
    <dir>/wal.lock                      flock'd while a `Wal` has the directory open

Each WAL file is a header followed by zero or more frames::

    file    := FILE_HEADER frame*
    frame   := FRAME_HEADER payload

All integers are little-endian.

FILE_HEADER, struct "<6sH", FILE_HEADER_SIZE = 8 bytes:
    magic     6 bytes   b"SPRWAL"
    version   u16       FORMAT_VERSION

FRAME_HEADER, struct "<IIQ", FRAME_HEADER_SIZE = 16 bytes:
    length    u32       payload length in bytes (so a payload is at most MAX_PAYLOAD bytes)
    crc       u32       zlib.crc32 over LSN_FIELD-packed lsn (8 bytes) followed by the payload
    lsn       u64       log sequence number

followed by `length` payload bytes, opaque to the WAL.

LSNs start at 1 and are consecutive across the whole WAL: the first frame of a file has the LSN in
the file's name and each following frame, in that file and in the next file, the previous LSN + 1.
A file may hold no frames (freshly created or rotated); its name then says the LSN the next frame
will get.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

MAGIC: Final = b"SPRWAL"
FORMAT_VERSION: Final = 1

FILE_HEADER: Final = struct.Struct("<6sH")
FILE_HEADER_SIZE: Final = 8
assert FILE_HEADER.size == FILE_HEADER_SIZE

FRAME_HEADER: Final = struct.Struct("<IIQ")
FRAME_HEADER_SIZE: Final = 16
assert FRAME_HEADER.size == FRAME_HEADER_SIZE

# The lsn as it enters the CRC (same encoding as in FRAME_HEADER).
LSN_FIELD: Final = struct.Struct("<Q")
assert LSN_FIELD.size == 8

MAX_PAYLOAD: Final = 0xFFFF_FFFF

HEADER_BYTES: Final = FILE_HEADER.pack(MAGIC, FORMAT_VERSION)
FILE_RE: Final = re.compile(r"wal-(\d{20})\.log")

# What append accepts: anything C-contiguous exposing the buffer protocol as bytes, views included,
# or a tuple of such parts: one frame whose payload is the parts concatenated, written by writev and
# checksummed part by part (the same bytes and CRC on disk as the joined payload), so a large put's
# dense block goes to the file without being copied into one bytes object first.
Buffer = bytes | bytearray | memoryview
Payload = Buffer | tuple[Buffer, ...]


def wal_file_name(first_lsn: int) -> str:
    return f"wal-{first_lsn:020d}.log"


def frame_crc(lsn: int, payload: bytes | memoryview) -> int:
    return zlib.crc32(payload, zlib.crc32(LSN_FIELD.pack(lsn)))


def payload_parts(payload: Payload) -> list[bytes | memoryview]:
    """The payload as byte buffers (len() of a memoryview counts items, not bytes: a float32 view
    of 3 MB has len 768 000, hence the casts)."""
    items = payload if isinstance(payload, tuple) else (payload,)
    return [p if isinstance(p, bytes) else memoryview(p).cast("B") for p in items]


def parts_crc(lsn: int, parts: Sequence[bytes | memoryview]) -> int:
    """The CRC of a frame whose payload is `parts` joined, without joining them."""
    crc = zlib.crc32(LSN_FIELD.pack(lsn))
    for part in parts:
        crc = zlib.crc32(part, crc)
    return crc


@dataclass
class WalFile:
    first_lsn: int
    path: Path
    size: int  # bytes of valid content (header + complete frames)
    # (start, end, first lsn) of each stretch of intact, consecutive frames; several only after a
    # recovery skipped damage in this file.
    runs: list[tuple[int, int, int]] = field(default_factory=list)

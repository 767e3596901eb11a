"""Reading a damaged WAL: find every intact frame, and say exactly what could not be read.

A crash only ever tears the *end* of the last WAL file (frames are appended, and every file is fsync'd
before the next one is created). Anything else is corruption: a flipped bit, a zeroed block, a missing
file. The two are told apart by what follows the damage. After a bad frame the scanner looks for the
next frame that is valid on its own (header, payload length within the file, CRC over LSN + payload)
and carries an LSN at or above the one expected; if there is one, the frames in between are *lost*,
not torn, and the damage is reported with its byte range and LSN range. Only damage that runs to the
end of the last file with no valid frame after it is a torn tail.

What to do with corruption is the engine's recovery policy (`WalRecovery`, chosen like RocksDB's
`wal_recovery_mode`):

- `fail` (default): refuse to open; the report says what is damaged and what would be lost. Nothing
  on disk is changed, so `spruce repair` (or the opt-in mode) can still recover all of it later.
- `skip-corrupted`: open with every intact frame; copy the damaged bytes aside to
  `<file>.corrupt-<n>`, log each loss at ERROR and return it in the report.

Damage that loses nothing already acknowledged-and-not-checkpointed (all of its LSNs are covered by
the manifest's checkpoint) is harmless and never blocks an open.

Resynchronising looks at every byte offset: the candidate LSN fields (8 bytes at offset + 8) are
compared in bulk with numpy, so only plausible headers reach the CRC check.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Final, Literal

import numpy as np

from spruce.engine.fsutil import atomic_write_chunks
from spruce.engine.wal_format import (
    FILE_HEADER,
    FILE_HEADER_SIZE,
    FORMAT_VERSION,
    FRAME_HEADER,
    FRAME_HEADER_SIZE,
    MAGIC,
    frame_crc,
)

__all__ = ["RECOVERY_MODES", "Damage", "FileScan", "WalRecovery", "copy_range", "quarantine", "scan_file"]

WalRecovery = Literal["fail", "skip-corrupted"]
RECOVERY_MODES: Final = ("fail", "skip-corrupted")

DamageKind = Literal["header", "frames", "missing"]

# Offsets scanned per numpy pass while resynchronising (the u64 view costs 8 bytes per offset).
_CHUNK: Final = 1 << 22
_COPY_CHUNK: Final = 1 << 20


@dataclass(frozen=True)
class Damage:
    """One damaged stretch of the WAL.

    Bytes [start, end) of `file` could not be read as frames; LSNs first_lost..last_lost (inclusive)
    are gone (none when last_lost < first_lost: e.g. junk between intact frames, or a bad header).
    """

    file: Path
    start: int
    end: int
    first_lost: int
    last_lost: int
    reason: str
    kind: DamageKind = "frames"
    quarantined: Path | None = None

    @property
    def lost_frames(self) -> int:
        return max(0, self.last_lost - self.first_lost + 1)

    def describe(self) -> str:
        lost = (
            f"frames {self.first_lost}..{self.last_lost} ({self.lost_frames}) lost"
            if self.lost_frames
            else "no frame lost"
        )
        where = (
            f"{self.file.name} bytes {self.start}..{self.end}" if self.end > self.start else self.file.name
        )
        kept = f"; damaged bytes kept in {self.quarantined.name}" if self.quarantined else ""
        return f"{where}: {self.reason}; {lost}{kept}"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.file),
            "bytes": [self.start, self.end],
            "lost_lsns": [self.first_lost, self.last_lost] if self.lost_frames else None,
            "lost_frames": self.lost_frames,
            "kind": self.kind,
            "reason": self.reason,
            "quarantined": None if self.quarantined is None else str(self.quarantined),
        }

    def harmless(self, covered_lsn: int) -> bool:
        """Loses nothing that is not already in a checkpoint (a bad header always counts)."""
        return self.kind != "header" and (self.lost_frames == 0 or self.last_lost <= covered_lsn)


@dataclass
class FileScan:
    path: Path
    first_lsn: int
    size: int
    runs: list[tuple[int, int, int]] = field(default_factory=list)  # (start, end, first lsn) of intact frames
    damage: list[Damage] = field(default_factory=list)
    next_lsn: int = 0  # the LSN after the last intact frame
    open_end: Damage | None = None  # damage from some offset to the end of the file, nothing valid after
    short_header: bool = False  # a file cut inside its header, which only a crash at creation leaves
    frames: int = 0  # intact frames

    @property
    def valid_end(self) -> int:
        """Offset after the last intact frame (the header's end if there is none)."""
        return self.runs[-1][1] if self.runs else min(self.size, FILE_HEADER_SIZE)


def scan_file(path: Path, first_lsn: int) -> FileScan:
    """Every intact frame of one WAL file and every damaged stretch between them."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        buf: bytes | mmap.mmap = b"" if size == 0 else mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        scan = FileScan(path, first_lsn, size, next_lsn=first_lsn)
        header = bytes(buf[:FILE_HEADER_SIZE])
        good_header = FILE_HEADER.pack(MAGIC, FORMAT_VERSION)
        if len(header) < FILE_HEADER_SIZE and good_header.startswith(header):
            scan.short_header = True
            scan.open_end = Damage(path, 0, size, first_lsn, first_lsn - 1, "short file header")
            return scan
        if header != good_header:
            if len(header) == FILE_HEADER_SIZE:
                magic, version = FILE_HEADER.unpack(header)
                if magic != MAGIC:
                    why = f"bad file header: not a Spruce WAL file (magic {magic!r})"
                else:
                    why = f"bad file header: format version {version}; this Spruce reads {FORMAT_VERSION}"
            else:
                why = f"bad file header ({header!r})"
            scan.damage.append(
                Damage(path, 0, min(size, FILE_HEADER_SIZE), first_lsn, first_lsn - 1, why, "header")
            )
        _scan_frames(buf, scan, FILE_HEADER_SIZE)
        return scan
    finally:
        if isinstance(buf, mmap.mmap):
            buf.close()


def _scan_frames(buf: bytes | mmap.mmap, scan: FileScan, start: int) -> None:
    size = scan.size
    off, lsn = start, scan.first_lsn
    run: list[int] | None = None  # [start, end, first lsn] of the run being extended
    while off < size:
        problem = None
        length = 0
        if size - off < FRAME_HEADER_SIZE:
            problem = "short frame header"
        else:
            length, crc, frame_lsn = FRAME_HEADER.unpack_from(buf, off)
            body = off + FRAME_HEADER_SIZE
            if size - body < length:
                problem = f"short frame (needs {length} payload bytes)"
            elif frame_crc(frame_lsn, buf[body : body + length]) != crc:
                problem = "CRC mismatch"
            elif frame_lsn != lsn:
                problem = f"frame has LSN {frame_lsn}, expected {lsn}"
        if problem is None:
            end = off + FRAME_HEADER_SIZE + length
            if run is None:
                run = [off, end, lsn]
                scan.runs.append((off, end, lsn))
            else:
                run[1] = end
                scan.runs[-1] = (run[0], end, run[2])
            off, lsn = end, lsn + 1
            scan.frames += 1
            continue
        run = None
        found = find_frame(buf, off, size, lsn)
        if found is None:
            scan.open_end = Damage(scan.path, off, size, lsn, lsn - 1, problem)
            break
        at, found_lsn = found
        scan.damage.append(Damage(scan.path, off, at, lsn, found_lsn - 1, problem))
        off, lsn = at, found_lsn
    scan.next_lsn = lsn


def find_frame(buf: bytes | mmap.mmap, start: int, size: int, min_lsn: int) -> tuple[int, int] | None:
    """The first offset >= start holding a valid frame with LSN >= min_lsn, and that LSN."""
    # A frame takes at least FRAME_HEADER_SIZE bytes, which bounds the LSNs that can still follow.
    max_lsn = min_lsn + (size - start) // FRAME_HEADER_SIZE
    last = size - FRAME_HEADER_SIZE  # last offset a frame header fits at
    pos = start
    while pos <= last:
        count = min(_CHUNK, last - pos + 1)
        # The LSN field of a header at offset h is the u64 at h + 8: view every byte offset as one.
        lsns = np.ndarray((count,), dtype="<u8", buffer=buf, offset=pos + 8, strides=(1,))
        hits = np.flatnonzero((lsns >= min_lsn) & (lsns <= max_lsn))
        for hit in hits.tolist():
            h = pos + hit
            length, crc, frame_lsn = FRAME_HEADER.unpack_from(buf, h)
            body = h + FRAME_HEADER_SIZE
            if length <= size - body and frame_crc(frame_lsn, buf[body : body + length]) == crc:
                return h, frame_lsn
        del lsns
        pos += count
    return None


def copy_range(path: Path, start: int, end: int, suffix: str) -> Path:
    """Copy bytes [start, end) of `path` to a fresh `<path>.<suffix>-<n>` and return its path."""
    n = 1
    while (target := path.with_name(f"{path.name}.{suffix}-{n}")).exists():
        n += 1

    def chunks(f: BinaryIO) -> Iterator[bytes]:
        f.seek(start)
        left = end - start
        while left > 0:
            chunk = f.read(min(left, _COPY_CHUNK))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk

    with open(path, "rb") as f:
        # Atomic so a crash mid-copy never leaves a partial quarantine file looking complete;
        # the tail is only cut from the WAL once this copy is durable.
        atomic_write_chunks(target, chunks(f))
    return target


def quarantine(damage: Damage, suffix: str = "corrupt") -> Damage:
    """Copy the damaged bytes to a fresh `<file>.<suffix>-<n>` (durably) and say where."""
    if damage.end <= damage.start:
        return damage
    target = copy_range(damage.file, damage.start, damage.end, suffix)
    return replace(damage, quarantined=target)


RECOVERY_LOG = "recovery.json"
_LOG_FORMAT = "spruce-recovery-log"
_LOG_VERSION = 1


def record_recovery(index_dir: Path, report: Any, mode: str) -> Path:
    """Append what a recovery lost to `<index_dir>/recovery.json` (kept for good; `spruce check` shows it)."""
    from datetime import UTC, datetime

    from spruce.engine.checked_json import dump_checked
    from spruce.engine.fsutil import atomic_write_bytes

    path = index_dir / RECOVERY_LOG
    events = read_recovery_log(index_dir)
    events.append(
        {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "mode": mode,
            "lost_frames": report.lost_frames,
            "damage": [d.to_json() for d in report.damage],
        }
    )
    atomic_write_bytes(path, dump_checked(_LOG_FORMAT, _LOG_VERSION, {"events": events}))
    return path


def read_recovery_log(index_dir: Path) -> list[dict[str, Any]]:
    """Past recoveries that lost frames, oldest first (empty if none)."""
    from spruce.engine.checked_json import load_checked

    path = index_dir / RECOVERY_LOG
    if not path.exists():
        return []
    events: list[dict[str, Any]] = load_checked(path.read_bytes(), _LOG_FORMAT, (_LOG_VERSION,), path)[
        "events"
    ]
    return events

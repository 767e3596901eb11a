"""The WAL directory's files: its lock, listing them, finding damage in them, cutting and replaying.

Reads and file operations only; `wal.Wal` decides what to do with what they find. The bytes are
described in `wal_format`, the scan of one file in `recovery`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Final

from spruce.engine.fsutil import TEMP_PREFIX, fsync_fd, is_temp_name
from spruce.engine.recovery import Damage, FileScan, scan_file
from spruce.engine.wal_format import FILE_RE, FRAME_HEADER, FRAME_HEADER_SIZE, WalFile, frame_crc
from spruce.errors import SpruceError, WalCorruptionError

_LOCK_NAME: Final = "wal.lock"


def lock_directory(directory: Path) -> int | None:
    """Hold an exclusive flock so two `Wal`s (in any processes) never append to one directory."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    fd = os.open(directory / _LOCK_NAME, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise SpruceError(f"WAL {directory} is already open") from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def list_files(directory: Path, sweep: bool = False) -> list[WalFile]:
    """The WAL files of `directory` by first LSN; `sweep` deletes leftovers of an interrupted create."""
    files: list[WalFile] = []
    for entry in os.scandir(directory):
        if is_temp_name(entry.name) and entry.name[len(TEMP_PREFIX) :].startswith("wal-"):
            if sweep:
                # Leftover of a crash before the rename that would have published it.
                os.unlink(entry.path)
            continue
        m = FILE_RE.fullmatch(entry.name)
        if m:
            files.append(WalFile(int(m.group(1)), Path(entry.path), 0))
    files.sort(key=lambda f: f.first_lsn)
    return files


def analyse(
    files: Sequence[WalFile], covered_lsn: int = 0
) -> tuple[list[FileScan], list[Damage], Damage | None]:
    """Scan every file; return the scans, the corruption found and the torn tail (if any).

    Reads only. Damage reaching the end of a file with nothing valid after it is a torn tail in
    the last file and lost frames (up to the next file's first LSN) in any other. The first file
    must start at or before `covered_lsn + 1` (the checkpoint covers everything before it).
    """
    scans: list[FileScan] = []
    damage: list[Damage] = []
    tail: Damage | None = None
    expected: int | None = None
    if files and files[0].first_lsn > covered_lsn + 1:
        damage.append(
            Damage(
                files[0].path,
                0,
                0,
                covered_lsn + 1,
                files[0].first_lsn - 1,
                f"the WAL starts at LSN {files[0].first_lsn}, but the checkpoint covers only up to "
                f"LSN {covered_lsn} (missing or extra file)",
                "missing",
            )
        )
    for i, f in enumerate(files):
        if f.first_lsn < 1:
            raise WalCorruptionError(f"WAL file {f.path} has first LSN 0", str(f.path), 0)
        if expected is not None and f.first_lsn < expected:
            raise WalCorruptionError(
                f"WAL file {f.path} starts at LSN {f.first_lsn}, but the previous file ends "
                f"before LSN {expected} (missing or extra file)",
                str(f.path),
                0,
            )
        if expected is not None and f.first_lsn > expected:
            damage.append(
                Damage(
                    f.path,
                    0,
                    0,
                    expected,
                    f.first_lsn - 1,
                    f"starts at LSN {f.first_lsn}, but the previous file ends before LSN {expected} "
                    "(missing or extra file)",
                    "missing",
                )
            )
        scan = scan_file(f.path, f.first_lsn)
        damage.extend(scan.damage)
        end = scan.open_end
        if end is not None:
            if i == len(files) - 1:
                tail = end
            else:
                following = files[i + 1].first_lsn
                damage.append(replace(end, last_lost=following - 1))
                scan.next_lsn = max(scan.next_lsn, following)
        scans.append(scan)
        expected = scan.next_lsn
    return scans, damage, tail


def corruption_error(directory: Path, damage: Sequence[Damage]) -> WalCorruptionError:
    lost = sum(d.lost_frames for d in damage)
    lines = "; ".join(d.describe() for d in damage)
    first = damage[0]
    err = WalCorruptionError(
        f"WAL {directory} is corrupt ({len(damage)} damaged stretch(es), {lost} acknowledged frame(s) "
        f"unreadable): {lines}. Nothing was changed; `spruce repair` (or wal_recovery=skip-corrupted) "
        "recovers every intact frame and keeps the damaged bytes aside",
        str(first.file),
        first.start,
    )
    err.damage = list(damage)
    return err


def truncate_durably(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        os.ftruncate(fd, size)
        fsync_fd(fd)
    finally:
        os.close(fd)


def replay_frames(
    snapshot: list[tuple[Path, list[tuple[int, int, int]]]], after_lsn: int
) -> Iterator[tuple[int, bytes]]:
    # A run is wholly at or below after_lsn when the next run starts at or below after_lsn + 1.
    firsts: list[int | None] = [first for _, runs in snapshot for _, _, first in runs]
    del firsts[:1]
    firsts.append(None)
    k = 0
    for path, all_runs in snapshot:
        runs = []
        for run in all_runs:
            following = firsts[k]
            k += 1
            if following is None or following > after_lsn + 1:
                runs.append(run)
        if not runs:
            continue
        with open(path, "rb") as f:
            for start, end, first_lsn in runs:
                f.seek(start)
                off, lsn = start, first_lsn
                while off < end:
                    header = f.read(FRAME_HEADER_SIZE)
                    if len(header) < FRAME_HEADER_SIZE:
                        raise WalCorruptionError(f"WAL file {path} shrank at offset {off}", str(path), off)
                    length, crc, frame_lsn = FRAME_HEADER.unpack(header)
                    if frame_lsn != lsn:
                        raise WalCorruptionError(
                            f"WAL file {path}: frame at offset {off} has LSN {frame_lsn}, expected {lsn}",
                            str(path),
                            off,
                        )
                    if lsn <= after_lsn:
                        f.seek(length, os.SEEK_CUR)
                    else:
                        payload = f.read(length)
                        # Recovery checked these bytes, but they may have rotted on disk since.
                        if len(payload) != length or frame_crc(lsn, payload) != crc:
                            raise WalCorruptionError(
                                f"WAL file {path}: frame at offset {off} failed its CRC", str(path), off
                            )
                        yield lsn, payload
                    off += FRAME_HEADER_SIZE + length
                    lsn += 1

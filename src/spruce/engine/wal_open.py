"""Opening a WAL directory: what recovery decides before the log takes appends again.

Every file is scanned (wal_files.analyse over recovery.py's per-file scan). A torn tail of the last
file is copied aside and cut; other damage either refuses the open (`recovery="fail"`, nothing
changed) or is copied aside and reported (`"skip-corrupted"`). The result says which files the log
continues with, the next LSN, and whether appends must start in a fresh file (never after damage).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from spruce.engine.fsutil import atomic_write_bytes
from spruce.engine.recovery import Damage, copy_range, quarantine
from spruce.engine.wal_files import analyse, corruption_error, list_files, truncate_durably
from spruce.engine.wal_format import FILE_HEADER_SIZE, HEADER_BYTES, WalFile, wal_file_name

log = logging.getLogger("spruce.engine.wal")


@dataclass(frozen=True)
class RecoveryReport:
    """What `Wal.open` found.

    next_lsn: LSN the next append will get.
    frames: valid frames across all files.
    torn_bytes: bytes cut off the end of the last file (0 when it ended cleanly).
    quarantined: where those bytes were copied, or None.
    damage: corruption found (empty unless it was harmless or recovery skipped it); see recovery.py.
    """

    next_lsn: int
    frames: int
    torn_bytes: int
    quarantined: Path | None
    damage: tuple[Damage, ...] = ()

    @property
    def lost_frames(self) -> int:
        return sum(d.lost_frames for d in self.damage)


@dataclass(frozen=True)
class Recovered:
    files: list[WalFile]  # the log's files, oldest first; appends go to the last
    report: RecoveryReport
    retire: bool  # the last file holds damage: appends must start in a new file
    created: bool  # the directory held no WAL file: one was just created, empty


def recover_directory(directory: Path, recovery: str, covered_lsn: int) -> Recovered:
    """Scan and repair the WAL files of `directory` (locked by the caller) as `recovery` allows."""
    files = list_files(directory, sweep=True)
    if not files:
        # Past the checkpoint, so new frames are never mistaken for ones it already covers.
        first = covered_lsn + 1
        path = directory / wal_file_name(first)
        atomic_write_bytes(path, HEADER_BYTES)
        files.append(WalFile(first, path, FILE_HEADER_SIZE))
        return Recovered(files, RecoveryReport(first, 0, 0, None), retire=False, created=True)

    scans, damage, tail = analyse(files, covered_lsn)
    harmful = [d for d in damage if not d.harmless(covered_lsn)]
    if harmful and recovery == "fail":
        raise corruption_error(directory, harmful)
    next_lsn = scans[-1].next_lsn
    frames = sum(s.frames for s in scans)

    # Past this point the directory changes: damaged bytes are copied aside, tails cut.
    kept: list[Damage] = []
    for d in damage:
        d = quarantine(d) if d in harmful else d
        (log.error if d in harmful or d.quarantined else log.warning)("WAL %s: %s", directory, d.describe())
        kept.append(d)
    torn_bytes = 0
    quarantined: Path | None = None
    last = scans[-1]
    if tail is not None:
        torn_bytes = tail.end - tail.start
        quarantined = copy_range(last.path, tail.start, tail.end, "torn")
        log.warning(
            "WAL %s: %s at offset %d; %d bytes moved to %s",
            last.path,
            tail.reason,
            tail.start,
            torn_bytes,
            quarantined,
        )
        if last.short_header:
            atomic_write_bytes(last.path, HEADER_BYTES)
        else:
            truncate_durably(last.path, tail.start)
    for f, scan in zip(files, scans, strict=True):
        f.runs = list(scan.runs)
        f.size = scan.valid_end if f is not files[-1] or tail is None else tail.start
        if last.short_header and f is files[-1]:
            f.size = FILE_HEADER_SIZE
    retire = any(d.file == last.path for d in kept)
    if retire and files[-1].first_lsn == next_lsn:
        # Nothing intact in the damaged last file: a new file would take its name, so move it.
        aside = copy_range(last.path, 0, os.path.getsize(last.path), "corrupt")
        log.error("WAL %s: damaged file %s has no intact frame; moved to %s", directory, last.path, aside)
        atomic_write_bytes(last.path, HEADER_BYTES)
        files[-1].size, files[-1].runs = FILE_HEADER_SIZE, []
        retire = False
    report = RecoveryReport(next_lsn, frames, torn_bytes, quarantined, tuple(kept))
    return Recovered(files, report, retire=retire, created=False)

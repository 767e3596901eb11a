"""Write-ahead log: an append-only, checksummed, group-committed sequence of opaque payloads.

One WAL per index.  Every write is appended here and made durable before it is acknowledged; on
startup the engine replays frames newer than its last checkpoint.  After a checkpoint the engine
calls `rotate()` and then `truncate_before(checkpoint_lsn + 1)` to drop whole files it no longer needs.

The bytes on disk are described in `wal_format`; listing, scanning and replaying the files is
`wal_files`; what opening decides (cut, quarantine, refuse, a fresh file) is `wal_open`; when a
written frame is durable (group commit, the log poisoned by a failed fsync) is `wal_commit`.

Recovery
========

`Wal.open` validates every frame of every file (see recovery.py).  A crash can only tear the end of
the *last* file: damage there with no valid frame after it is a torn tail, copied to
`<file>.torn-<n>` and cut off.  Any other damage (a bad frame followed by valid ones, a bad header,
damage in an earlier file, a missing file) is corruption: with `recovery="fail"` (the default) it
raises `WalCorruptionError` carrying the report and changes nothing; with `"skip-corrupted"` every
intact frame is kept, the damaged bytes are copied to `<file>.corrupt-<n>`, the losses are returned
in `RecoveryReport.damage`, and appends continue in a fresh file.  Damage whose LSNs are all at or
below `covered_lsn` (already in a checkpoint) loses nothing and never blocks an open.

Durability protocol
===================

`append` writes under a lock, then waits until an fsync that started after its write completes
(group commit: `wal_commit`).  New files are created by atomic rename and the directory is fsync'd
after every creation, rename and deletion.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Final

from spruce.engine.fsutil import atomic_write_bytes, fdatasync_fd, fsync_dir
from spruce.engine.recovery import RECOVERY_MODES
from spruce.engine.wal_commit import GroupCommit, disk_full
from spruce.engine.wal_files import lock_directory, replay_frames
from spruce.engine.wal_format import (
    FILE_HEADER_SIZE,
    FRAME_HEADER,
    FRAME_HEADER_SIZE,
    HEADER_BYTES,
    MAX_PAYLOAD,
    Payload,
    WalFile,
    parts_crc,
    payload_parts,
    wal_file_name,
)
from spruce.engine.wal_open import RecoveryReport, recover_directory
from spruce.errors import PayloadTooLargeError, SpruceError

# RecoveryReport and disk_full are re-exported: store.py and opening.py import them from here.
__all__ = ["RecoveryReport", "Wal", "disk_full"]


def _iov_max() -> int:
    try:
        return max(16, os.sysconf("SC_IOV_MAX"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX
        return 1024


# writev takes at most IOV_MAX buffers per call.
_IOV_MAX: Final = _iov_max()


class Wal:
    """A write-ahead log in one directory.  Construct with `Wal.open`."""

    def __init__(
        self, directory: Path, files: list[WalFile], next_lsn: int, fsync: bool, lock_fd: int | None
    ) -> None:
        self.directory = directory
        self._files = files
        self._fsync = fsync
        self._lock_fd = lock_fd
        self._commit = GroupCommit(directory, self._open_active(files[-1].path), next_lsn - 1)
        # One lock for the files and the durability state: see wal_commit.
        self._lock = self._commit.lock
        self._next_lsn = next_lsn

    # ----------------------------------------------------------------------------------- open

    @classmethod
    def open(
        cls, directory: Path, *, fsync: bool = True, recovery: str = "fail", covered_lsn: int = 0
    ) -> tuple[Wal, RecoveryReport]:
        """Open (creating if needed) and recover the WAL in `directory`.

        recovery: "fail" raises WalCorruptionError on corruption that loses frames above
        `covered_lsn`; "skip-corrupted" keeps every intact frame and reports the loss.
        """
        if recovery not in RECOVERY_MODES:
            raise SpruceError(
                f"WAL recovery mode must be one of {', '.join(RECOVERY_MODES)}, got {recovery!r}"
            )
        directory = Path(directory)
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            fsync_dir(directory.parent)
        lock_fd = lock_directory(directory)
        try:
            return cls._recover(directory, fsync, lock_fd, recovery, covered_lsn)
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise

    @classmethod
    def _recover(
        cls, directory: Path, fsync: bool, lock_fd: int | None, recovery: str, covered_lsn: int
    ) -> tuple[Wal, RecoveryReport]:
        found = recover_directory(directory, recovery, covered_lsn)
        wal = cls(directory, found.files, found.report.next_lsn, fsync, lock_fd)
        if fsync and not found.created:
            # Frames a killed process wrote may still sit only in the page cache; the engine is
            # about to treat them as logged, so make them as durable as acknowledged ones.
            fdatasync_fd(wal._commit.fd)
            wal._commit.fsync_count += 1
        if found.retire:
            # Never append after damage: a later open would find it again in the middle of new frames.
            wal.rotate()
        return wal, found.report

    @staticmethod
    def _open_active(path: Path) -> int:
        return os.open(path, os.O_WRONLY | os.O_APPEND | getattr(os, "O_CLOEXEC", 0))

    # ----------------------------------------------------------------------------- properties

    @property
    def next_lsn(self) -> int:
        return self._next_lsn

    @property
    def size_bytes(self) -> int:
        """Total bytes of all WAL files (quarantined tails not included)."""
        with self._lock:
            return sum(f.size for f in self._files)

    @property
    def fsync_enabled(self) -> bool:
        return self._fsync

    @property
    def fsync_count(self) -> int:
        """fsyncs of WAL data files so far (see `GroupCommit.fsync_count`)."""
        return self._commit.fsync_count

    # --------------------------------------------------------------------------------- append

    def append(self, payload: Payload) -> int:
        """Append one frame; return its LSN once it is durable."""
        return self._append((payload,))

    def write(self, payload: Payload) -> int:
        """Append one frame and return its LSN at once, before it is durable; `sync(lsn)` waits.

        The store frames and applies a write under its own lock (so WAL order is apply order) and
        waits for durability after releasing it, which is what lets concurrent writers share fsyncs.
        """
        lsn = self._append((payload,), wait=False)
        if self._fsync:
            self._commit.start_flusher()
            with self._lock:
                self._commit.cond.notify_all()
        return lsn

    def sync(self, lsn: int) -> None:
        """Return once every frame up to `lsn` is durable (group commit with concurrent callers)."""
        if not self._fsync:
            return
        with self._lock:
            self._commit.wait_durable(lsn)

    def append_many(self, payloads: Sequence[Payload]) -> int:
        """Append frames with consecutive LSNs and one fsync; return the last LSN.

        With no payloads nothing is written and the last LSN already assigned is returned.
        """
        return self._append(payloads)

    def _append(self, payloads: Sequence[Payload], wait: bool = True) -> int:
        flat = [payload_parts(p) for p in payloads]
        sizes = [sum(map(len, parts)) for parts in flat]
        for size in sizes:
            if size > MAX_PAYLOAD:
                raise PayloadTooLargeError(f"WAL payload of {size} bytes exceeds {MAX_PAYLOAD}")
        with self._lock:
            self._commit.check_usable()
            if not flat:
                return self._next_lsn - 1
            lsn = self._next_lsn
            bufs: list[bytes | memoryview] = []
            total = 0
            for parts, size in zip(flat, sizes, strict=True):
                # Header and payload go to writev as separate buffers so big payloads are not copied.
                bufs.append(FRAME_HEADER.pack(size, parts_crc(lsn, parts), lsn))
                bufs.extend(parts)
                total += FRAME_HEADER_SIZE + size
                lsn += 1
            self._write_all(bufs)
            active = self._files[-1]
            if active.runs and active.runs[-1][1] == active.size:
                begin, _, first = active.runs[-1]
                active.runs[-1] = (begin, active.size + total, first)
            else:
                active.runs.append((active.size, active.size + total, self._next_lsn))
            active.size += total
            last = lsn - 1
            self._next_lsn = lsn
            self._commit.written_lsn = last
            if self._fsync and wait:
                self._commit.wait_durable(last)
            return last

    def _write_all(self, bufs: list[bytes | memoryview]) -> None:
        """Write all buffers to the active file; on failure leave the file as it was. Lock held."""
        start = self._files[-1].size
        try:
            for i in range(0, len(bufs), _IOV_MAX):
                pending = [memoryview(b) for b in bufs[i : i + _IOV_MAX] if len(b)]
                while pending:
                    n = os.writev(self._commit.fd, pending)
                    # Regular files rarely write short, but a signal or a >2 GiB batch can.
                    while pending and n >= len(pending[0]):
                        n -= len(pending[0])
                        pending.pop(0)
                    if pending and n:
                        pending[0] = pending[0][n:]
        except BaseException as exc:
            # A partial frame left in place would end the log at recovery and take every later,
            # acknowledged frame with it, so cut it off or refuse all further appends.
            try:
                os.ftruncate(self._commit.fd, start)
            except OSError as trunc_exc:
                self._commit.failure = trunc_exc
            full = disk_full(exc, "writing the WAL") if isinstance(exc, OSError) else None
            if full is not None and self._commit.failure is None:
                raise full from exc
            raise

    # ---------------------------------------------------------------------- rotate / truncate

    def rotate(self) -> None:
        """Continue in a new file whose first LSN is `next_lsn`; a no-op if the active file is empty."""
        commit = self._commit
        with self._lock:
            commit.check_usable()
            commit.quiesce()
            commit.check_usable()
            active = self._files[-1]
            if active.first_lsn == self._next_lsn:
                return
            # Recovery treats damage in a non-last file as corruption, so the old file must be
            # complete on disk before a newer one exists, even with fsync disabled.
            if not (self._fsync and commit.durable_lsn == commit.written_lsn):
                commit.sync_all()
            path = self.directory / wal_file_name(self._next_lsn)
            atomic_write_bytes(path, HEADER_BYTES)
            new_fd = self._open_active(path)
            old_fd, commit.fd = commit.fd, new_fd
            self._files.append(WalFile(self._next_lsn, path, FILE_HEADER_SIZE))
            os.close(old_fd)

    def truncate_before(self, lsn: int) -> None:
        """Delete whole files all of whose frames have LSN < `lsn`; never the active file."""
        with self._lock:
            self._commit.check_usable()
            removed = False
            # Oldest first, so a crash midway leaves no gap in the LSN sequence.
            while len(self._files) > 1 and self._files[1].first_lsn <= lsn:
                f = self._files.pop(0)
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(f.path)
                removed = True
            if removed:
                fsync_dir(self.directory)

    # --------------------------------------------------------------------------------- replay

    def replay(self, after_lsn: int = 0) -> Iterator[tuple[int, bytes]]:
        """Yield `(lsn, payload)` for frames with lsn > `after_lsn`, in order.

        Covers the frames written when `replay` is called.  Files deleted by a concurrent
        `truncate_before` before the iterator reaches them raise FileNotFoundError.
        """
        with self._lock:
            self._commit.check_usable()
            snapshot = [(f.path, list(f.runs)) for f in self._files]
        return replay_frames(snapshot, after_lsn)

    # ---------------------------------------------------------------------------------- close

    def close(self) -> None:
        commit = self._commit
        with self._lock:
            if commit.closed:
                return
            commit.quiesce()
            try:
                if self._fsync and commit.failure is None and commit.written_lsn > commit.durable_lsn:
                    commit.sync_all()
            finally:
                commit.closed = True
                os.close(commit.fd)
                if self._lock_fd is not None:
                    os.close(self._lock_fd)
                    self._lock_fd = None
                commit.cond.notify_all()

    def __enter__(self) -> Wal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Wal({str(self.directory)!r}, next_lsn={self._next_lsn}, files={len(self._files)})"

"""Write-ahead log: an append-only, checksummed, group-committed sequence of opaque payloads.

One WAL per index.  Every write is appended here and made durable before it is acknowledged; on
startup the engine replays frames newer than its last checkpoint.  After a checkpoint the engine
calls `rotate()` and then `truncate_before(checkpoint_lsn + 1)` to drop whole files it no longer needs.

Byte layout
===========

A WAL is a directory::

    <dir>/wal-<first_lsn:020d>.log      WAL files; first_lsn is the LSN of the file's first frame
    <dir>/wal-....log.torn-<n>          quarantined torn/corrupt tails cut off by recovery (kept for
                                        forensics, never read again)
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

Recovery
========

`Wal.open` validates every frame of every file.  A crash can only tear the end of the *last* file,
so there a short frame, a CRC mismatch or an unexpected LSN ends the log: everything from that
offset on is copied to `<file>.torn-<n>` and the file is truncated.  The same damage in an earlier
file cannot come from a crash (files are fsync'd before the next one is created), so it raises
`WalCorruptionError` instead of silently dropping what follows.

Durability protocol
===================

`append` writes under a lock, then waits until an fsync that started after its write completes.
Whoever finds no fsync in flight becomes the leader and fsyncs, without the lock, on behalf of every
frame written so far; the others wait on a condition.  New files are created by atomic rename and
the directory is fsync'd after every creation, rename and deletion.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Final

from spruce.engine.fsutil import (
    TEMP_PREFIX,
    atomic_write_bytes,
    atomic_write_chunks,
    fdatasync_fd,
    fsync_dir,
    fsync_fd,
    is_temp_name,
)
from spruce.errors import ClosedError, PayloadTooLargeError, SpruceError, WalCorruptionError

__all__ = [
    "FILE_HEADER",
    "FILE_HEADER_SIZE",
    "FORMAT_VERSION",
    "FRAME_HEADER",
    "FRAME_HEADER_SIZE",
    "MAGIC",
    "MAX_PAYLOAD",
    "Payload",
    "RecoveryReport",
    "Wal",
    "wal_file_name",
]

log = logging.getLogger(__name__)

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

_HEADER_BYTES: Final = FILE_HEADER.pack(MAGIC, FORMAT_VERSION)
_FILE_RE: Final = re.compile(r"wal-(\d{20})\.log")
_LOCK_NAME: Final = "wal.lock"
_COPY_CHUNK: Final = 1 << 20


def _iov_max() -> int:
    try:
        return max(16, os.sysconf("SC_IOV_MAX"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX
        return 1024


# writev takes at most IOV_MAX buffers per call.
_IOV_MAX: Final = _iov_max()


def wal_file_name(first_lsn: int) -> str:
    return f"wal-{first_lsn:020d}.log"


# What append accepts: anything C-contiguous exposing the buffer protocol as bytes, views included.
Payload = bytes | bytearray | memoryview


def _crc(lsn: int, payload: bytes | memoryview) -> int:
    return zlib.crc32(payload, zlib.crc32(LSN_FIELD.pack(lsn)))


@dataclass(frozen=True)
class RecoveryReport:
    """What `Wal.open` found.

    next_lsn: LSN the next append will get.
    frames: valid frames across all files.
    torn_bytes: bytes cut off the end of the last file (0 when it ended cleanly).
    quarantined: where those bytes were copied, or None.
    """

    next_lsn: int
    frames: int
    torn_bytes: int
    quarantined: Path | None


@dataclass
class _File:
    first_lsn: int
    path: Path
    size: int  # bytes of valid content (header + complete frames)


@dataclass
class _Scan:
    valid_end: int  # offset after the last good frame (0 if even the header is torn)
    file_size: int
    frames: int
    next_lsn: int
    problem: str | None  # why the scan stopped before file_size


class Wal:
    """A write-ahead log in one directory.  Construct with `Wal.open`."""

    def __init__(
        self, directory: Path, files: list[_File], next_lsn: int, fsync: bool, lock_fd: int | None
    ) -> None:
        self.directory = directory
        self._files = files
        self._fsync = fsync
        self._lock_fd = lock_fd
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._fd = self._open_active(files[-1].path)
        self._next_lsn = next_lsn
        self._written_lsn = next_lsn - 1
        self._durable_lsn = next_lsn - 1
        self._syncing = False
        self._closed = False
        self._failure: OSError | None = None
        self._flusher: threading.Thread | None = None
        # fsyncs of WAL data files (not directories), whether by append, rotate, close or the
        # recovery in `open`; lets tests and benchmarks see group commit at work.
        self.fsync_count = 0

    # ----------------------------------------------------------------------------------- open

    @classmethod
    def open(cls, directory: Path, *, fsync: bool = True) -> tuple[Wal, RecoveryReport]:
        directory = Path(directory)
        if not directory.is_dir():
            directory.mkdir(parents=True, exist_ok=True)
            fsync_dir(directory.parent)
        lock_fd = _lock_directory(directory)
        try:
            return cls._recover(directory, fsync, lock_fd)
        except BaseException:
            if lock_fd is not None:
                os.close(lock_fd)
            raise

    @classmethod
    def _recover(cls, directory: Path, fsync: bool, lock_fd: int | None) -> tuple[Wal, RecoveryReport]:
        files: list[_File] = []
        for entry in os.scandir(directory):
            if is_temp_name(entry.name) and entry.name[len(TEMP_PREFIX) :].startswith("wal-"):
                # Leftover of a crash before the rename that would have published it.
                os.unlink(entry.path)
                continue
            m = _FILE_RE.fullmatch(entry.name)
            if m:
                files.append(_File(int(m.group(1)), Path(entry.path), 0))
        files.sort(key=lambda f: f.first_lsn)
        if not files:
            path = directory / wal_file_name(1)
            atomic_write_bytes(path, _HEADER_BYTES)
            files.append(_File(1, path, FILE_HEADER_SIZE))
            return cls(directory, files, 1, fsync, lock_fd), RecoveryReport(1, 0, 0, None)

        frames = 0
        torn_bytes = 0
        quarantined: Path | None = None
        expected: int | None = None
        for i, f in enumerate(files):
            if f.first_lsn < 1:
                raise WalCorruptionError(f"WAL file {f.path} has first LSN 0", str(f.path), 0)
            if expected is not None and f.first_lsn != expected:
                raise WalCorruptionError(
                    f"WAL file {f.path} starts at LSN {f.first_lsn}, but the previous file ends "
                    f"before LSN {expected} (missing or extra file)",
                    str(f.path),
                    0,
                )
            scan = _scan_file(f.path, f.first_lsn)
            is_last = i == len(files) - 1
            if scan.problem is not None:
                if not is_last:
                    raise WalCorruptionError(
                        f"WAL file {f.path} is corrupt at offset {scan.valid_end}: {scan.problem}",
                        str(f.path),
                        scan.valid_end,
                    )
                quarantined = _quarantine_tail(f.path, scan.valid_end, scan.file_size)
                torn_bytes = scan.file_size - scan.valid_end
                log.warning(
                    "WAL %s: %s at offset %d; %d bytes moved to %s",
                    f.path,
                    scan.problem,
                    scan.valid_end,
                    torn_bytes,
                    quarantined,
                )
                if scan.valid_end < FILE_HEADER_SIZE:
                    atomic_write_bytes(f.path, _HEADER_BYTES)
                    scan.valid_end = FILE_HEADER_SIZE
                else:
                    _truncate_durably(f.path, scan.valid_end)
            f.size = scan.valid_end
            frames += scan.frames
            expected = scan.next_lsn
        assert expected is not None
        wal = cls(directory, files, expected, fsync, lock_fd)
        if fsync:
            # Frames a killed process wrote may still sit only in the page cache; the engine is
            # about to treat them as logged, so make them as durable as acknowledged ones.
            fdatasync_fd(wal._fd)
            wal.fsync_count += 1
        return wal, RecoveryReport(expected, frames, torn_bytes, quarantined)

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
            self._start_flusher()
            with self._lock:
                self._cond.notify_all()
        return lsn

    def _start_flusher(self) -> None:
        # An eager flusher starts the fsync as soon as a frame is written, so it overlaps with the
        # caller applying the write in memory (the fsync releases the GIL) instead of following it.
        if self._flusher is None:
            with self._lock:
                if self._flusher is None and not self._closed:
                    self._flusher = threading.Thread(
                        target=self._flush_loop, name="spruce-wal-flush", daemon=True
                    )
                    self._flusher.start()

    def _flush_loop(self) -> None:
        with self._lock:
            while True:
                while (
                    not self._closed
                    and self._failure is None
                    and (self._written_lsn <= self._durable_lsn or self._syncing)
                ):
                    self._cond.wait()
                if self._closed or self._failure is not None:
                    return
                try:
                    self._wait_durable(self._written_lsn)
                except OSError:
                    return  # recorded in self._failure; writers waiting in sync() raise it

    def sync(self, lsn: int) -> None:
        """Return once every frame up to `lsn` is durable (group commit with concurrent callers)."""
        if not self._fsync:
            return
        with self._lock:
            self._wait_durable(lsn)

    def append_many(self, payloads: Sequence[Payload]) -> int:
        """Append frames with consecutive LSNs and one fsync; return the last LSN.

        With no payloads nothing is written and the last LSN already assigned is returned.
        """
        return self._append(payloads)

    def _append(self, payloads: Sequence[Payload], wait: bool = True) -> int:
        # len() of a memoryview counts items, not bytes (a float32 view of 3 MB has len 768 000).
        flat = [p if isinstance(p, bytes) else memoryview(p).cast("B") for p in payloads]
        for p in flat:
            if len(p) > MAX_PAYLOAD:
                raise PayloadTooLargeError(f"WAL payload of {len(p)} bytes exceeds {MAX_PAYLOAD}")
        with self._lock:
            self._check_usable()
            if not flat:
                return self._next_lsn - 1
            lsn = self._next_lsn
            bufs: list[bytes | memoryview] = []
            total = 0
            for p in flat:
                # Header and payload go to writev as separate buffers so big payloads are not copied.
                bufs.append(FRAME_HEADER.pack(len(p), _crc(lsn, p), lsn))
                bufs.append(p)
                total += FRAME_HEADER_SIZE + len(p)
                lsn += 1
            self._write_all(bufs)
            self._files[-1].size += total
            last = lsn - 1
            self._next_lsn = lsn
            self._written_lsn = last
            if self._fsync and wait:
                self._wait_durable(last)
            return last

    def _write_all(self, bufs: list[bytes | memoryview]) -> None:
        """Write all buffers to the active file; on failure leave the file as it was. Lock held."""
        start = self._files[-1].size
        try:
            for i in range(0, len(bufs), _IOV_MAX):
                pending = [memoryview(b) for b in bufs[i : i + _IOV_MAX] if len(b)]
                while pending:
                    n = os.writev(self._fd, pending)
                    # Regular files rarely write short, but a signal or a >2 GiB batch can.
                    while pending and n >= len(pending[0]):
                        n -= len(pending[0])
                        pending.pop(0)
                    if pending and n:
                        pending[0] = pending[0][n:]
        except BaseException:
            # A partial frame left in place would end the log at recovery and take every later,
            # acknowledged frame with it, so cut it off or refuse all further appends.
            try:
                os.ftruncate(self._fd, start)
            except OSError as trunc_exc:
                self._failure = trunc_exc
            raise

    def _wait_durable(self, lsn: int) -> None:
        """Block until frame `lsn` is fsync'd, leading an fsync if none is running. Lock held."""
        while self._durable_lsn < lsn:
            if self._failure is not None:
                raise self._failed_error()
            if self._syncing:
                self._cond.wait()
                continue
            # Lead: one fsync covers every frame written so far, including other threads'.
            self._syncing = True
            target = self._written_lsn
            fd = self._fd
            error: OSError | None = None
            self._lock.release()
            try:
                fdatasync_fd(fd)
            except OSError as exc:
                error = exc
            finally:
                self._lock.acquire()
                self._syncing = False
                self.fsync_count += 1
            if error is None:
                self._durable_lsn = max(self._durable_lsn, target)
            else:
                # After a failed fsync the kernel may have dropped the dirty pages; retrying
                # would falsely report success, so the log is unusable until reopened.
                self._failure = error
            self._cond.notify_all()
            if error is not None:
                raise error

    def _check_usable(self) -> None:
        if self._closed:
            raise ClosedError(f"WAL {self.directory} is closed")
        if self._failure is not None:
            raise self._failed_error()

    def _failed_error(self) -> OSError:
        assert self._failure is not None
        err = OSError(
            self._failure.errno,
            f"WAL {self.directory} is unusable after an I/O error ({self._failure}); reopen it",
        )
        err.__cause__ = self._failure
        return err

    def _quiesce(self) -> None:
        """Wait for an in-flight leader fsync, so the active fd may be swapped or closed. Lock held."""
        while self._syncing:
            self._cond.wait()

    def _sync_all(self) -> None:
        """fsync the active file and mark everything written durable. Lock held, quiesced."""
        try:
            fdatasync_fd(self._fd)
        except OSError as exc:
            self._failure = exc
            self._cond.notify_all()
            raise
        self.fsync_count += 1
        self._durable_lsn = self._written_lsn
        self._cond.notify_all()

    # ---------------------------------------------------------------------- rotate / truncate

    def rotate(self) -> None:
        """Continue in a new file whose first LSN is `next_lsn`; a no-op if the active file is empty."""
        with self._lock:
            self._check_usable()
            self._quiesce()
            self._check_usable()
            active = self._files[-1]
            if active.first_lsn == self._next_lsn:
                return
            # Recovery treats damage in a non-last file as corruption, so the old file must be
            # complete on disk before a newer one exists, even with fsync disabled.
            if not (self._fsync and self._durable_lsn == self._written_lsn):
                self._sync_all()
            path = self.directory / wal_file_name(self._next_lsn)
            atomic_write_bytes(path, _HEADER_BYTES)
            new_fd = self._open_active(path)
            old_fd, self._fd = self._fd, new_fd
            self._files.append(_File(self._next_lsn, path, FILE_HEADER_SIZE))
            os.close(old_fd)

    def truncate_before(self, lsn: int) -> None:
        """Delete whole files all of whose frames have LSN < `lsn`; never the active file."""
        with self._lock:
            self._check_usable()
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
            self._check_usable()
            snapshot = [(f.first_lsn, f.path, f.size) for f in self._files]
        return _replay(snapshot, after_lsn)

    # ---------------------------------------------------------------------------------- close

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._quiesce()
            try:
                if self._fsync and self._failure is None and self._written_lsn > self._durable_lsn:
                    self._sync_all()
            finally:
                self._closed = True
                os.close(self._fd)
                if self._lock_fd is not None:
                    os.close(self._lock_fd)
                    self._lock_fd = None
                self._cond.notify_all()

    def __enter__(self) -> Wal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Wal({str(self.directory)!r}, next_lsn={self._next_lsn}, files={len(self._files)})"


# ------------------------------------------------------------------------------------ helpers


def _lock_directory(directory: Path) -> int | None:
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


def _scan_file(path: Path, first_lsn: int) -> _Scan:
    """Validate one file frame by frame; stop at the first bad frame."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        header = f.read(FILE_HEADER_SIZE)
        if len(header) < FILE_HEADER_SIZE:
            if _HEADER_BYTES.startswith(header):
                return _Scan(0, size, 0, first_lsn, "short file header")
            raise WalCorruptionError(f"WAL file {path} has a bad header", str(path), 0)
        magic, version = FILE_HEADER.unpack(header)
        if magic != MAGIC:
            raise WalCorruptionError(f"{path} is not a Spruce WAL file (magic {magic!r})", str(path), 0)
        if version != FORMAT_VERSION:
            raise WalCorruptionError(
                f"WAL file {path} has format version {version}; this Spruce reads {FORMAT_VERSION}",
                str(path),
                0,
            )
        off = FILE_HEADER_SIZE
        lsn = first_lsn
        frames = 0
        problem: str | None = None
        while off < size:
            if size - off < FRAME_HEADER_SIZE:
                problem = "short frame header"
                break
            length, crc, frame_lsn = FRAME_HEADER.unpack(f.read(FRAME_HEADER_SIZE))
            # Checked before reading so a garbage length cannot make us allocate gigabytes.
            if size - off - FRAME_HEADER_SIZE < length:
                problem = f"short frame (needs {length} payload bytes)"
                break
            payload = f.read(length)
            if _crc(frame_lsn, payload) != crc:
                problem = "CRC mismatch"
                break
            if frame_lsn != lsn:
                problem = f"frame has LSN {frame_lsn}, expected {lsn}"
                break
            off += FRAME_HEADER_SIZE + length
            lsn += 1
            frames += 1
        return _Scan(off, size, frames, lsn, problem)


def _quarantine_tail(path: Path, start: int, end: int) -> Path:
    """Copy bytes [start, end) of `path` to a fresh `<path>.torn-<n>` and return its path."""
    n = 1
    while (target := path.with_name(f"{path.name}.torn-{n}")).exists():
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


def _truncate_durably(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        os.ftruncate(fd, size)
        fsync_fd(fd)
    finally:
        os.close(fd)


def _replay(snapshot: list[tuple[int, Path, int]], after_lsn: int) -> Iterator[tuple[int, bytes]]:
    for i, (first_lsn, path, end) in enumerate(snapshot):
        if i + 1 < len(snapshot) and snapshot[i + 1][0] <= after_lsn + 1:
            continue  # every frame in this file is <= after_lsn
        with open(path, "rb") as f:
            f.seek(FILE_HEADER_SIZE)
            off = FILE_HEADER_SIZE
            lsn = first_lsn
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
                    if len(payload) != length or _crc(lsn, payload) != crc:
                        raise WalCorruptionError(
                            f"WAL file {path}: frame at offset {off} failed its CRC", str(path), off
                        )
                    yield lsn, payload
                off += FRAME_HEADER_SIZE + length
                lsn += 1

"""Group commit of one WAL: which written frames are durable, and the one fsync that makes more so.

`Wal` writes frames and decides files; this module decides when a written frame counts as durable and
what an I/O error does to the log.  Both share one lock (`GroupCommit.lock`): a frame's write and its
place in the commit order are one step.

Durability protocol
===================

`append` writes under a lock, then waits until an fsync that started after its write completes.
Whoever finds no fsync in flight becomes the leader and fsyncs, without the lock, on behalf of every
frame written so far; the others wait on a condition.

After a failed fsync the log is unusable until it is reopened (`failure`): the kernel may have
dropped the dirty pages, so a retry could report success for frames that are gone.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Final

from spruce.engine.fsutil import fdatasync_fd
from spruce.errors import ClosedError, DiskFullError

__all__ = ["NO_SPACE", "GroupCommit", "disk_full"]

# errno values that mean "no space": a full disk, or a quota reached.
NO_SPACE: Final = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


def disk_full(exc: OSError, what: str) -> DiskFullError | None:
    """A DiskFullError for `exc` if it says the disk (or quota) is full, else None."""
    if exc.errno not in NO_SPACE:
        return None
    err = DiskFullError(
        f"the disk is full: {what} failed ({os.strerror(exc.errno or 0)}); free space and retry"
    )
    err.__cause__ = exc
    return err


class GroupCommit:
    """The durability state of a WAL's active file.  Every attribute is guarded by `lock`."""

    def __init__(self, directory: Path, fd: int, written_lsn: int) -> None:
        self.directory = directory
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        # The active file's descriptor; `Wal.rotate` swaps it only after `quiesce`.
        self.fd = fd
        self.written_lsn = written_lsn
        self.durable_lsn = written_lsn
        self.syncing = False
        self.closed = False
        self.failure: OSError | None = None
        self._flusher: threading.Thread | None = None
        # fsyncs of WAL data files (not directories), whether by append, rotate, close or the
        # recovery in `Wal.open`; lets tests and benchmarks see group commit at work.
        self.fsync_count = 0

    def start_flusher(self) -> None:
        # An eager flusher starts the fsync as soon as a frame is written, so it overlaps with the
        # caller applying the write in memory (the fsync releases the GIL) instead of following it.
        if self._flusher is None:
            with self.lock:
                if self._flusher is None and not self.closed:
                    self._flusher = threading.Thread(
                        target=self._flush_loop, name="spruce-wal-flush", daemon=True
                    )
                    self._flusher.start()

    def _flush_loop(self) -> None:
        with self.lock:
            while True:
                while (
                    not self.closed
                    and self.failure is None
                    and (self.written_lsn <= self.durable_lsn or self.syncing)
                ):
                    self.cond.wait()
                if self.closed or self.failure is not None:
                    return
                try:
                    self.wait_durable(self.written_lsn)
                except OSError:
                    return  # recorded in self.failure; writers waiting in sync() raise it

    def wait_durable(self, lsn: int) -> None:
        """Block until frame `lsn` is fsync'd, leading an fsync if none is running. Lock held."""
        while self.durable_lsn < lsn:
            if self.failure is not None:
                raise self.failed_error()
            if self.syncing:
                self.cond.wait()
                continue
            # Lead: one fsync covers every frame written so far, including other threads'.
            self.syncing = True
            target = self.written_lsn
            fd = self.fd
            error: OSError | None = None
            self.lock.release()
            try:
                fdatasync_fd(fd)
            except OSError as exc:
                error = exc
            finally:
                self.lock.acquire()
                self.syncing = False
                self.fsync_count += 1
            if error is None:
                self.durable_lsn = max(self.durable_lsn, target)
            else:
                # After a failed fsync the kernel may have dropped the dirty pages; retrying
                # would falsely report success, so the log is unusable until reopened.
                self.failure = error
            self.cond.notify_all()
            if error is not None:
                full = disk_full(error, "syncing the WAL (writes need a restart of the index)")
                if full is not None:
                    raise full from error
                raise error

    def check_usable(self) -> None:
        if self.closed:
            raise ClosedError(f"WAL {self.directory} is closed")
        if self.failure is not None:
            raise self.failed_error()

    def failed_error(self) -> OSError:
        assert self.failure is not None
        err = OSError(
            self.failure.errno,
            f"WAL {self.directory} is unusable after an I/O error ({self.failure}); reopen it",
        )
        err.__cause__ = self.failure
        return err

    def quiesce(self) -> None:
        """Wait for an in-flight leader fsync, so the active fd may be swapped or closed. Lock held."""
        while self.syncing:
            self.cond.wait()

    def sync_all(self) -> None:
        """fsync the active file and mark everything written durable. Lock held, quiesced."""
        try:
            fdatasync_fd(self.fd)
        except OSError as exc:
            self.failure = exc
            self.cond.notify_all()
            raise
        self.fsync_count += 1
        self.durable_lsn = self.written_lsn
        self.cond.notify_all()

"""Durability helpers: fsync of files and directories, and crash-safe whole-file writes.

A file's data reaching the disk is not enough on POSIX: a newly created, renamed or deleted file
is only durable once its *directory* has been fsync'd too.  Everything here assumes Linux/ext4-like
semantics; on macOS `os.fsync` does not flush the drive cache, so we ask for F_FULLFSYNC there.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "TEMP_PREFIX",
    "atomic_write_bytes",
    "atomic_write_chunks",
    "fdatasync_fd",
    "fsync_dir",
    "fsync_fd",
    "fsync_file",
    "is_temp_name",
    "one_sync_for",
]

# Temp files of atomic_write_bytes are hidden and recognisable, so that owners of a directory can
# sweep leftovers of a crash between create and rename.
TEMP_PREFIX = ".tmp-"


_deferred = threading.local()


def fsync_fd(fd: int) -> None:
    """Flush a file descriptor's data and metadata to stable storage (unless this thread is inside
    `one_sync_for`, which makes it durable with everything else at the end of its block)."""
    if getattr(_deferred, "active", False):
        return
    if sys.platform == "darwin":
        import fcntl

        # Plain fsync on macOS only reaches the drive's volatile cache.
        fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
    else:
        os.fsync(fd)


def fdatasync_fd(fd: int) -> None:
    """Like `fsync_fd`, but may skip metadata not needed to read the data back (e.g. mtime).

    File size *is* such needed metadata, so this is enough after appending to a file.
    """
    if sys.platform == "darwin":
        fsync_fd(fd)
    elif hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:
        os.fsync(fd)


def fsync_file(f: BinaryIO) -> None:
    """Flush Python's buffer of an open binary file, then fsync it."""
    f.flush()
    fsync_fd(f.fileno())


def fsync_dir(path: Path | str) -> None:
    """Make creations, renames and deletions of entries in directory `path` durable."""
    if os.name == "nt":
        # Windows cannot open a directory as a file; NTFS journals directory entries itself.
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        fsync_fd(fd)
    finally:
        os.close(fd)


def is_temp_name(name: str) -> bool:
    """True for names `atomic_write_bytes` uses for its temporary files."""
    return name.startswith(TEMP_PREFIX)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    """Replace `path` with `data` so that after a crash it holds either the old or the new content."""
    atomic_write_chunks(path, (data,))


def atomic_write_chunks(path: Path | str, chunks: Iterable[bytes]) -> None:
    """`atomic_write_bytes` for content produced piecewise, so large content need not sit in memory.

    The temp file lives in the same directory because rename is only atomic within one filesystem.
    """
    target = Path(path)
    tmp = target.with_name(f"{TEMP_PREFIX}{target.name}.{os.getpid()}.{uuid.uuid4().hex}")
    try:
        with open(tmp, "xb") as f:
            for chunk in chunks:
                f.write(chunk)
            fsync_file(f)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(target.parent)


def _load_syncfs() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        syncfs: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    return syncfs


_SYNCFS = _load_syncfs()


@contextlib.contextmanager
def one_sync_for(path: Path | str) -> Iterator[None]:
    """Within the block, this thread's fsyncs (files and directories) are skipped; when the block ends
    without an error, one syncfs(2) makes everything written on `path`'s filesystem durable.

    A checkpoint of many small namespaces writes many small segments: one fsync per file and
    directory cost 89% of flushing 2,000 namespaces (3,005 fsyncs for 300). Where syncfs is missing
    (not Linux) the fsyncs happen as usual. Callers commit what the block wrote (a manifest) only
    after it returns, so nothing is published before it is durable.
    """
    if _SYNCFS is None or getattr(_deferred, "active", False):
        yield
        return
    _deferred.active = True
    try:
        yield
    finally:
        _deferred.active = False
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        if _SYNCFS(fd) != 0:
            code = ctypes.get_errno() or errno.EIO
            raise OSError(code, f"syncfs of {path}: {os.strerror(code)}")
    finally:
        os.close(fd)

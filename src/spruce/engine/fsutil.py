"""Durability helpers: fsync of files and directories, and crash-safe whole-file writes.

A file's data reaching the disk is not enough on POSIX: a newly created, renamed or deleted file
is only durable once its *directory* has been fsync'd too.  Everything here assumes Linux/ext4-like
semantics; on macOS `os.fsync` does not flush the drive cache, so we ask for F_FULLFSYNC there.
"""

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Iterable
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
]

# Temp files of atomic_write_bytes are hidden and recognisable, so that owners of a directory can
# sweep leftovers of a crash between create and rename.
TEMP_PREFIX = ".tmp-"


def fsync_fd(fd: int) -> None:
    """Flush a file descriptor's data and metadata to stable storage."""
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

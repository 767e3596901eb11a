"""Bulk writes: a namespace's segments written straight from columnar batches, bypassing the WAL.

An import streams validated batches (Arrow ids and metadata strings, a float32 matrix, CSR sparse arrays)
into segment files in the format `segment.py` reads, with memory bounded by one batch: vectors, sparse
arrays and the Arrow rows file are appended as they come, and each `.npy` header is rewritten with the
final row count at the end. Nothing is visible until `Store.publish_namespace` renames the finished
directories into place and commits one manifest naming them, so a crash leaves either the whole
namespace or unreferenced directories, which the next open removes.

Directories under construction are hidden (`segments/.bulk-<block>`): checkpoint sweeps skip hidden
entries, and opening deletes everything the manifest does not name.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import shutil
import struct
import sys
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from spruce.engine.checked_json import dump_checked
from spruce.engine.checksum import crc32_combine
from spruce.engine.fsutil import fsync_dir, fsync_fd, fsync_file, one_sync_for
from spruce.engine.id_index import HASH_FILE, sorted_hashes
from spruce.engine.rows import RowBlock
from spruce.engine.segment import FORMAT, SEGMENT_FILES, VERSION, write_alive
from spruce.types import FloatArray, IntArray, UIntArray

_HEADER_BYTES = 128  # fixed .npy header size, so it can be rewritten in place with the final shape
_ROWS_SCHEMA = pa.schema([("id", pa.string()), ("metadata", pa.string())])
DEFAULT_SEGMENT_ROWS = 4_000_000
# Dirty bytes a file may hold before its writeback is started (see _File.write).
WRITEBACK_BYTES = 32 << 20
WRITE_AHEAD = 2  # batches waiting for the write thread


@dataclass(frozen=True, slots=True)
class SparseColumns:
    """CSR sparse values of a batch: row i holds indices[indptr[i]:indptr[i+1]] (sorted, unique)."""

    indptr: IntArray
    indices: UIntArray
    values: FloatArray


@dataclass(frozen=True, slots=True)
class BulkSegment:
    """A finished, unpublished segment: its block id, hidden directory, and deletion bitmap (if any)."""

    block_id: int
    path: Path
    alive_file: str | None
    rows: int
    dimension: int = 0


class _File:
    """A file written through an unbuffered descriptor, its CRC-32 computed from the bytes as they
    are written (no second read), and its writeback started every WRITEBACK_BYTES, so that the one
    sync at publication finds little left to flush and disk writes overlap the reading and decoding.

    Arrow's IPC writer uses it as a Python file object (write / tell / flush / closed)."""

    def __init__(self, path: Path, skip: int = 0) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.crc = 0
        self.size = skip  # `skip` bytes at the start are reserved for a header written at the end
        self._unflushed_from = 0
        self.closed = False
        if skip:
            os.ftruncate(self._fd, skip)
            os.lseek(self._fd, skip, os.SEEK_SET)

    def write(self, data: bytes | memoryview) -> int:
        view = memoryview(data).cast("B")
        self.crc = zlib.crc32(view, self.crc)
        done = 0
        while done < len(view):
            done += os.write(self._fd, view[done:])
        self.size += done
        if self.size - self._unflushed_from >= WRITEBACK_BYTES:
            start_writeback(self._fd, self._unflushed_from, self.size - self._unflushed_from)
            self._unflushed_from = self.size
        return done

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass

    def write_at_start(self, header: bytes) -> None:
        """Fill the reserved start; the CRC becomes that of the whole file."""
        os.pwrite(self._fd, header, 0)
        self.crc = crc32_combine(zlib.crc32(header), self.crc, self.size - len(header))

    def close(self) -> None:
        """Close, durably (fsync, skipped inside `one_sync_for`, which syncs once for all files)."""
        if not self.closed:
            try:
                fsync_fd(self._fd)
            finally:
                self.abort()

    def abort(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._fd)


class _NpyAppender:
    """An `.npy` file written row chunk by row chunk; the header gets its final shape on close."""

    def __init__(self, path: Path, dtype: np.dtype[np.generic], inner: tuple[int, ...] = ()) -> None:
        self._file = _File(path, skip=_HEADER_BYTES)
        self._dtype = np.dtype(dtype)
        self._inner = inner
        self.rows = 0

    def append(self, arr: npt.NDArray[np.generic]) -> None:
        arr = np.ascontiguousarray(arr, dtype=self._dtype)
        if arr.size:
            self._file.write(arr.data)
        self.rows += len(arr)

    def close(self) -> int:
        """Write the header, close the file; returns its CRC-32."""
        shape = (self.rows, *self._inner)
        text = f"{{'descr': '{self._dtype.str}', 'fortran_order': False, 'shape': {shape!r}, }}"
        body = text.ljust(_HEADER_BYTES - 10 - 1) + "\n"
        header = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body.encode("latin1")
        assert len(header) == _HEADER_BYTES
        self._file.write_at_start(header)
        self._file.close()
        return self._file.crc

    def abort(self) -> None:
        self._file.abort()


# A compaction streams its merged vectors through the same writer (engine/merge_write.py).
NpyAppender = _NpyAppender


class SegmentWriter:
    """One segment being written from batches (see the module docstring)."""

    def __init__(self, directory: Path, block_id: int, dimension: int) -> None:
        self.block_id = block_id
        self.path = directory
        self.dimension = dimension
        directory.mkdir(parents=True, exist_ok=False)
        self._vectors = _NpyAppender(directory / "vectors.npy", np.dtype(np.float32), (dimension,))
        self._norms = _NpyAppender(directory / "norms.npy", np.dtype(np.float32))
        self._sindices = _NpyAppender(directory / "sindices.npy", np.dtype(np.uint32))
        self._svalues = _NpyAppender(directory / "svalues.npy", np.dtype(np.float32))
        self._indptr = _NpyAppender(directory / "indptr.npy", np.dtype(np.int64))
        self._indptr.append(np.zeros(1, dtype=np.int64))
        self._nnz = 0
        self._rows_file = _File(directory / "rows.arrow")
        self._rows = ipc.new_file(pa.PythonFile(self._rows_file, mode="w"), _ROWS_SCHEMA)
        self.n = 0

    def _appenders(self) -> dict[str, _NpyAppender]:
        return {
            "vectors.npy": self._vectors,
            "norms.npy": self._norms,
            "indptr.npy": self._indptr,
            "sindices.npy": self._sindices,
            "svalues.npy": self._svalues,
        }

    def write(
        self, ids: pa.Array, dense: FloatArray | None, sparse: SparseColumns | None, metadata: pa.Array
    ) -> None:
        k = len(ids)
        if k == 0:
            return
        if self.dimension:
            assert dense is not None and dense.shape == (k, self.dimension)
            self._vectors.append(dense)
            self._norms.append(np.einsum("ij,ij->i", dense, dense).astype(np.float32, copy=False))
        else:
            self._vectors.rows += k  # shape (n, 0): no bytes
            self._norms.append(np.zeros(k, dtype=np.float32))
        if sparse is None:
            self._indptr.append(np.full(k, self._nnz, dtype=np.int64))
        else:
            self._indptr.append(sparse.indptr[1:] + self._nnz)
            self._sindices.append(sparse.indices)
            self._svalues.append(sparse.values)
            self._nnz += len(sparse.indices)
        batch = pa.record_batch([ids.cast(pa.string()), metadata.cast(pa.string())], schema=_ROWS_SCHEMA)
        self._rows.write_batch(batch)
        self.n += k

    def finish(self, checkpoint_seq: int) -> BulkSegment:
        """Close the files, mark duplicate ids (the last one wins, as upserts would) and write
        segment.json with the checksums `read_segment` verifies, computed while the files were written."""
        crcs = {name: appender.close() for name, appender in self._appenders().items()}
        self._rows.close()
        self._rows_file.close()
        crcs["rows.arrow"] = self._rows_file.crc
        alive_file = self._mark_duplicates(checkpoint_seq)
        # The same self-checked segment.json as a checkpoint's (segment.py), covering every file.
        crc32 = {name: crcs[name] for name in SEGMENT_FILES}
        crc32[HASH_FILE] = self._write_hashes()
        info = {"n": self.n, "dimension": self.dimension, "crc32": crc32}
        with open(self.path / "segment.json", "wb") as f:
            f.write(dump_checked(FORMAT, VERSION, info))
            fsync_file(f)
        fsync_dir(self.path)
        return BulkSegment(self.block_id, self.path, alive_file, self.n, self.dimension)

    def _write_hashes(self) -> int:
        """The sorted id hashes opening uses instead of hashing every id (id_index.py); its CRC-32."""
        with pa.memory_map(str(self.path / "rows.arrow")) as source:
            table = sorted_hashes(ipc.open_file(source).read_all().column("id"))
        out = NpyAppender(self.path / HASH_FILE, np.dtype(np.uint64), (table.shape[1],))
        try:
            out.append(table)
            return out.close()
        except BaseException:
            out.abort()
            raise

    def _mark_duplicates(self, checkpoint_seq: int) -> str | None:
        with pa.memory_map(str(self.path / "rows.arrow")) as source:
            ids = ipc.open_file(source).read_all().column("id")
            if pc.count_distinct(ids).as_py() == len(ids):
                return None
            codes = ids.combine_chunks().dictionary_encode().indices.to_numpy(zero_copy_only=False)
        # First occurrence in the reversed order = last occurrence in file order.
        _, first_rev = np.unique(codes[::-1], return_index=True)
        alive = np.zeros(self.n, dtype=np.bool_)
        alive[self.n - 1 - first_rev] = True
        return write_alive(self.path, alive, self.n, checkpoint_seq)

    def abort(self) -> None:
        for appender in self._appenders().values():
            appender.abort()
        with contextlib.suppress(OSError, pa.ArrowException):
            self._rows.close()
        self._rows_file.abort()
        shutil.rmtree(self.path, ignore_errors=True)


class _WriteThread:
    """Runs calls in order on one thread, at most WRITE_AHEAD waiting: the caller checks the next batch
    while this one is checksummed and written (zlib.crc32 and os.write release the GIL). The first
    error is raised to the caller by its next `submit` or `drain`; later calls are then skipped."""

    def __init__(self) -> None:
        self._queue: queue.Queue[Callable[[], object] | None] = queue.Queue(maxsize=WRITE_AHEAD)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="spruce-import-write", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (call := self._queue.get()) is not None:
            if self._error is None:
                try:
                    call()
                except BaseException as exc:  # handed to the caller
                    self._error = exc

    def submit(self, call: Callable[[], object]) -> None:
        self._raise()
        self._queue.put(call)

    def drain(self) -> None:
        """Wait until every submitted call has run (the thread then ends); raise the first error."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error


class NamespaceWriter:
    """The segments of one namespace being imported; rolls over to a new segment every `segment_rows`.
    Batches are written by a thread of its own (see _WriteThread), so `write` returns at once unless
    WRITE_AHEAD batches are already waiting."""

    def __init__(
        self,
        segments_root: Path,
        dimension: int,
        new_block_id: object,
        checkpoint_seq: int,
        segment_rows: int = DEFAULT_SEGMENT_ROWS,
        touch: Callable[[], None] | None = None,
    ) -> None:
        self._touch = touch
        self._root = segments_root
        self._dimension = dimension
        self._new_block_id = new_block_id
        self._seq = checkpoint_seq
        self._segment_rows = segment_rows
        self._current: SegmentWriter | None = None
        self._current_rows = 0
        self._thread: _WriteThread | None = None
        self.finished: list[BulkSegment] = []
        self.rows = 0

    def write(
        self, ids: pa.Array, dense: FloatArray | None, sparse: SparseColumns | None, metadata: pa.Array
    ) -> None:
        if len(ids) == 0:
            return
        if self._thread is None:
            self._thread = _WriteThread()
        if self._current is None:
            block_id = self._new_block_id()  # type: ignore[operator]
            path = self._root / f".bulk-{block_id:012d}"
            self._current = SegmentWriter(path, block_id, self._dimension)
            self._current_rows = 0
        segment = self._current
        self._thread.submit(lambda: segment.write(ids, dense, sparse, metadata))
        self.rows += len(ids)
        self._current_rows += len(ids)
        if self._touch is not None:
            self._touch()
        if self._current_rows >= self._segment_rows:
            self._thread.submit(lambda: self.finished.append(segment.finish(self._seq)))
            self._current = None

    def finish(self) -> list[BulkSegment]:
        """Finish the last segment; everything written becomes durable with one sync of the filesystem
        (per-file fsyncs cost more than the writes they flush once the writeback has been started)."""
        if self._thread is not None:
            self._thread.drain()
        if self._current is not None:
            with one_sync_for(self._root):
                self.finished.append(self._current.finish(self._seq))
            self._current = None
        return self.finished

    def abort(self) -> None:
        if self._thread is not None:
            with contextlib.suppress(BaseException):
                self._thread.drain()
        if self._current is not None:
            self._current.abort()
            self._current = None
        for seg in self.finished:
            shutil.rmtree(seg.path, ignore_errors=True)
        self.finished = []


def open_segment(seg: BulkSegment, final: Path) -> RowBlock:
    """A published bulk segment as a block. Its checksums are not verified by reading every file again
    (as opening an index does): they were computed from the very bytes this process wrote."""
    from spruce.engine import segment

    info: dict[str, object] = {"n": seg.rows, "dimension": seg.dimension, "crc32": {HASH_FILE: 0}}
    return segment._read_segment(final, seg.block_id, seg.alive_file, info)


# -- early writeback -------------------------------------------------------------------------------
def _load_sync_file_range() -> object | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


_SYNC_FILE_RANGE = _load_sync_file_range()
_SYNC_FILE_RANGE_WRITE = 2


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Ask the kernel to start writing a range of the file to disk, without waiting (Linux's
    sync_file_range; elsewhere nothing: the final sync flushes it all). Not a durability point."""
    if _SYNC_FILE_RANGE is not None:
        _SYNC_FILE_RANGE(fd, offset, length, _SYNC_FILE_RANGE_WRITE)  # type: ignore[operator]

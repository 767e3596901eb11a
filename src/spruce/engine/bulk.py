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
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from spruce.engine.checked_json import dump_checked
from spruce.engine.fsutil import fsync_dir, fsync_file
from spruce.engine.segment import FORMAT, SEGMENT_FILES, VERSION, file_crc32, write_alive
from spruce.types import FloatArray, IntArray, UIntArray

_HEADER_BYTES = 128  # fixed .npy header size, so it can be rewritten in place with the final shape
_ROWS_SCHEMA = pa.schema([("id", pa.string()), ("metadata", pa.string())])
DEFAULT_SEGMENT_ROWS = 4_000_000


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


class _NpyAppender:
    """An `.npy` file written row chunk by row chunk; the header gets its final shape on close."""

    def __init__(self, path: Path, dtype: np.dtype[np.generic], inner: tuple[int, ...] = ()) -> None:
        self._f: BinaryIO = open(path, "wb")  # noqa: SIM115 (closed in close/abort)
        self._dtype = np.dtype(dtype)
        self._inner = inner
        self.rows = 0
        self._f.write(b"\0" * _HEADER_BYTES)

    def append(self, arr: npt.NDArray[np.generic]) -> None:
        arr = np.ascontiguousarray(arr, dtype=self._dtype)
        self._f.write(arr.data)
        self.rows += len(arr)

    def close(self) -> None:
        shape = (self.rows, *self._inner)
        text = f"{{'descr': '{self._dtype.str}', 'fortran_order': False, 'shape': {shape!r}, }}"
        body = text.ljust(_HEADER_BYTES - 10 - 1) + "\n"
        header = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body.encode("latin1")
        assert len(header) == _HEADER_BYTES
        self._f.seek(0)
        self._f.write(header)
        fsync_file(self._f)
        self._f.close()

    def abort(self) -> None:
        self._f.close()


class SegmentWriter:
    """One segment being written from batches (see the module docstring)."""

    def __init__(self, directory: Path, block_id: int, dimension: int) -> None:
        self.block_id = block_id
        self.path = directory
        self.dimension = dimension
        directory.mkdir(parents=True, exist_ok=False)
        self._vectors = _NpyAppender(directory / "vectors.npy", np.dtype(np.float32), (dimension,))
        self._sindices = _NpyAppender(directory / "sindices.npy", np.dtype(np.uint32))
        self._svalues = _NpyAppender(directory / "svalues.npy", np.dtype(np.float32))
        self._indptr = _NpyAppender(directory / "indptr.npy", np.dtype(np.int64))
        self._indptr.append(np.zeros(1, dtype=np.int64))
        self._norms: list[FloatArray] = []
        self._nnz = 0
        self._rows_file: BinaryIO = open(directory / "rows.arrow", "wb")  # noqa: SIM115
        self._rows = ipc.new_file(self._rows_file, _ROWS_SCHEMA)
        self.n = 0

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
        segment.json with the checksums `read_segment` verifies."""
        for appender in (self._vectors, self._sindices, self._svalues, self._indptr):
            appender.close()
        self._rows.close()
        fsync_file(self._rows_file)
        self._rows_file.close()
        norms = np.concatenate(self._norms) if self._norms else np.zeros(0, dtype=np.float32)
        with open(self.path / "norms.npy", "wb") as f:
            np.save(f, norms, allow_pickle=False)
            fsync_file(f)
        alive_file = self._mark_duplicates(checkpoint_seq)
        # The same self-checked segment.json as a checkpoint's (segment.py), covering every file.
        info = {
            "n": self.n,
            "dimension": self.dimension,
            "crc32": {name: file_crc32(self.path / name) for name in SEGMENT_FILES},
        }
        with open(self.path / "segment.json", "wb") as f:
            f.write(dump_checked(FORMAT, VERSION, info))
            fsync_file(f)
        fsync_dir(self.path)
        return BulkSegment(self.block_id, self.path, alive_file, self.n)

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
        for appender in (self._vectors, self._sindices, self._svalues, self._indptr):
            appender.abort()
        with contextlib.suppress(OSError, pa.ArrowException):
            self._rows.close()
        self._rows_file.close()
        shutil.rmtree(self.path, ignore_errors=True)


class NamespaceWriter:
    """The segments of one namespace being imported; rolls over to a new segment every `segment_rows`."""

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
        self.finished: list[BulkSegment] = []
        self.rows = 0

    def write(
        self, ids: pa.Array, dense: FloatArray | None, sparse: SparseColumns | None, metadata: pa.Array
    ) -> None:
        if len(ids) == 0:
            return
        if self._current is None:
            block_id = self._new_block_id()  # type: ignore[operator]
            path = self._root / f".bulk-{block_id:012d}"
            self._current = SegmentWriter(path, block_id, self._dimension)
        self._current.write(ids, dense, sparse, metadata)
        self.rows += len(ids)
        if self._touch is not None:
            self._touch()
        if self._current.n >= self._segment_rows:
            self.finished.append(self._current.finish(self._seq))
            self._current = None

    def finish(self) -> list[BulkSegment]:
        if self._current is not None:
            self.finished.append(self._current.finish(self._seq))
            self._current = None
        return self.finished

    def abort(self) -> None:
        if self._current is not None:
            self._current.abort()
            self._current = None
        for seg in self.finished:
            shutil.rmtree(seg.path, ignore_errors=True)
        self.finished = []

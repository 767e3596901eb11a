"""Sparse vectors stored as growable CSR arrays, and exact sparse dot products against a query.

Indices are uint32 and may span the whole 0..2**32-1 range, so nothing is ever allocated by index
value: the query is matched against stored indices with `searchsorted` on the query's sorted indices.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from spruce.types import FloatArray, SparseVector, UIntArray

_EMPTY_U32: UIntArray = np.zeros(0, dtype=np.uint32)
_EMPTY_F32: FloatArray = np.zeros(0, dtype=np.float32)


class SparseRows:
    """Append-only CSR rows. Row i holds indices[indptr[i]:indptr[i+1]] (empty for rows without sparse)."""

    def __init__(
        self,
        indptr: npt.NDArray[np.int64] | None = None,
        indices: UIntArray | None = None,
        values: FloatArray | None = None,
    ) -> None:
        self._indptr = np.zeros(1, dtype=np.int64) if indptr is None else indptr
        self._n = len(self._indptr) - 1
        nnz = int(self._indptr[-1])
        self._indices = _EMPTY_U32.copy() if indices is None else indices
        self._values = _EMPTY_F32.copy() if values is None else values
        self._nnz = nnz
        self._has_any = nnz > 0

    def __len__(self) -> int:
        return self._n

    @property
    def nnz(self) -> int:
        return self._nnz

    def arrays(self) -> tuple[npt.NDArray[np.int64], UIntArray, FloatArray]:
        """The exact-size CSR arrays (views; do not mutate)."""
        return self._indptr[: self._n + 1], self._indices[: self._nnz], self._values[: self._nnz]

    def append(self, sv: SparseVector | None) -> None:
        k = 0 if sv is None else len(sv.indices)
        if self._n + 2 > len(self._indptr):
            self._indptr = _grow(self._indptr, self._n + 2)
        if k:
            assert sv is not None
            need = self._nnz + k
            if need > len(self._indices):
                self._indices = _grow(self._indices, need)
                self._values = _grow(self._values, need)
            self._indices[self._nnz : need] = sv.indices
            self._values[self._nnz : need] = sv.values
            self._nnz = need
            self._has_any = True
        self._n += 1
        self._indptr[self._n] = self._nnz

    def extend_empty(self, k: int) -> None:
        """Append k rows without sparse values."""
        if self._n + k + 1 > len(self._indptr):
            self._indptr = _grow(self._indptr, self._n + k + 1)
        self._indptr[self._n + 1 : self._n + k + 1] = self._nnz
        self._n += k

    def take(self, rows: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], UIntArray, FloatArray]:
        """(non-zero counts, indices, values) of the given rows, in that order (for `concat`)."""
        starts = self._indptr[rows]
        counts = self._indptr[rows + 1] - starts
        if not self._has_any:
            return counts, _EMPTY_U32, _EMPTY_F32
        total = int(counts.sum())
        # Position j of row r's run maps to starts[r] + j: repeat each start over its run, add a ramp.
        offsets = np.cumsum(counts) - counts
        gather = np.repeat(starts - offsets, counts) + np.arange(total, dtype=np.int64)
        return counts, self._indices[gather], self._values[gather]

    @classmethod
    def concat(cls, parts: list[tuple[npt.NDArray[np.int64], UIntArray, FloatArray]]) -> SparseRows:
        if not parts:
            return cls()
        counts = np.concatenate([c for c, _, _ in parts])
        indptr = np.zeros(len(counts) + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices = np.concatenate([i for _, i, _ in parts]).astype(np.uint32, copy=False)
        values = np.concatenate([v for _, _, v in parts]).astype(np.float32, copy=False)
        return cls(indptr, indices, values)

    def get(self, row: int) -> SparseVector | None:
        a, b = int(self._indptr[row]), int(self._indptr[row + 1])
        if a == b:
            return None
        return SparseVector(self._indices[a:b].copy(), self._values[a:b].copy())

    def snapshot(self, n_rows: int) -> SparseSnapshot:
        """Arrays covering the first `n_rows` rows; valid after later appends (which reallocate)."""
        end = int(self._indptr[n_rows])
        return SparseSnapshot(
            self._indptr[: n_rows + 1], self._indices[:end], self._values[:end], self._has_any
        )


class SparseSnapshot:
    __slots__ = ("has_any", "indices", "indptr", "values")

    def __init__(
        self, indptr: npt.NDArray[np.int64], indices: UIntArray, values: FloatArray, has_any: bool
    ) -> None:
        self.indptr, self.indices, self.values, self.has_any = indptr, indices, values, has_any

    def dot(self, query: SparseVector) -> FloatArray:
        """Exact dot product of every row with the query."""
        n_rows = len(self.indptr) - 1
        out = np.zeros(n_rows, dtype=np.float32)
        if not self.has_any or len(query.indices) == 0 or n_rows == 0:
            return out
        idx = self.indices
        qi = query.indices
        pos = np.searchsorted(qi, idx)
        np.minimum(pos, len(qi) - 1, out=pos)
        hit_at = np.flatnonzero(qi[pos] == idx)
        if len(hit_at) == 0:
            return out
        contrib = self.values[hit_at].astype(np.float64) * query.values[pos[hit_at]]
        row_of = np.searchsorted(self.indptr, hit_at, side="right") - 1
        out += np.bincount(row_of, weights=contrib, minlength=n_rows).astype(np.float32)
        return out


def _grow(arr: np.ndarray, need: int) -> np.ndarray:
    cap = max(need, 2 * len(arr), 16)
    out = np.zeros(cap, dtype=arr.dtype)
    out[: len(arr)] = arr
    return out

"""Ids of a segment opened from disk, kept as the Arrow column until many are needed.

Turning a 1M-row `id` column into Python strings on open (`to_pylist`) was 0.1 s quiet and ~0.5 s on
a loaded machine, the largest part of a reopen once ids are found by hash (id_index.py). Most ids
are never read as strings: a query returns top_k of them, a fetch a few. So a segment's ids stay
in the memory-mapped column; single rows are read from it, and the Python list is built only when
a caller needs many (a slice, an iteration, or MATERIALIZE_AFTER single reads: listing or sorting
rows would otherwise pay ~1 us of Arrow scalar per id, many times over).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import numpy as np
import pyarrow as pa

MATERIALIZE_AFTER = 4096


class LazyIds(Sequence[str]):
    """A read-only sequence of ids over an Arrow string column."""

    __slots__ = ("_column", "_list", "_reads")

    def __init__(self, column: pa.Array | pa.ChunkedArray) -> None:
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        self._column: pa.Array = column
        self._list: list[str] | None = None
        self._reads = 0

    @property
    def column(self) -> pa.Array:
        return self._column

    def materialized(self) -> list[str]:
        if self._list is None:
            self._list = self._column.to_pylist()
        return self._list

    def __len__(self) -> int:
        return len(self._column)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if self._list is not None:
            return self._list[index]
        if isinstance(index, slice):
            return self.materialized()[index]
        self._reads += 1
        if self._reads > MATERIALIZE_AFTER:
            return self.materialized()[index]
        n = len(self._column)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"id row {index} out of range (0..{n - 1})")
        value: str = self._column[index].as_py()
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.materialized())

    def take(self, rows: Sequence[int] | np.ndarray) -> list[str]:
        """The ids of the given rows, in one vectorised gather (no list of all ids)."""
        if self._list is not None:
            ids = self._list
            return [ids[r] for r in np.asarray(rows, dtype=np.int64).tolist()]
        picked: list[str] = self._column.take(pa.array(np.asarray(rows, dtype=np.int64))).to_pylist()
        return picked


def take_ids(ids: Sequence[str], rows: Sequence[int] | np.ndarray) -> list[str]:
    """`[ids[r] for r in rows]` for a list or a LazyIds."""
    if isinstance(ids, LazyIds):
        return ids.take(rows)
    return [ids[r] for r in np.asarray(rows, dtype=np.int64).tolist()]

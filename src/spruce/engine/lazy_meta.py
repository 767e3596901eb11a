"""Metadata of a sealed segment, kept encoded and decoded one row at a time when it is read.

Decoding every row's JSON when a segment opens was most of a reopen (1M records: 1.0 s of orjson
plus the garbage collector walking a million dicts afterwards) and held a dict per record in RAM for
rows nobody reads. Here the segment's `metadata` column (utf8 JSON or null, memory-mapped from
rows.arrow) stays as it is; a row is decoded when it is fetched or returned, and a whole column only
when a filter first needs the block's metadata index (`RowBlock.columns`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import orjson
import pyarrow as pa

from spruce.types import Metadata


class LazyMetadata(Sequence["Metadata | None"]):
    """A read-only sequence of metadata over an Arrow string column of JSON documents."""

    __slots__ = ("_column",)

    def __init__(self, column: pa.Array | pa.ChunkedArray) -> None:
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        self._column: pa.Array = column

    def __len__(self) -> int:
        return len(self._column)

    @overload
    def __getitem__(self, index: int) -> Metadata | None: ...

    @overload
    def __getitem__(self, index: slice) -> list[Metadata | None]: ...

    def __getitem__(self, index: int | slice) -> Metadata | list[Metadata | None] | None:
        if isinstance(index, slice):
            return decode_all(self._column[index].to_pylist())
        n = len(self._column)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"metadata row {index} out of range (0..{n - 1})")
        raw = self._column[index].as_py()
        return None if raw is None else orjson.loads(raw)

    def __iter__(self) -> Iterator[Metadata | None]:
        return iter(self[:])

    def take(self, rows: Sequence[int]) -> pa.Array:
        """The given rows, still encoded."""
        return self._column.take(pa.array(rows, pa.int64()))

    def encoded(self, n: int) -> pa.Array:
        """The first n rows as stored (JSON strings), for writing them again without a round trip."""
        return self._column[:n]


def decode_all(raw: list[str | None]) -> list[Metadata | None]:
    loads = orjson.loads
    return [None if m is None else loads(m) for m in raw]


def encode_column(metadata: Sequence[Metadata | None], n: int) -> pa.Array:
    """The `metadata` column of rows.arrow for the first n rows (reuses a lazy column's encoding)."""
    if isinstance(metadata, LazyMetadata):
        return metadata.encoded(n)
    dumps = orjson.dumps
    return pa.array([None if m is None else dumps(m).decode() for m in metadata[:n]], pa.string())


def gather(parts: Sequence[tuple[Sequence[Metadata | None], Sequence[int]]]) -> Sequence[Metadata | None]:
    """The given rows of several blocks' metadata, in order (a compaction's merged column).

    Stays encoded when every input is (no decode and re-encode of rows a merge only moves)."""
    lazy = [meta for meta, _ in parts if isinstance(meta, LazyMetadata)]
    if len(lazy) == len(parts):
        taken = [meta.take(rows) for meta, (_, rows) in zip(lazy, parts, strict=True)]
        column = pa.concat_arrays(taken) if taken else pa.array([], pa.string())
        return LazyMetadata(column)
    out: list[Metadata | None] = []
    for meta, rows in parts:
        if isinstance(meta, LazyMetadata):
            out.extend(decode_all(meta.take(rows).to_pylist()))
        else:
            out.extend([meta[r] for r in rows])
    return out

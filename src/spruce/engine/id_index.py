"""Id lookups into segments opened from disk, without a Python dict entry per id.

Opening a 1M-record segment built a dict of a million fresh strings (0.8-1.1 s on this VM, most of a
reopen; ~100 bytes a record). Instead, the ids of the blocks a namespace opens are hashed in bulk
(64-bit FNV-1a over their UTF-8 bytes, vectorised over the Arrow column: ~0.13 s for 1M) into one
sorted array of hashes with a parallel array of `block_id << 32 | row` codes (16 bytes a record).
A lookup hashes the ids asked for, finds candidates with `np.searchsorted`, and accepts a candidate
only if its row is alive and holds exactly that id, so a hash collision costs a comparison, never a
wrong answer.

Rows are only ever killed, never revived, and at most one alive row holds a given id (an overwrite
kills the old row before the new location is recorded): so an alive row found here *is* the id's
current version, and a location held here ends when its row dies. Blocks written after opening keep
their locations in `Locations`' dict as before; this index only shrinks (compaction drops its blocks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from spruce.engine.lazy_ids import LazyIds, take_ids
from spruce.types import IntArray

if TYPE_CHECKING:
    from spruce.engine.rows import RowBlock

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK64 = (1 << 64) - 1
SHIFT = 32
ROW_MASK = (1 << SHIFT) - 1
# Below this many ids a pure-Python hash per id is cheaper than building an Arrow array of them.
_VECTOR_MIN = 32


def fnv1a64(ident: str) -> int:
    """The 64-bit FNV-1a hash of one id's UTF-8 bytes (equal to `fnv1a64_column` on it; a lone
    surrogate, which no segment can hold, is hashed as its surrogate-pass bytes)."""
    h = _FNV_OFFSET
    for byte in ident.encode("utf-8", "surrogatepass"):
        h = ((h ^ byte) * _FNV_PRIME) & _MASK64
    return h


def fnv1a64_column(column: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """`fnv1a64` of every string of an Arrow string column, as uint64, vectorised by byte position
    (ids sorted by length, so the rows still running at position j are a prefix)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    n = len(column)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    if column.null_count:
        raise ValueError("ids cannot be null")
    wide = pa.types.is_large_string(column.type)
    offsets_buf, data_buf = column.buffers()[1], column.buffers()[2]
    offsets = np.frombuffer(
        offsets_buf,
        dtype=np.int64 if wide else np.int32,
        count=n + 1,
        offset=column.offset * (8 if wide else 4),
    ).astype(np.int64)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    order = np.argsort(-lengths, kind="stable")
    starts = starts[order]
    lengths = lengths[order]
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    prime = np.uint64(_FNV_PRIME)
    longest = int(lengths[0])
    # running[j]: how many ids are longer than j bytes (a prefix, lengths being descending).
    running = np.searchsorted(-lengths, -np.arange(longest), side="left")
    for j in range(longest):
        c = int(running[j])
        part = h[:c]
        part ^= data[starts[:c] + j]
        part *= prime  # uint64 arithmetic wraps: the mod 2**64 FNV needs
    out = np.empty_like(h)
    out[order] = h
    return out


def hash_ids(ids: Sequence[str]) -> np.ndarray:
    if len(ids) >= _VECTOR_MIN:
        try:
            return fnv1a64_column(pa.array(ids, pa.string()))
        except (pa.ArrowException, UnicodeError):
            pass  # not valid UTF-8 (a lone surrogate): in no segment, but still looked up
    return np.array([fnv1a64(i) for i in ids], dtype=np.uint64)


HASH_FILE = "idhash.npy"


def sorted_hashes(ids: Sequence[str] | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """uint64 (2, n): the ids' hashes in ascending order, and the row of each (what HASH_FILE holds)."""
    if isinstance(ids, pa.Array | pa.ChunkedArray):
        keys = fnv1a64_column(ids)
    else:
        keys = fnv1a64_column(ids.column) if isinstance(ids, LazyIds) else hash_ids(ids)
    order = np.argsort(keys, kind="stable")
    out = np.empty((2, len(keys)), dtype=np.uint64)
    np.take(keys, order, out=out[0])
    out[1] = order
    return out


def check_hashes(table: np.ndarray, n: int) -> np.ndarray:
    """A loaded HASH_FILE, checked for shape (its bytes were checksummed with the segment's)."""
    if table.dtype != np.uint64 or table.shape != (2, n):
        raise ValueError(f"{HASH_FILE} has shape {table.shape} and type {table.dtype}, not (2, {n}) uint64")
    if n and int(table[1].max()) >= n:
        raise ValueError(f"{HASH_FILE} names a row past {n}")
    return table


class SealedIds:
    """Hash-sorted locations of the alive rows of blocks opened from disk (see the module docstring)."""

    __slots__ = ("_blocks", "_codes", "_keys")

    def __init__(self) -> None:
        self._keys = np.zeros(0, dtype=np.uint64)
        self._codes = np.zeros(0, dtype=np.int64)
        self._blocks: dict[int, RowBlock] = {}

    def __bool__(self) -> bool:
        return bool(self._blocks)

    @property
    def blocks(self) -> dict[int, RowBlock]:
        return self._blocks

    def live_count(self) -> int:
        return sum(b.live_count for b in self._blocks.values())

    def add(self, block: RowBlock) -> IntArray:
        """Index the block's alive rows; returns the codes of rows of blocks indexed before that hold
        one of its alive ids (the caller kills them: the block is newer). Opening many segments
        costs one merge of sorted arrays each, not a search per id."""
        n = block.n
        ids = block.ids
        table = block.id_hashes
        block.id_hashes = None
        if table is None:
            table = sorted_hashes(ids if len(ids) == n else ids[:n])
        keys = table[0]
        codes = table[1].view(np.int64)  # rows become codes in place: no second array
        codes += block.block_id << SHIFT
        if block.live_count < n:
            keep = block.alive[table[1] & np.uint64(ROW_MASK)]
            keys, codes = keys[keep], codes[keep]
        shadowed = self._find_sorted(keys, lambda i: ids[int(codes[i]) & ROW_MASK]) if self else None
        self._blocks[block.block_id] = block
        if not len(self._keys):
            self._keys, self._codes = keys, codes
        else:
            at = np.searchsorted(self._keys, keys)
            self._keys = np.insert(self._keys, at, keys)
            self._codes = np.insert(self._codes, at, codes)
        if shadowed is None:
            return np.zeros(0, dtype=np.int64)
        return shadowed[shadowed >= 0]

    def drop_blocks(self, block_ids: Sequence[int]) -> None:
        gone = [b for b in block_ids if b in self._blocks]
        if not gone:
            return
        for b in gone:
            del self._blocks[b]
        keep = ~np.isin(self._codes >> SHIFT, np.asarray(gone, dtype=np.int64))
        self._keys = self._keys[keep]
        self._codes = self._codes[keep]

    def clear(self) -> None:
        self._keys = np.zeros(0, dtype=np.uint64)
        self._codes = np.zeros(0, dtype=np.int64)
        self._blocks = {}

    def find(self, ids: Sequence[str]) -> IntArray:
        """The code of each id's alive row here, or -1."""
        if not self._blocks or not ids:
            return np.full(len(ids), -1, dtype=np.int64)
        return self._find_sorted(hash_ids(ids), ids.__getitem__)

    def find_one(self, ident: str) -> int:
        if not self._blocks:
            return -1
        keys = self._keys
        key = fnv1a64(ident)
        j = int(np.searchsorted(keys, np.uint64(key)))
        return self._scan(j, key, ident)

    def _scan(self, j: int, key: int, ident: str) -> int:
        keys, codes, blocks = self._keys, self._codes, self._blocks
        while j < len(keys) and int(keys[j]) == key:
            code = int(codes[j])
            block = blocks[code >> SHIFT]
            row = code & ROW_MASK
            if block.alive[row] and block.ids[row] == ident:
                return code
            j += 1
        return -1

    def _find_sorted(self, hashes: np.ndarray, id_of: Callable[[int], str]) -> IntArray:
        """Codes for ids given by their hashes (`id_of(i)`: the i-th id, read only on a hash match)."""
        out = np.full(len(hashes), -1, dtype=np.int64)
        keys = self._keys
        if not len(keys):
            return out
        pos = np.searchsorted(keys, hashes)
        near = np.minimum(pos, len(keys) - 1)
        candidates = np.flatnonzero(keys[near] == hashes)
        for i, j in zip(candidates.tolist(), pos[candidates].tolist(), strict=True):
            out[i] = self._scan(j, int(hashes[i]), id_of(i))
        return out

    def locations(self) -> Iterator[tuple[str, RowBlock, int]]:
        """Every (id, block, row) held here, block by block."""
        for block in list(self._blocks.values()):
            rows = np.flatnonzero(block.alive[: block.n])
            for rid, row in zip(take_ids(block.ids, rows), rows.tolist(), strict=True):
                yield rid, block, row

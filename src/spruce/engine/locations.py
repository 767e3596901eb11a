"""Where the current version of each id lives: id -> (block, row), kept compact.

A dict of `(block, row)` tuples cost ~1 s to build for a 1M-record segment on open (a tuple per row,
each one tracked by the garbage collector, which then walked them all) and ~64 bytes a record beyond
the id string. Here each id written since opening maps to one int, `block_id << 32 | row` (ints are
not tracked by the collector); the tuple is made only when a location is read. The ids of segments
opened from disk (or published by an import) are not put in the dict at all: `id_index.SealedIds`
finds them by hash (a dict of a million fresh strings was still most of a reopen).

An id lives in exactly one of the two: a write moves it to the dict after killing its old row, and
a row found through `SealedIds` is its id's location only while alive. So a caller that takes a
location away (`pop`) must kill its row, as every caller does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from typing import TYPE_CHECKING

import numpy as np

from spruce.engine.id_index import ROW_MASK, SHIFT, SealedIds
from spruce.engine.lazy_ids import take_ids
from spruce.types import IntArray

if TYPE_CHECKING:
    from spruce.engine.rows import RowBlock

_SHIFT = SHIFT
_ROW_MASK = ROW_MASK


class Locations:
    """A mapping-like id -> (block, row); blocks are known by their block_id."""

    __slots__ = ("_blocks", "_codes", "_sealed")

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self._blocks: dict[int, RowBlock] = {}
        self._sealed = SealedIds()

    def _decode(self, code: int) -> tuple[RowBlock, int]:
        return self._blocks[code >> _SHIFT], code & _ROW_MASK

    def _decode_sealed(self, code: int) -> tuple[RowBlock, int]:
        return self._sealed.blocks[code >> _SHIFT], code & _ROW_MASK

    def __len__(self) -> int:
        return len(self._codes) + (self._sealed.live_count() if self._sealed else 0)

    def __bool__(self) -> bool:
        return bool(self._codes) or len(self) > 0

    def __contains__(self, rid: object) -> bool:
        if rid in self._codes:
            return True
        return bool(self._sealed) and isinstance(rid, str) and self._sealed.find_one(rid) >= 0

    def __iter__(self) -> Iterator[str]:
        if not self._sealed:
            return iter(self._codes)
        return chain(self._codes, (rid for rid, _, _ in self._sealed.locations()))

    def __getitem__(self, rid: str) -> tuple[RowBlock, int]:
        loc = self.get(rid)
        if loc is None:
            raise KeyError(rid)
        return loc

    def get(self, rid: str) -> tuple[RowBlock, int] | None:
        code = self._codes.get(rid)
        return self._decode(code) if code is not None else self._sealed_location(rid)

    def _sealed_location(self, rid: str) -> tuple[RowBlock, int] | None:
        if self._sealed:
            found = self._sealed.find_one(rid)
            if found >= 0:
                return self._decode_sealed(found)
        return None

    def get_many(self, ids: Sequence[str]) -> list[tuple[RowBlock, int] | None]:
        """`get` of each id (the sealed ones hashed and searched in one go)."""
        get, decode = self._codes.get, self._decode
        out: list[tuple[RowBlock, int] | None] = [
            None if (c := get(rid)) is None else decode(c) for rid in ids
        ]
        if self._sealed:
            missing = [i for i, loc in enumerate(out) if loc is None]
            if missing:
                found = self._sealed.find([ids[i] for i in missing])
                for i, code in zip(missing, found.tolist(), strict=True):
                    if code >= 0:
                        out[i] = self._decode_sealed(code)
        return out

    def current_codes(self, ids: Sequence[str]) -> IntArray:
        """Each id's `block_id << 32 | row`, or -1 where it has no location."""
        get = self._codes.get
        codes = np.fromiter((get(rid, -1) for rid in ids), dtype=np.int64, count=len(ids))
        if self._sealed:
            missing = np.flatnonzero(codes < 0)
            if len(missing):
                codes[missing] = self._sealed.find([ids[i] for i in missing.tolist()])
        return codes

    def pop(self, rid: str, default: None = None) -> tuple[RowBlock, int] | None:
        """Take the id's location away; a location in a sealed block ends when the caller kills its row."""
        code = self._codes.pop(rid, None)
        return self._decode(code) if code is not None else self._sealed_location(rid)

    def __setitem__(self, rid: str, loc: tuple[RowBlock, int]) -> None:
        block, row = loc
        self._blocks[block.block_id] = block
        self._codes[rid] = block.block_id << _SHIFT | row

    def values(self) -> Iterator[tuple[RowBlock, int]]:
        decode = self._decode
        mine = (decode(c) for c in self._codes.values())
        if not self._sealed:
            return mine
        return chain(mine, ((block, row) for _, block, row in self._sealed.locations()))

    def clear(self) -> None:
        self._codes.clear()
        self._blocks.clear()
        self._sealed.clear()

    def add_sealed(self, block: RowBlock) -> None:
        """Make the block's alive rows the current versions of their ids, found by hash, and kill the
        rows they shadow (segments are opened oldest first: a newer one shadows older rows)."""
        n = block.n
        if self._codes:
            rows = np.flatnonzero(block.alive[:n])
            ids = block.ids
            for rid in self.shadowed(take_ids(ids, rows)):
                old_block, old_row = self._decode(self._codes.pop(rid))
                old_block.kill(old_row)
        for code in self._sealed.add(block).tolist():
            old_block, old_row = self._decode_sealed(code)
            old_block.kill(old_row)

    def set_rows(self, ids: Iterable[str], block: RowBlock, rows: Sequence[int] | np.ndarray) -> None:
        """Point each of `ids` at the matching row of `block` (one dict update, no tuples)."""
        self._blocks[block.block_id] = block
        codes = (np.asarray(rows, dtype=np.int64) + (block.block_id << _SHIFT)).tolist()
        self._codes.update(zip(ids, codes, strict=True))

    def set_range(self, ids: Sequence[str], block: RowBlock, first: int) -> None:
        """Point `ids` at consecutive rows of `block` from `first` on."""
        self._blocks[block.block_id] = block
        base = (block.block_id << _SHIFT) + first
        self._codes.update(zip(ids, range(base, base + len(ids)), strict=True))

    def forget_blocks(self, block_ids: Iterable[int]) -> None:
        """Drop blocks no location points at any more (after they were replaced)."""
        gone = list(block_ids)
        for bid in gone:
            self._blocks.pop(bid, None)
        self._sealed.drop_blocks(gone)

    def shadowed(self, ids: Iterable[str]) -> list[str]:
        """Those of `ids` that have a location in the dict (a C-level scan)."""
        return list(filter(self._codes.__contains__, ids))

    def code_block(self, rid: str) -> int | None:
        """The block_id of the id's current location (no tuple), or None."""
        code = self._codes.get(rid)
        if code is None and self._sealed:
            code = self._sealed.find_one(rid)
            code = None if code < 0 else code
        return None if code is None else code >> _SHIFT

    def repoint(self, rid: str, block: RowBlock, row: int) -> None:
        self._blocks[block.block_id] = block
        self._codes[rid] = block.block_id << _SHIFT | row

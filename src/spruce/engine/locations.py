"""Where the current version of each id lives: id -> (block, row), kept compact.

A dict of `(block, row)` tuples cost ~1 s to build for a 1M-record segment on open (a tuple per row,
each one tracked by the garbage collector, which then walked them all) and ~64 bytes a record beyond
the id string. Here each id maps to one int, `block_id << 32 | row` (ints are not tracked by the
collector), built in bulk from a numpy range; the tuple is made only when a location is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from spruce.engine.rows import RowBlock

_SHIFT = 32
_ROW_MASK = (1 << _SHIFT) - 1


class Locations:
    """A mapping-like id -> (block, row); blocks are known by their block_id."""

    __slots__ = ("_blocks", "_codes")

    def __init__(self) -> None:
        self._codes: dict[str, int] = {}
        self._blocks: dict[int, RowBlock] = {}

    def _decode(self, code: int) -> tuple[RowBlock, int]:
        return self._blocks[code >> _SHIFT], code & _ROW_MASK

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, rid: object) -> bool:
        return rid in self._codes

    def __iter__(self) -> Iterator[str]:
        return iter(self._codes)

    def __getitem__(self, rid: str) -> tuple[RowBlock, int]:
        return self._decode(self._codes[rid])

    def get(self, rid: str) -> tuple[RowBlock, int] | None:
        code = self._codes.get(rid)
        return None if code is None else self._decode(code)

    def pop(self, rid: str, default: None = None) -> tuple[RowBlock, int] | None:
        code = self._codes.pop(rid, None)
        return default if code is None else self._decode(code)

    def __setitem__(self, rid: str, loc: tuple[RowBlock, int]) -> None:
        block, row = loc
        self._blocks[block.block_id] = block
        self._codes[rid] = block.block_id << _SHIFT | row

    def values(self) -> Iterator[tuple[RowBlock, int]]:
        decode = self._decode
        return (decode(c) for c in self._codes.values())

    def clear(self) -> None:
        self._codes.clear()
        self._blocks.clear()

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
        for bid in block_ids:
            self._blocks.pop(bid, None)

    def shadowed(self, ids: Iterable[str]) -> list[str]:
        """Those of `ids` that already have a location (a C-level scan: opening many segments)."""
        return list(filter(self._codes.__contains__, ids))

    def code_block(self, rid: str) -> int | None:
        """The block_id of the id's current location (no tuple), or None."""
        code = self._codes.get(rid)
        return None if code is None else code >> _SHIFT

    def repoint(self, rid: str, block: RowBlock, row: int) -> None:
        self._codes[rid] = block.block_id << _SHIFT | row

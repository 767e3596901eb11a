"""One namespace: sealed blocks plus the active memtable, and the id -> (block, row) map.

Every method that reads or writes assumes the caller (the Store) holds its lock, except the parts of
a query that `Store` runs after capturing `BlockView`s. Writes are blind (put / delete of whole
records): updates arrive here already merged, which keeps WAL replay idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from spruce.engine.id_index import SHIFT
from spruce.engine.locations import Locations
from spruce.engine.rows import RowBlock
from spruce.engine.search import BlockView
from spruce.types import FloatArray, Record


class Namespace:
    def __init__(self, name: str, dimension: int, next_block_id: Any, memtable_rows: int = 0) -> None:
        self.name = name
        self._memtable_rows = memtable_rows
        self.dimension = dimension
        self._next_block_id = next_block_id
        self.sealed: list[RowBlock] = []
        self.memtable = RowBlock(dimension, block_id=next_block_id(), grow_to=memtable_rows)
        self.locations = Locations()
        self._sorted_ids: list[str] | None = None
        self.explicit = False  # created through create_namespace: survives being empty

    # -- state ------------------------------------------------------------------------------------
    @property
    def count(self) -> int:
        return len(self.locations)

    def blocks(self) -> list[RowBlock]:
        return [*self.sealed, self.memtable]

    def add_sealed(self, block: RowBlock) -> None:
        """Attach a sealed block when opening from disk; its alive rows become the current versions
        (found by hash, engine/id_index.py: no dict entry per id)."""
        self.sealed.append(block)
        self.locations.add_sealed(block)
        self._sorted_ids = None

    # -- writes -----------------------------------------------------------------------------------
    def put(self, records: Sequence[Record], dense: FloatArray | None = None) -> None:
        mt = self.memtable
        locations = self.locations
        for old in locations.get_many([rec.id for rec in records]):
            if old is not None:
                old[0].kill(old[1])
            else:
                self._sorted_ids = None
        first = mt.extend(records, dense)
        locations.set_range([rec.id for rec in records], mt, first)

    def delete(self, ids: Iterable[str]) -> int:
        n = 0
        for rid in ids:
            loc = self.locations.pop(rid, None)
            if loc is not None:
                loc[0].kill(loc[1])
                n += 1
                self._sorted_ids = None
        return n

    def delete_all(self) -> None:
        for block, row in self.locations.values():
            block.kill(row)
        self.locations.clear()
        self._sorted_ids = None

    def seal_memtable(self) -> RowBlock | None:
        """Freeze the memtable into a sealed block (searched exactly until its ANN index exists)."""
        mt = self.memtable
        if mt.n == 0:
            return None
        mt.sealed = True
        mt.sealed_at = time.monotonic()
        self.sealed.append(mt)
        self.memtable = RowBlock(self.dimension, block_id=self._next_block_id(), grow_to=self._memtable_rows)
        return mt

    def replace_blocks(self, old: Sequence[RowBlock], new: RowBlock) -> None:
        """Swap sealed blocks for one block holding their alive rows (segment write or compaction).

        `new` must hold exactly the rows of `old` that were alive when it was built, in order (plus, dead
        in `new` from the start, rows kept for a reused graph); rows that died since are killed in `new`
        here, so no delete is lost across the swap.
        """
        old_ids = {b.block_id for b in old}
        locations = self.locations
        ids = new.ids[: new.n]
        codes = locations.current_codes(ids)
        current = (codes >= 0) & np.isin(codes >> SHIFT, np.fromiter(old_ids, dtype=np.int64))
        # Rows dead already when built are left alone (kept so an extended graph's labels stay valid).
        alive = new.alive[: new.n].copy()
        for i in np.flatnonzero(alive & ~current).tolist():
            new.kill(i)  # deleted or overwritten while `new` was being built
        moved = np.flatnonzero(alive & current)
        locations.set_rows([ids[i] for i in moved.tolist()], new, moved)
        locations.forget_blocks(old_ids)
        keep = [b for b in self.sealed if b.block_id not in old_ids]
        pos = min((i for i, b in enumerate(self.sealed) if b.block_id in old_ids), default=len(keep))
        keep.insert(pos, new)
        self.sealed = keep

    # -- reads ------------------------------------------------------------------------------------
    def get(self, rid: str, *, values: bool = True, metadata: bool = True) -> Record | None:
        loc = self.locations.get(rid)
        if loc is None:
            return None
        return loc[0].record(loc[1], values=values, metadata=metadata)

    def sorted_ids(self) -> list[str]:
        if self._sorted_ids is None:
            self._sorted_ids = sorted(self.locations)
        return self._sorted_ids

    def views(self, flt: Any) -> list[BlockView]:
        out: list[BlockView] = []
        for block in self.blocks():
            n = block.n
            if n == 0 or block.live_count == 0:
                continue
            alive = block.alive[:n]
            rows = gathered = None
            if flt is None:
                count = block.live_count
                unfiltered = count == n
                # With every row alive no search reads `allowed`; otherwise copy it, so a delete
                # after the lock is released cannot change what this query sees.
                allowed = alive if unfiltered else alive.copy()
            else:
                unfiltered = False
                selection = block.select(flt, n)
                if selection is not None and selection.rows is not None:
                    # O(matching rows): the sorted index's rows, alive ones only (a fresh array
                    # unless all are alive: the index's own arrays are read-only).
                    rows = selection.rows
                    if block.live_count != n:
                        rows = rows[alive[rows]]
                    else:
                        gathered = block.hot_rows(flt, rows)
                    allowed = None
                    count = len(rows)
                else:
                    mask = selection.mask if selection is not None else None
                    allowed = alive & (block.filter_mask(flt, n) if mask is None else mask)
                    count = int(np.count_nonzero(allowed))
            out.append(
                BlockView(
                    block_key=block.block_id,
                    n=n,
                    dense=block.dense,
                    sq_norms=block.sq_norms,
                    sparse=block.sparse.snapshot(n),
                    allowed=allowed,
                    allowed_count=count,
                    all_alive_unfiltered=unfiltered,
                    ann=block.ann if block.sealed else None,
                    rows=rows,
                    inv_norms=block.inv_norms(),
                    gathered=gathered,
                )
            )
        return out

    def matching(self, flt: Any) -> list[tuple[RowBlock, int]]:
        """Alive (block, row) pairs that the parsed filter allows, in block order."""
        out: list[tuple[RowBlock, int]] = []
        for block in self.blocks():
            n = block.n
            if n == 0 or block.live_count == 0:
                continue
            allowed = block.alive[:n] & block.filter_mask(flt, n)
            out.extend((block, int(r)) for r in np.flatnonzero(allowed))
        return out

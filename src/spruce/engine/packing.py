"""What a checkpoint does with small blocks: puts them in one pack (pack.py) and folds each small
namespace into one block.

A checkpoint with at least PACK_MIN_BLOCKS small new blocks (at most PACK_MAX_ROWS rows, below the
HNSW threshold) writes them into one pack instead of a segment each. A namespace whose sealed blocks
are all that small is merged, in the same checkpoint, into one block of the pack (its alive rows at the
checkpoint's WAL position): a small namespace written in many checkpoints stays one block, and
compaction (which would write a segment directory per namespace) never has to touch it.

Phases, as the checkpoint's: `PackCheckpoint(...)` under the store lock (the snapshot), `write` with
no lock (merge, pack files, pack bitmaps; before the manifest), `install` under the lock after the
manifest (blocks switch to the pack's mapped views, merges swap in), or `failed` if nothing committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from spruce.engine import pack as packmod
from spruce.engine.lazy_meta import gather
from spruce.engine.manifest import BlockRef
from spruce.engine.namespace import Namespace
from spruce.engine.namespace_table import NamespaceTable
from spruce.engine.pack import Pack, Packs, pack_dir_name, write_pack
from spruce.engine.repack import namespaces_to_repack
from spruce.engine.rows import RowBlock
from spruce.engine.segment import write_alive
from spruce.engine.sparse import SparseRows
from spruce.types import BoolArray, IntArray


@dataclass(slots=True)
class _Merge:
    name: str
    ns: Namespace
    old: list[RowBlock]
    rows: list[IntArray]
    block_id: int
    merged: RowBlock | None = None


@dataclass(slots=True)
class PackCheckpoint:
    """One checkpoint's pack work (see the module docstring). Built under the store lock."""

    packs: Packs
    dimension: int
    pack_id: int = 0
    blocks: list[RowBlock | _Merge] = field(default_factory=list)  # the new pack's, in order
    segment_blocks: list[RowBlock] = field(default_factory=list)  # new blocks still written as segments
    merged_away: set[int] = field(default_factory=set)  # block ids no longer named after this checkpoint
    snapshots: dict[int, BoolArray] = field(default_factory=dict)  # new packed block -> alive at the LSN
    dirty_packs: dict[int, BoolArray] = field(default_factory=dict)  # existing pack -> alive at the LSN
    _cleared: list[RowBlock] = field(default_factory=list)
    _written: dict[int, str] = field(default_factory=dict)  # pack id -> bitmap written now
    _new_pack: Pack | None = None
    _table: NamespaceTable | None = None  # set when this checkpoint looked for packs to rewrite

    @classmethod
    def plan(
        cls,
        packs: Packs,
        dimension: int,
        table: NamespaceTable,
        new_blocks: list[RowBlock],
        small: Callable[[int], bool],
        new_id: Callable[[], int],
    ) -> PackCheckpoint:
        """Under the store lock, right after sealing: choose what goes into the pack."""
        self = cls(packs, dimension)
        namespaces = table.live
        new_ids = {b.block_id for b in new_blocks}

        def packable(b: RowBlock) -> bool:
            return b.ann is None and small(b.n)

        def foldable(ns: Namespace) -> bool:
            return small(sum(b.live_count for b in ns.sealed)) and all(packable(b) for b in ns.sealed)

        def fold(name: str, ns: Namespace) -> None:
            rows = [np.flatnonzero(b.alive[: b.n]) for b in ns.sealed]
            self.blocks.append(_Merge(name, ns, list(ns.sealed), rows, new_id()))
            self.merged_away.update(b.block_id for b in ns.sealed)

        small_new = [b for b in new_blocks if packable(b)]
        folded: set[str] = set()
        packed: set[int] = set()
        if len(small_new) >= packmod.PACK_MIN_BLOCKS:
            self.pack_id = new_id()
            for name, ns in namespaces.items():
                mine = [b for b in ns.sealed if b.block_id in new_ids and packable(b)]
                if not mine:
                    continue
                if len(ns.sealed) > 1 and foldable(ns):
                    fold(name, ns)
                    folded.add(name)
                    continue
                for b in mine:
                    self.blocks.append(b)
                    self.snapshots[b.block_id] = b.alive[: b.n].copy()
                    b.alive_dirty = False
                    self._cleared.append(b)
                    packed.add(b.block_id)
        # Namespaces of mostly-empty packs move into this checkpoint's pack (repack.py). The scan
        # reads every namespace (30 ms at 100,000), so it runs only when a pack may have lost rows:
        # a drop or compaction since the last scan, a death in a packed block, or a fold above
        # that takes a namespace's blocks out of an older pack.
        shrunk = (
            table.packs_shrunk
            or any(b.pack_id is not None for m in self.blocks if isinstance(m, _Merge) for b in m.old)
            or any(b.pack_id is not None and b.alive_dirty for ns in namespaces.values() for b in ns.sealed)
        )
        if shrunk:
            self._table = table
            moving, complete = namespaces_to_repack(packs, table, foldable, folded)
            for name in moving:
                woken = table.get(name, create=False)  # wakes a dormant one
                assert woken is not None
                if not self.pack_id:
                    self.pack_id = new_id()
                fold(name, woken)
            table.packs_shrunk = not complete  # the per-checkpoint cap left packs for the next one
        self.segment_blocks = [
            b for b in new_blocks if b.block_id not in packed and b.block_id not in self.merged_away
        ]
        # Existing packs that lost rows: one bitmap each, over all their rows.
        for ns in namespaces.values():
            for b in ns.sealed:
                if b.pack_id is not None and b.alive_dirty and b.block_id not in self.merged_away:
                    if b.pack_id not in self.dirty_packs:
                        self.dirty_packs[b.pack_id] = packs.by_id[b.pack_id].alive.copy()
                    b.alive_dirty = False
                    self._cleared.append(b)
        return self

    def handles(self, block: RowBlock) -> bool:
        """Whether this checkpoint takes care of the block's bitmap (the store writes no segment one)."""
        return (
            block.pack_id is not None
            or block.block_id in self.merged_away
            or block.block_id in self.snapshots
        )

    def layout(
        self, layout: dict[str, tuple[bool, list[BlockRef]]]
    ) -> dict[str, tuple[bool, list[BlockRef]]]:
        """The layout to commit: merged namespaces hold their one merged block (after `write`)."""
        for m in self.blocks:
            if isinstance(m, _Merge) and m.name in layout and layout[m.name][1] == m.old:
                assert m.merged is not None
                layout[m.name] = (layout[m.name][0], [m.merged] if m.merged.n else [])
        return layout

    def write(self, root: Path, seq: int) -> None:
        """Outside the lock, before the manifest: build merges, write the pack and the bitmaps."""
        blocks: list[RowBlock] = []
        for item in self.blocks:
            if isinstance(item, _Merge):
                item.merged = _merge(self.dimension, item.block_id, item.old, item.rows)
                blocks.append(item.merged)
            else:
                blocks.append(item)
        if blocks:
            pack_dir = write_pack(root, self.pack_id, blocks, self.dimension)
            alive_file = None
            snap = [self.snapshots.get(b.block_id) for b in blocks]
            if any(s is not None and not s.all() for s in snap):
                alive = np.concatenate(
                    [np.ones(b.n, np.bool_) if s is None else s for b, s in zip(blocks, snap, strict=True)]
                )
                alive_file = write_alive(pack_dir, alive, len(alive), seq)
            ids = [rid for b in blocks for rid in b.ids[: b.n]]
            self._new_pack = packmod.reopen_written(pack_dir, self.pack_id, alive_file, ids)
        for pid, alive in self.dirty_packs.items():
            self._written[pid] = write_alive(root / pack_dir_name(pid), alive, len(alive), seq)

    def pack_files(self, blocks: Iterable[BlockRef]) -> dict[int, str | None]:
        """Pack id -> bitmap for the manifest: the packs the layout's blocks live in, and the new one."""
        out = self.packs.alive_files(blocks)
        out.update((pid, f) for pid, f in self._written.items() if pid in out)
        if self._new_pack is not None:
            out[self.pack_id] = self._new_pack.alive_file
        return out

    def pack_of(self) -> dict[int, int]:
        """Block id -> pack id of the blocks the new pack holds (not yet marked on the blocks)."""
        if self._new_pack is None:
            return {}
        return {bid: self.pack_id for bid in self._new_pack.table}

    def install(self, namespaces: Mapping[str, Namespace]) -> None:
        """Under the lock, after the manifest: blocks move to the pack's views, merges swap in."""
        for pid, name in self._written.items():
            if pid in self.packs.by_id:
                self.packs.by_id[pid].alive_file = name
        pack = self._new_pack
        if pack is None:
            return
        self.packs.by_id[pack.pack_id] = pack
        for item in self.blocks:
            if isinstance(item, _Merge):
                assert item.merged is not None
                pack.attach(item.merged)
                ns = item.ns
                # Dropped (or recreated) since the snapshot: the manifest names the merge, the WAL
                # replays the drop; in memory the namespace has moved on.
                if namespaces.get(item.name) is ns and all(b in ns.sealed for b in item.old):
                    ns.replace_blocks(item.old, item.merged)
                    if item.merged.n == 0:
                        ns.sealed = [b for b in ns.sealed if b is not item.merged]
            else:
                pack.attach(item)
        pack.ids = []  # each block holds its own slice

    def failed(self) -> None:
        """Nothing committed: the bitmaps this checkpoint took over are to be written again, and the
        packs it would have rewritten are to be looked at again."""
        for b in self._cleared:
            b.alive_dirty = True
        if self._table is not None:
            self._table.packs_shrunk = True


def _merge(dimension: int, block_id: int, old: list[RowBlock], rows: list[IntArray]) -> RowBlock:
    """One sealed block holding the given rows of the given (small) blocks, in order."""
    ids = [blk.ids[r] for blk, rr in zip(old, rows, strict=True) for r in rr.tolist()]
    dense = (
        np.concatenate([blk.dense[rr] for blk, rr in zip(old, rows, strict=True)])
        if dimension
        else np.zeros((0, 0), dtype=np.float32)
    )
    norms = np.concatenate([blk.sq_norms[rr] for blk, rr in zip(old, rows, strict=True)])
    sparse = SparseRows.concat([blk.sparse.take(rr) for blk, rr in zip(old, rows, strict=True)])
    metadata = gather([(blk.metadata, rr.tolist()) for blk, rr in zip(old, rows, strict=True)])
    block = RowBlock(
        dimension,
        ids=ids,
        dense=dense,
        sq_norms=norms,
        sparse=sparse,
        metadata=metadata,
        sealed=True,
        block_id=block_id,
    )
    return block

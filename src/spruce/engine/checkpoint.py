"""Checkpoints: memtables become segments, and a manifest names them and the WAL position covered.

Under the store lock a checkpoint seals every memtable, plans which small blocks go into a pack
(packing.py), rotates the WAL and copies the deletion bitmaps that changed; outside it the segments,
packs and bitmaps are written (one syncfs for many files) and the manifest is committed; back under
the lock the written blocks are served from their mapped files. Only then is the WAL truncated below
the covered position, so a crash at any point leaves either the old manifest with the whole WAL or
the new one with its tail.
"""

from __future__ import annotations

import contextlib
from typing import Protocol

from spruce.config import EngineConfig
from spruce.engine.buffers import POOL
from spruce.engine.committed import LayoutHost
from spruce.engine.fsutil import one_sync_for
from spruce.engine.pack import PACK_MAX_ROWS, Packs
from spruce.engine.packing import PackCheckpoint
from spruce.engine.rows import RowBlock
from spruce.engine.segment import map_metadata, map_vectors, write_alive, write_segment
from spruce.engine.wal import Wal

# Segments plus bitmaps one checkpoint writes, from which one syncfs beats an fsync per file.
_ONE_SYNC_MIN_FILES = 4


class CheckpointHost(LayoutHost, Protocol):
    """What a checkpoint uses of its store, beyond what every layout writer does."""

    config: EngineConfig
    packs: Packs

    @property
    def wal(self) -> Wal | None: ...


def packable(rows: int, dimension: int, config: EngineConfig) -> bool:
    """Whether a block of this many rows is small enough for a pack: searched exactly (no graph)."""
    return rows <= PACK_MAX_ROWS and (not dimension or rows < config.ann_min_rows)


def checkpoint_to_disk(store: CheckpointHost) -> list[RowBlock]:
    """Write every memtable and changed bitmap, commit a manifest, truncate the WAL. Returns the blocks
    written as new segments (for their graphs). Raises OSError with nothing committed: the WAL still
    holds every write, and the next checkpoint writes the same again."""
    assert store.path is not None
    namespaces = store.table.live
    with store.maintenance_lock:
        with store.lock:
            store.check_open()
            lsn = store.applied_lsn
            # Blocks an earlier checkpoint sealed but failed to write (e.g. the disk was full) first.
            new_blocks: list[RowBlock] = [
                b for ns in namespaces.values() for b in ns.sealed if not b.persisted
            ]
            for ns in namespaces.values():
                sealed = ns.seal_memtable()
                if sealed is not None:
                    sealed.sealed_at = store.scheduler.clock()
                    new_blocks.append(sealed)
            # Small blocks of many namespaces go into one pack (engine/packing.py).
            plan = PackCheckpoint.plan(
                store.packs,
                store.dimension,
                store.table,
                new_blocks,
                lambda rows: packable(rows, store.dimension, store.config),
                store.new_block_id,
            )
            new_blocks = plan.segment_blocks
            wal = store.wal
            assert wal is not None
            wal.rotate()
            store.committed.seq += 1
            seq = store.committed.seq
            dirty = [
                (b, b.alive[: b.n].copy())
                for ns in namespaces.values()
                for b in ns.sealed
                if (b.alive_dirty or not b.persisted) and not plan.handles(b)
            ]
            for b, _ in dirty:
                b.alive_dirty = False
            layout = store.table.layout()
        root = store.path / "segments"
        try:
            alive_files: dict[int, str] = {}
            # Many files (many small namespaces): one syncfs for all of them before the manifest.
            many = (
                len(new_blocks) + len(dirty) + len(plan.dirty_packs) + len(plan.blocks) >= _ONE_SYNC_MIN_FILES
            )
            with one_sync_for(root) if many else contextlib.nullcontext():
                plan.write(root, seq)
                for block in new_blocks:
                    write_segment(root, block)
                for block, alive in dirty:
                    alive_files[block.block_id] = write_alive(
                        root / f"{block.block_id:012d}", alive, block.n, seq
                    )
            layout = plan.layout(layout)
            store.committed.write(layout, lsn, store.next_block, alive_files, plan)
        except BaseException:
            # Nothing was committed: the WAL still holds it all. The next checkpoint must write
            # these bitmaps again, or deletions would come back once the WAL is truncated.
            with store.lock:
                for b, _ in dirty:
                    b.alive_dirty = True
                plan.failed()
            raise
        with store.lock:
            for block in new_blocks:
                block.persisted = True
                # Serve the sealed rows from the page cache instead of the heap copy, and let
                # the next memtable reuse that copy's memory.
                heap = block.dense
                block.dense = map_vectors(root / f"{block.block_id:012d}")
                block.metadata = map_metadata(root / f"{block.block_id:012d}")
                POOL.release(heap)
                del heap
            # The snapshot's own blocks, not a lookup in the live namespaces: a namespace
            # dropped since the snapshot still has its blocks named in the manifest just written.
            for block, _ in dirty:
                block.alive_file = alive_files[block.block_id]
            plan.install(namespaces)
        wal.truncate_before(lsn + 1)
        store.committed.sweep(layout)
    return new_blocks

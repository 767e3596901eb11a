"""Compaction: merge a namespace's small or mostly-dead segments into one, dropping dead rows.

Runs under the store's maintenance lock (never concurrently with a checkpoint), reading a snapshot
of alive rows under the store lock and building the new segment (and its HNSW graph) outside it, so
reads and writes go on meanwhile. The swap kills rows that died during the build, and the manifest
keeps the previous checkpoint position: every write since then is replayed from the WAL after a
crash, which re-applies exactly those deaths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from spruce.engine.rows import RowBlock
from spruce.engine.segment import write_segment

if TYPE_CHECKING:
    from spruce.engine.store import Store

_DEAD_FRACTION = 0.5


def _pick(blocks: list[RowBlock], max_segments: int) -> list[RowBlock]:
    persisted = [b for b in blocks if b.persisted or b.n > 0]
    dead_heavy = [b for b in persisted if b.n and b.live_count < (1 - _DEAD_FRACTION) * b.n]
    if len(persisted) <= max_segments:
        return dead_heavy if dead_heavy else []
    by_size = sorted(persisted, key=lambda b: b.live_count)
    extra = len(persisted) - max_segments // 2
    chosen = {b.block_id: b for b in by_size[: max(extra, 2)]}
    for b in dead_heavy:
        chosen[b.block_id] = b
    return list(chosen.values())


def compact_namespaces(store: Store) -> int:
    """Compact every namespace that needs it; returns how many merges were done."""
    done = 0
    for name in list(store.namespaces):
        if compact_namespace(store, name):
            done += 1
    return done


def compact_namespace(store: Store, name: str, force: bool = False) -> bool:
    with store.maintenance_lock:
        with store.lock:
            ns = store.namespaces.get(name)
            if ns is None:
                return False
            if store.path is not None and any(not b.persisted for b in ns.sealed):
                return False
            old = (
                list(ns.sealed)
                if force and len(ns.sealed) > 1
                else _pick(ns.sealed, store.config.compaction_min_segments)
            )
            if not old:
                return False
            new = RowBlock(store.dimension, block_id=store.new_block_id())
            for block in old:
                for row in np.flatnonzero(block.alive[: block.n]):
                    new.append(block.record(int(row)))
            new.sealed = True
        if store.path is not None and new.n:
            seg_dir = write_segment(store.path / "segments", new)
            new.persisted = True
            new.dense = np.load(seg_dir / "vectors.npy", mmap_mode="r", allow_pickle=False)
        if new.n >= store.config.ann_min_rows and store.dimension:
            store.build_ann(new)
        with store.lock:
            ns = store.namespaces.get(name)
            if ns is None:
                return False
            ns.replace_blocks(old, new)
            if new.n == 0:
                ns.sealed = [b for b in ns.sealed if b is not new]
        if store.path is not None:
            store.commit_layout()
        return True

"""Compaction: merge a namespace's small or mostly-dead segments into one, dropping dead rows.

Runs under the store's maintenance lock (never concurrently with a checkpoint), reading a snapshot
of alive rows under the store lock and building the new segment (and its HNSW graph) outside it, so
reads and writes go on meanwhile. The swap kills rows that died during the build, and the manifest
keeps the previous checkpoint position: every write since then is replayed from the WAL after a
crash, which re-applies exactly those deaths.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from spruce.engine.rows import RowBlock
from spruce.engine.segment import map_vectors, write_segment

if TYPE_CHECKING:
    from spruce.engine.store import Store

_DEAD_FRACTION = 0.5
_FANIN = 4  # segments of one size tier merged at a time: each row is rewritten ~log4(n / memtable) times
_MAX_ROUNDS = 8


def _tier(live: int, memtable_rows: int) -> int:
    if live <= memtable_rows:
        return 0
    return int(math.log(live / max(memtable_rows, 1), _FANIN))


def _pick(blocks: list[RowBlock], memtable_rows: int, max_segments: int) -> list[RowBlock]:
    """Tiered merging: merge when a size tier holds _FANIN segments; also rewrite mostly-dead ones.

    Fewer, larger segments mean fewer HNSW searches per query; tiers keep the total rewrite cost
    logarithmic instead of quadratic in the namespace size.
    """
    candidates = [b for b in blocks if b.n > 0]
    dead_heavy = [b for b in candidates if b.live_count < (1 - _DEAD_FRACTION) * b.n]
    tiers: dict[int, list[RowBlock]] = {}
    for b in candidates:
        tiers.setdefault(_tier(b.live_count, memtable_rows), []).append(b)
    for tier in sorted(tiers):
        if len(tiers[tier]) >= _FANIN:
            chosen = {b.block_id: b for b in tiers[tier]}
            chosen.update((b.block_id, b) for b in dead_heavy)
            return list(chosen.values())
    if dead_heavy:
        return dead_heavy
    if len(candidates) > max_segments:
        by_size = sorted(candidates, key=lambda b: b.live_count)
        return by_size[: max(2, len(candidates) - max_segments + 1)]
    return []


def compact_namespaces(store: Store) -> int:
    """Compact every namespace until no tier is full; returns how many merges were done."""
    done = 0
    for name in list(store.namespaces):
        for _ in range(_MAX_ROUNDS):
            if not compact_namespace(store, name):
                break
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
            if force and len(ns.sealed) > 1:
                old = list(ns.sealed)
            else:
                old = _pick(ns.sealed, store.config.memtable_max_rows, store.config.compaction_min_segments)
            if not old:
                return False
            # Keep the graph of the largest input with no dead rows: its rows go first, unchanged, so
            # its HNSW labels stay valid and only the other inputs are inserted.
            base = max(
                (b for b in old if b.ann is not None and b.live_count == b.n),
                key=lambda b: b.n,
                default=None,
            )
            ordered = ([base] if base is not None else []) + [b for b in old if b is not base]
            new = RowBlock(store.dimension, block_id=store.new_block_id())
            for block in ordered:
                rows = np.flatnonzero(block.alive[: block.n])
                if len(rows):
                    new.extend([block.record(int(r)) for r in rows])
            base_rows = base.n if base is not None else 0
            base_ann = base.ann if base is not None else None
            new.sealed = True
        if store.path is not None and new.n:
            seg_dir = write_segment(store.path / "segments", new)
            new.persisted = True
            new.dense = map_vectors(seg_dir)
        if new.n >= store.config.ann_min_rows and store.dimension:
            if base_ann is not None:
                store.attach_ann(new, base_ann.extended(new.dense[base_rows : new.n]))
            else:
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

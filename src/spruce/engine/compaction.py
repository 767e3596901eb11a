"""Compaction: merge a namespace's small or mostly-dead segments into one, dropping dead rows.

One compaction runs at a time. It takes a snapshot of the inputs' alive rows under the store lock and
builds the new segment (and its HNSW graph) with no lock held, so reads, writes and checkpoints go
on meanwhile; the new directory is marked pending so a checkpoint's sweep leaves it alone. The swap
runs under the maintenance lock (no checkpoint in between): it kills rows that died during the build,
writes their bitmap, and commits a manifest at the previous checkpoint position, so every write since
then is replayed from the WAL after a crash.
"""

from __future__ import annotations

import math
import shutil
import threading
from pathlib import Path
from typing import Protocol

import numpy as np

from spruce.config import EngineConfig
from spruce.engine.committed import CommittedLayout
from spruce.engine.graphs import GraphKeeper
from spruce.engine.lazy_ids import take_ids
from spruce.engine.lazy_meta import gather
from spruce.engine.maintenance import Scheduler
from spruce.engine.merge_write import write_merged
from spruce.engine.namespace import Namespace
from spruce.engine.namespace_table import NamespaceTable
from spruce.engine.rows import RowBlock
from spruce.engine.segment import map_vectors, write_alive, write_segment
from spruce.engine.sparse import SparseRows
from spruce.types import IntArray


class Store(Protocol):
    """What compaction uses of the store it merges segments in (engine/store.py's Store)."""

    path: Path | None
    dimension: int
    config: EngineConfig
    lock: threading.RLock
    maintenance_lock: threading.Lock
    compaction_lock: threading.Lock
    namespaces: dict[str, Namespace]
    table: NamespaceTable
    committed: CommittedLayout  # pending segment dirs, checkpoint sequence
    graphs: GraphKeeper
    scheduler: Scheduler  # builds yield to foreground writes

    def new_block_id(self) -> int: ...
    def commit_layout(self) -> None: ...


_DEAD_FRACTION = 0.5
_FANIN = 4  # segments of one size tier merged at a time: each row is rewritten ~log4(n / memtable) times
_MAX_ROUNDS = 8
# Largest dead fraction of an input whose graph a merge still extends (see graph_to_keep).
_KEEP_GRAPH_MAX_DEAD = 0.2


def graph_to_keep(inputs: list[RowBlock]) -> RowBlock | None:
    """The input whose HNSW graph a merge extends instead of building one from scratch: the largest
    with a graph and at most _KEEP_GRAPH_MAX_DEAD of its rows dead (None: build afresh).

    Its dead rows move to the output as dead rows, so the graph's labels stay the output's row numbers
    and the alive mask keeps them out of results, as in any segment with deletes. Kept, they cost disk,
    memory and a wider beam (a filter-like search over mostly-alive rows); past the threshold a fresh
    build over the alive rows alone is worth its price (see docs/benchmarks.md, "Graph builds").
    """
    usable = [
        b
        for b in inputs
        if b.ann is not None and b.n > 0 and (b.n - b.live_count) <= _KEEP_GRAPH_MAX_DEAD * b.n
    ]
    return max(usable, key=lambda b: b.n, default=None)


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
    """Merge some of the namespace's segments (all of them with `force`) into one.

    Only the pick and the final swap hold locks. Sealed rows never change (only `alive` does), so the
    new segment and its graph are built from a snapshot of the inputs' alive rows while writes,
    queries and checkpoints go on; the swap then kills the rows that died meanwhile.
    """
    # A forced merge (flush) waits its turn; routine ones skip while another compaction runs (it, or
    # the next round, covers this namespace too).
    if not store.compaction_lock.acquire(blocking=force):
        return False
    try:
        return _compact(store, name, force)
    finally:
        store.compaction_lock.release()


def _compact(store: Store, name: str, force: bool) -> bool:
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
        base = graph_to_keep(old)
        ordered = ([base] if base is not None else []) + [b for b in old if b is not base]
        # The kept graph's rows go first, every one of them (dead ones stay dead), so its HNSW labels
        # stay valid and only the other inputs' alive rows are inserted.
        snapshot = [
            (block, np.arange(block.n) if block is base else np.flatnonzero(block.alive[: block.n]))
            for block in ordered
        ]
        base_rows = base.n if base is not None else 0
        base_dead = np.flatnonzero(~base.alive[:base_rows]) if base is not None else np.zeros(0, np.int64)
        base_ann = base.ann if base is not None else None
        new_id = store.new_block_id()
        dir_name = f"{new_id:012d}"
        store.committed.pending_dirs.add(dir_name)
    try:
        total = sum(len(rows) for _, rows in snapshot)
        if store.path is not None and store.dimension and total:
            # Streamed into its file: no heap copy of the merged vectors (merge_write.py).
            new = write_merged(store.path / "segments", store.dimension, new_id, snapshot)
        else:
            new = _merged_block(store.dimension, new_id, snapshot)
            if store.path is not None and new.n:
                seg_dir = write_segment(store.path / "segments", new)
                new.persisted = True
                new.dense = map_vectors(seg_dir)
        # Dead rows carried over with the kept graph: searched past by the alive mask as ever.
        for row in base_dead.tolist():
            new.kill(row)
        if store.graphs.needs_ann(new):
            if base_ann is not None:
                step = store.graphs.build_step(store.scheduler.yield_to_writes)
                grown = base_ann.extended(new.dense[: new.n], step, store.config.ann_target_recall)
                store.graphs.attach_ann(new, grown)
            else:
                store.graphs.build_ann(new, pause=store.scheduler.yield_to_writes)
        # The maintenance lock keeps checkpoints out until the manifest names the new layout: a
        # checkpoint in between could record deaths only in the old segments' bitmaps.
        with store.maintenance_lock:
            with store.lock:
                if store.namespaces.get(name) is not ns or any(b not in ns.sealed for b in old):
                    return False  # dropped or recreated meanwhile: the new segment is swept below
                ns.replace_blocks(old, new)
                if any(b.pack_id is not None for b in old):
                    store.table.packs_shrunk = True  # the next checkpoint looks at that pack
                if new.n == 0:
                    ns.sealed = [b for b in ns.sealed if b is not new]
                alive = new.alive[: new.n].copy() if new.live_count < new.n else None
                new.alive_dirty = False
            if store.path is not None:
                if alive is not None and new.n:
                    # Rows that died during the build, some perhaps before the last checkpoint
                    # (whose WAL is gone): the bitmap must be on disk before the manifest names it.
                    new.alive_file = write_alive(
                        store.path / "segments" / dir_name, alive, new.n, store.committed.seq
                    )
                store.committed.pending_dirs.discard(dir_name)
                store.commit_layout()
        return True
    finally:
        if dir_name in store.committed.pending_dirs:
            store.committed.pending_dirs.discard(dir_name)
            if store.path is not None:
                shutil.rmtree(store.path / "segments" / dir_name, ignore_errors=True)


def _merged_block(dimension: int, block_id: int, parts: list[tuple[RowBlock, IntArray]]) -> RowBlock:
    """One sealed block holding the given rows of the given blocks, in order (vectorised gathers)."""
    ids: list[str] = []
    total = sum(len(rows) for _, rows in parts)
    # Gathered straight into one array (not parts + concatenate): a merge's peak is 1x its vectors.
    dense = np.empty((total, dimension), dtype=np.float32) if dimension else None  # None: sparse
    norms = np.empty(total, dtype=np.float32)
    sparse_parts = []
    pos = 0
    for block, rows in parts:
        ids.extend(take_ids(block.ids, rows))
        end = pos + len(rows)
        if dense is not None:
            np.take(block.dense, rows, axis=0, out=dense[pos:end], mode="clip")  # clip: unbuffered
        np.take(block.sq_norms, rows, out=norms[pos:end], mode="clip")
        sparse_parts.append(block.sparse.take(rows))
        pos = end
    metadata = gather([(block.metadata, rows.tolist()) for block, rows in parts])
    return RowBlock(
        dimension,
        ids=ids,
        dense=dense,
        sq_norms=norms,
        sparse=SparseRows.concat(sparse_parts),
        metadata=metadata,
        sealed=True,
        block_id=block_id,
    )

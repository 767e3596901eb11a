"""Storage for one index: WAL + per-namespace memtables and segments + manifest + background work.

Write path: under the store lock a write is framed into the WAL (not yet fsync'd) and applied to the
memtable, so WAL order is apply order; outside the lock the writer waits for the WAL's group commit
to make its frame durable, then returns. Concurrent writers share fsyncs.

Checkpoint: memtables are sealed, written as immutable segments with their deletion bitmaps, and a
new manifest naming them and the covered WAL position replaces the old one atomically; WAL files
wholly below that position are deleted. Opening reads the manifest, memory-maps segments (and their
saved HNSW graphs) and replays only the WAL tail.

Directory layout: `wal/` (see wal.py), `segments/<block>/` (see segment.py), `manifest.json`.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spruce.config import EngineConfig
from spruce.engine import codec
from spruce.engine.ann import AnnIndex
from spruce.engine.buffers import POOL
from spruce.engine.compaction import compact_namespace, compact_namespaces
from spruce.engine.dormant import Dormant, dormant
from spruce.engine.fsutil import fsync_dir, one_sync_for
from spruce.engine.graphs import GRAPH_FILE, GraphKeeper
from spruce.engine.maintenance import Scheduler, Worker, wait_all_idle
from spruce.engine.manifest import (
    BlockRef,
    Manifest,
    read_manifest,
    remove_unnamed,
    segment_dir,
    sweep,
    write_manifest,
)
from spruce.engine.namespace import Namespace
from spruce.engine.pack import PACK_MAX_ROWS, Packs, pack_dir_name
from spruce.engine.packing import PackCheckpoint
from spruce.engine.recovery import record_recovery
from spruce.engine.rows import RowBlock
from spruce.engine.search import QuerySpec, merge_top_k, search_block
from spruce.engine.segment import (
    graph_trusted,
    map_metadata,
    map_vectors,
    read_segment,
    write_alive,
    write_segment,
)
from spruce.engine.stats import NamespaceStorage, StoreStats
from spruce.engine.wal import RecoveryReport, Wal, disk_full
from spruce.errors import (
    AlreadyExistsError,
    ClosedError,
    DiskFullError,
    InvalidArgumentError,
)
from spruce.types import FloatArray, Match, Record

if TYPE_CHECKING:
    from spruce.engine.bulk import BulkSegment, NamespaceWriter
    from spruce.engine.snapshot import FrozenFiles

log = logging.getLogger("spruce.engine")

# Segments plus bitmaps one checkpoint writes, from which one syncfs beats an fsync per file.
_ONE_SYNC_MIN_FILES = 4
_WAL_CHECKPOINT_BYTES = 512 * 1024 * 1024


class Store:
    def __init__(self, path: Path | None, dimension: int, metric: str, config: EngineConfig) -> None:
        self.path = path
        self.dimension = dimension
        self.metric = metric
        self.config = config
        self._lock = threading.RLock()
        self._maintenance = threading.Lock()  # one checkpoint or compaction at a time
        self._namespaces: dict[str, Namespace] = {}
        # Opened from a pack but not built yet (dormant.py): woken by the first access that names one.
        self._dormant: dict[str, Dormant] = {}
        self._next_block = 1
        self._applied_lsn = 0
        self._manifest_lsn = 0  # WAL position the manifest on disk covers
        self._checkpoint_seq = 0
        self._closed = False
        self._closing = False  # set first in close(), so long background builds stop early
        self._wal: Wal | None = None
        self._worker: Worker | None = None
        self._ann_worker: Worker | None = None
        self.graphs = GraphKeeper(
            path, dimension, metric, config, self._lock, lambda: self._closing, self._all_cores
        )
        self.scheduler = Scheduler(
            config,
            self._lock,
            lambda: self._namespaces.values(),
            self.graphs,
            lambda: compact_namespaces(self),
            lambda: self._closing,
            persisted=path is not None,
        )
        self._compacting = threading.Lock()  # one compaction at a time
        self._pending_dirs: set[str] = set()  # segment dirs a compaction is writing (kept by sweeps)
        self.packs = Packs()  # packs of small blocks (engine/pack.py), opened once each
        self._sorted_names: list[str] | None = None  # for paging 100,000 namespaces without a sort a page
        # Imported namespaces: WAL position at their publication. Older WAL ops on such a namespace
        # were undone before it (it did not exist then) and must not be replayed onto it.
        self._replay_floor: dict[str, int] = {}
        # What opening the WAL found; `damage` is non-empty when recovery skipped corrupt frames.
        self.recovery: RecoveryReport | None = None
        if path is not None:
            # Opening allocates objects (the manifest's entries, dormant namespaces, id maps) and
            # frees almost none: the collector's passes over them were half of parsing a 100,000
            # namespace manifest. Nothing here makes reference cycles worth collecting meanwhile.
            collecting = gc.isenabled()
            gc.disable()
            try:
                self._open_from_disk(path)
            finally:
                if collecting:
                    gc.enable()
        if config.background:
            # Separate threads: a long HNSW build must not hold back the next checkpoint, or the
            # memtable (searched exactly) would grow far past its size limit meanwhile.
            self._worker = Worker("spruce-checkpoint", lambda _: self.checkpoint())
            self._ann_worker = Worker("spruce-ann", self._background_task)
            self.scheduler.background = True
        # Segments whose HNSW build had not finished (or was cut short by a close or crash), and
        # memory-mapped graphs to bring into RAM. Opening never merges segments by itself.
        opened = [b for ns in self._namespaces.values() for b in ns.sealed]
        if self._ann_worker is None:
            for block in opened:
                if self.graphs.needs_ann(block):
                    self.graphs.build_ann(block)
        elif opened:
            self._ann_worker.request("maintain")
            for block in opened:
                if block.ann is not None and block.ann.mapped:
                    self._ann_worker.request(("load", block))
        if self.recovery is not None and self.recovery.damage:
            # Put the recovered frames in segments now, so the damaged WAL files are deleted and the
            # next open (in any recovery mode) finds nothing left to skip.
            self.checkpoint()

    # -- opening ----------------------------------------------------------------------------------
    def _block_id(self) -> int:
        bid = self._next_block
        self._next_block += 1
        return bid

    def _ns(self, name: str, create: bool) -> Namespace | None:
        ns = self._namespaces.get(name)
        if ns is None and name in self._dormant:
            ns = self._wake(name)
        if ns is None and create:
            ns = Namespace(name, self.dimension, self._block_id, self.config.memtable_max_rows)
            self._namespaces[name] = ns
            self._sorted_names = None
        return ns

    def _wake(self, name: str) -> Namespace:
        d = self._dormant.pop(name)
        ns = Namespace(name, self.dimension, self._block_id, self.config.memtable_max_rows)
        ns.explicit = d.explicit
        ns.add_sealed(self.packs.by_id[d.ref.pack_id].block(d.ref.block_id))
        self._namespaces[name] = ns
        return ns

    def _layout(self) -> dict[str, tuple[bool, list[BlockRef]]]:
        """Every namespace's blocks as the manifest records them (dormant ones by their stand-in)."""
        layout: dict[str, tuple[bool, list[BlockRef]]] = {
            name: (ns.explicit, list(ns.sealed)) for name, ns in self._namespaces.items()
        }
        for name, d in self._dormant.items():
            layout[name] = (d.explicit, [d.ref])
        return layout

    def _open_from_disk(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        (path / "segments").mkdir(exist_ok=True)
        manifest = read_manifest(path) or Manifest()
        checkpoint_lsn = manifest.checkpoint_lsn
        self._next_block = manifest.next_block_id
        self._checkpoint_seq = manifest.seq
        live_dirs: set[str] = set()
        segments = path / "segments"
        for name, entry in manifest.namespaces.items():
            if entry.replay_after > checkpoint_lsn:
                self._replay_floor[name] = entry.replay_after
            if len(entry.segments) == 1 and entry.segments[0][0] in entry.packed:
                # One packed block: stays dormant (no Namespace until something names it).
                only = entry.segments[0][0]
                pid = entry.packed[only]
                pack = self.packs.open(segments, pid, manifest.packs.get(pid))
                live_dirs.add(pack_dir_name(pid))
                self._dormant[name] = dormant(pack, only, entry.explicit)
                continue
            ns = self._ns(name, create=True)
            assert ns is not None
            ns.explicit = entry.explicit
            for block_id, alive_file in entry.segments:
                pack_id = entry.packed.get(block_id)
                if pack_id is not None:
                    # One open (checksums, one Arrow reader) per pack, not per block.
                    pack = self.packs.open(segments, pack_id, manifest.packs.get(pack_id))
                    live_dirs.add(pack_dir_name(pack_id))
                    ns.add_sealed(pack.block(block_id))
                    continue
                seg_dir = segment_dir(path, block_id)
                live_dirs.add(seg_dir.name)
                block = read_segment(seg_dir, block_id, alive_file)
                block.persisted = True
                block.alive_file = alive_file
                ann_path = seg_dir / GRAPH_FILE
                if ann_path.exists() and graph_trusted(seg_dir):
                    block.ann = AnnIndex.load(ann_path, self.metric)
                ns.add_sealed(block)
        for pack in self.packs.by_id.values():
            pack.ids = []  # each block holds its own slice
        remove_unnamed(path, live_dirs)
        wal, report = Wal.open(
            path / "wal",
            fsync=self.config.fsync,
            recovery=self.config.wal_recovery,
            covered_lsn=checkpoint_lsn,
        )
        self.recovery = report
        if report.torn_bytes:
            log.warning("WAL had a torn tail of %d bytes (kept in %s)", report.torn_bytes, report.quarantined)
        if report.lost_frames:
            log.error(
                "index %s opened with wal_recovery=%s: %d acknowledged WAL frame(s) were unreadable and "
                "are lost (recorded in %s)",
                path,
                self.config.wal_recovery,
                report.lost_frames,
                record_recovery(path, report, self.config.wal_recovery),
            )
        self._wal = wal
        self._applied_lsn = checkpoint_lsn
        self._manifest_lsn = checkpoint_lsn
        for lsn, payload in wal.replay(after_lsn=checkpoint_lsn):
            op = codec.decode(payload)
            if lsn > self._replay_floor.get(op.namespace, 0):
                self._apply(op)
            self._applied_lsn = lsn

    # -- writes -----------------------------------------------------------------------------------
    def _apply(self, op: codec.Op) -> None:
        if op.code == codec.PUT:
            ns = self._ns(op.namespace, create=True)
            assert ns is not None
            ns.put(op.records, op.dense)
        elif op.code == codec.DELETE:
            ns = self._ns(op.namespace, create=False)
            if ns is not None:
                ns.delete(op.ids)
                if ns.count == 0 and not ns.explicit:
                    self._drop(op.namespace)
        elif op.code == codec.DROP_NAMESPACE:
            self._drop(op.namespace)
        elif op.code == codec.CREATE_NAMESPACE:
            ns = self._ns(op.namespace, create=True)
            assert ns is not None
            ns.explicit = True

    def _drop(self, name: str) -> None:
        if self._dormant.pop(name, None) is not None:
            self._sorted_names = None
            return
        ns = self._namespaces.pop(name, None)
        if ns is not None:
            self._sorted_names = None
            ns.delete_all()

    def _write(self, payload: bytes | codec.Parts, op: codec.Op) -> None:
        """Log then apply under the lock; wait for durability outside it (group commit)."""
        with self._lock:
            lsn, need_checkpoint = self._log_and_apply(payload, op)
        self._settle(lsn, need_checkpoint)

    def _log_and_apply(self, payload: bytes | codec.Parts, op: codec.Op) -> tuple[int, bool]:
        """Under the lock: frame the op into the WAL (not yet durable) and apply it. Returns its LSN
        and whether a checkpoint is due, for `_settle` once the lock is released."""
        self._check_open()
        lsn = 0
        if self._wal is not None:
            lsn = self._wal.write(payload)
        self._apply(op)
        self._applied_lsn = max(self._applied_lsn, lsn)
        self.scheduler.note_write()
        return lsn, self._needs_checkpoint(op.namespace)

    def _settle(self, lsn: int, need_checkpoint: bool) -> None:
        """Outside the lock: wait until the write is durable, then ask for a checkpoint if one is due.
        With the lock held, the fsync would hold back every other writer and reader, and an inline
        checkpoint (no background worker) would take the maintenance lock after the store lock, the
        opposite of the checkpoint's own order: two writers could deadlock."""
        if self._wal is not None:
            self._wal.sync(lsn)
        if need_checkpoint:
            self._request_checkpoint()

    def _needs_checkpoint(self, namespace: str) -> bool:
        ns = self._ns(namespace, create=False)
        if ns is not None and ns.memtable.n >= self.config.memtable_max_rows:
            return True
        return self._wal is not None and self._wal.size_bytes > _WAL_CHECKPOINT_BYTES

    def put(self, namespace: str, records: Sequence[Record], dense: FloatArray | None = None) -> None:
        """Upsert whole records; `dense` optionally holds their values stacked in order."""
        if not records:
            return
        payload = codec.encode_put_parts(namespace, records, self.dimension, dense) if self.path else b""
        self._write(payload, codec.Op(codec.PUT, namespace, list(records), [], dense))

    def delete(self, namespace: str, ids: Sequence[str]) -> None:
        payload = codec.encode_ids(codec.DELETE, namespace, ids) if self.path else b""
        self._write(payload, codec.Op(codec.DELETE, namespace, [], list(ids)))

    def drop_namespace(self, namespace: str) -> None:
        payload = codec.encode_ids(codec.DROP_NAMESPACE, namespace) if self.path else b""
        self._write(payload, codec.Op(codec.DROP_NAMESPACE, namespace, [], []))

    def create_namespace(self, namespace: str) -> None:
        payload = codec.encode_ids(codec.CREATE_NAMESPACE, namespace) if self.path else b""
        self._write(payload, codec.Op(codec.CREATE_NAMESPACE, namespace, [], []))

    def read_modify_write(
        self, namespace: str, select: Callable[[Namespace], list[Record]], dry_run: bool = False
    ) -> int:
        """Compute after-images from current records and write them as one atomic PUT.

        `select` runs under the lock, so no other write interleaves between the read and the write.
        """
        with self._lock:
            ns = self._ns(namespace, create=False)
            if ns is None:
                return 0
            records = select(ns)
            if dry_run or not records:
                return len(records)
            payload = codec.encode_put(namespace, records, self.dimension) if self.path else b""
            lsn, need_checkpoint = self._log_and_apply(payload, codec.Op(codec.PUT, namespace, records, []))
        self._settle(lsn, need_checkpoint)
        return len(records)

    def delete_matching(self, namespace: str, flt: Any) -> int:
        with self._lock:
            ns = self._ns(namespace, create=False)
            if ns is None:
                return 0
            ids = [block.ids[row] for block, row in ns.matching(flt)]
            if not ids:
                return 0
            payload = codec.encode_ids(codec.DELETE, namespace, ids) if self.path else b""
            lsn, need_checkpoint = self._log_and_apply(payload, codec.Op(codec.DELETE, namespace, [], ids))
        self._settle(lsn, need_checkpoint)
        return len(ids)

    # -- reads ------------------------------------------------------------------------------------
    def namespace_counts(self) -> dict[str, int]:
        with self._lock:
            return self._counts()

    def _counts(self) -> dict[str, int]:
        counts = {name: ns.count for name, ns in self._namespaces.items()}
        counts.update((name, d.count) for name, d in self._dormant.items())
        return counts

    def namespace_page(
        self, prefix: str, after: str | None, limit: int
    ) -> tuple[list[tuple[str, int]], bool, int]:
        """Up to `limit` (name, count) in name order after `after`, among names starting with
        `prefix`; whether more follow; how many names have the prefix. Bisects a sorted list kept
        until a namespace appears or goes, so a page costs its own size, not a sort of them all."""
        with self._lock:
            names = self._sorted_names
            if names is None:
                names = self._sorted_names = sorted([*self._namespaces, *self._dormant])
            lo = bisect.bisect_left(names, prefix)
            # Names with the prefix are one run from `lo`: bisect for its end on a monotone key.
            hi = bisect.bisect_left(names, True, lo, key=lambda n: not n.startswith(prefix))
            start = max(lo, bisect.bisect_right(names, after)) if after is not None else lo
            page = names[start : min(start + limit, hi)]
            return [(n, self._count(n)) for n in page], start + limit < hi, hi - lo

    def has_namespace(self, namespace: str) -> bool:
        with self._lock:
            return namespace in self._namespaces or namespace in self._dormant

    def _count(self, name: str) -> int:
        ns = self._namespaces.get(name)
        return ns.count if ns is not None else self._dormant[name].count

    def count_matching(self, namespace: str, flt: Any) -> int:
        with self._lock:
            ns = self._ns(namespace, create=False)
            if ns is None:
                return 0
            if flt is None:
                return ns.count
            return sum(int((b.alive[: b.n] & b.filter_mask(flt, b.n)).sum()) for b in ns.blocks() if b.n)

    def fetch(self, namespace: str, ids: Sequence[str]) -> dict[str, Record]:
        with self._lock:
            ns = self._ns(namespace, create=False)
            if ns is None:
                return {}
            out: dict[str, Record] = {}
            for rid in ids:
                rec = ns.get(rid)
                if rec is not None:
                    out[rid] = rec
            return out

    def with_namespace(self, namespace: str, fn: Callable[[Namespace | None], Any]) -> Any:
        """Run `fn` on the namespace under the lock (for paging reads that need a consistent view)."""
        with self._lock:
            return fn(self._ns(namespace, create=False))

    def query(
        self, namespace: str, spec: QuerySpec, flt: Any, include_values: bool, include_metadata: bool
    ) -> list[Match]:
        with self._lock:
            self._check_open()
            ns = self._ns(namespace, create=False)
            if ns is None:
                return []
            views = ns.views(flt)
            blocks = {b.block_id: b for b in ns.blocks()}
        parts = []
        for view in views:
            rows, scores, keys = search_block(view, spec)
            if len(rows):
                parts.append((view.block_key, rows, scores, keys))
        top = merge_top_k(parts, spec.top_k)
        out: list[Match] = []
        for block_key, row, score in top:
            block = blocks[block_key]
            if include_values or include_metadata:
                rec = block.record(row, values=include_values, metadata=include_metadata)
                out.append(Match(rec.id, score, rec.values, rec.sparse_values, rec.metadata))
            else:
                out.append(Match(block.ids[row], score))
        return out

    # -- maintenance ------------------------------------------------------------------------------
    def _request_checkpoint(self) -> None:
        if self._worker is not None:
            self._worker.request("checkpoint")
            return
        if self._lock._is_owned():  # type: ignore[attr-defined]
            # A caller holds the store lock around its writes (the collections service does, to make
            # a check and a write atomic): checkpointing here would take the maintenance lock after
            # the store lock and could deadlock with another writer's checkpoint. The next write
            # that finds the memtable full checkpoints instead.
            return
        try:
            self.checkpoint()
        except (OSError, DiskFullError) as exc:
            # The write that asked for it is already durable in the WAL: answering it with an error
            # would make an acknowledged-looking failure. The next write's checkpoint retries.
            log.error("checkpoint failed (the WAL keeps every write; retried later): %s", exc)

    def checkpoint(self) -> None:
        """Seal memtables into segments and commit a manifest; no-op for in-memory stores."""
        if self.path is None:
            with self._lock:
                sealed_now = []
                for ns in self._namespaces.values():
                    if ns.memtable.n >= self.config.memtable_max_rows:
                        sealed = ns.seal_memtable()
                        if sealed is not None:
                            sealed_now.append(sealed)
            self._after_seal(sealed_now)
            return
        try:
            self._checkpoint_to_disk()
        except OSError as exc:
            full = disk_full(exc, "writing a checkpoint")
            if full is not None:
                raise full from exc
            raise

    def _checkpoint_to_disk(self) -> None:
        with self._maintenance:
            with self._lock:
                self._check_open()
                lsn = self._applied_lsn
                # Blocks an earlier checkpoint sealed but failed to write (e.g. the disk was full) first.
                new_blocks: list[RowBlock] = [
                    b for ns in self._namespaces.values() for b in ns.sealed if not b.persisted
                ]
                for ns in self._namespaces.values():
                    sealed = ns.seal_memtable()
                    if sealed is not None:
                        sealed.sealed_at = self.scheduler.clock()
                        new_blocks.append(sealed)
                # Small blocks of many namespaces go into one pack (engine/packing.py).
                plan = PackCheckpoint.plan(
                    self.packs, self.dimension, self._namespaces, new_blocks, self._packable, self._block_id
                )
                new_blocks = plan.segment_blocks
                assert self._wal is not None
                self._wal.rotate()
                self._checkpoint_seq += 1
                seq = self._checkpoint_seq
                dirty = [
                    (b, b.alive[: b.n].copy())
                    for ns in self._namespaces.values()
                    for b in ns.sealed
                    if (b.alive_dirty or not b.persisted) and not plan.handles(b)
                ]
                for b, _ in dirty:
                    b.alive_dirty = False
                layout = self._layout()
            assert self.path is not None
            root = self.path / "segments"
            try:
                alive_files: dict[int, str] = {}
                # Many files (many small namespaces): one syncfs for all of them before the manifest.
                many = (
                    len(new_blocks) + len(dirty) + len(plan.dirty_packs) + len(plan.blocks)
                    >= _ONE_SYNC_MIN_FILES
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
                self._write_manifest(layout, lsn, alive_files, plan)
            except BaseException:
                # Nothing was committed: the WAL still holds it all. The next checkpoint must write
                # these bitmaps again, or deletions would come back once the WAL is truncated.
                with self._lock:
                    for b, _ in dirty:
                        b.alive_dirty = True
                    plan.failed()
                raise
            with self._lock:
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
                plan.install(self._namespaces)
            self._wal.truncate_before(lsn + 1)
            self._sweep_alive_files(layout)
        self._after_seal(new_blocks)

    def _packable(self, rows: int) -> bool:
        """Whether a block of this many rows is small enough for a pack: searched exactly (no graph)."""
        return rows <= PACK_MAX_ROWS and (not self.dimension or rows < self.config.ann_min_rows)

    def _write_manifest(
        self,
        layout: dict[str, tuple[bool, list[BlockRef]]],
        lsn: int,
        alive_files: dict[int, str],
        plan: PackCheckpoint | None = None,
    ) -> None:
        assert self.path is not None
        blocks = [b for _, bs in layout.values() for b in bs]
        write_manifest(
            self.path,
            seq=self._checkpoint_seq,
            lsn=lsn,
            next_block_id=self._next_block,
            layout=layout,
            alive_files=alive_files,
            replay_floor=self._replay_floor,
            packs=plan.pack_files(blocks) if plan is not None else self.packs.alive_files(blocks),
            pack_of=plan.pack_of() if plan is not None else None,
        )
        self._manifest_lsn = lsn

    def _sweep_alive_files(self, layout: dict[str, tuple[bool, list[BlockRef]]]) -> None:
        assert self.path is not None
        blocks = [b for _, bs in layout.values() for b in bs]
        with self._lock:
            packs = self.packs.alive_files(blocks)
        sweep(self.path, layout, self._pending_dirs, packs)
        with self._lock:
            self.packs.keep_only(packs)

    def _after_seal(self, blocks: Sequence[RowBlock]) -> None:
        """Index and compact newly sealed blocks: in the background, or here without a worker."""
        if self._ann_worker is not None:
            if blocks:
                self._ann_worker.request("maintain")
            return
        for block in blocks:
            if self.graphs.needs_ann(block):
                self.graphs.build_ann(block)
        compact_namespaces(self)

    def _all_cores(self) -> bool:
        """Whether a graph build may take every core: someone waits for it (flush), or no foreground
        write came for a while. Asked again before every chunk, so it follows the load."""
        return self.scheduler.urgent or self.scheduler.writes_quiet()

    def _background_task(self, task: Any) -> None:
        if task == "maintain":
            self.scheduler.maintain()
        elif isinstance(task, tuple) and task[0] == "load":
            self.graphs.load_ann(task[1])

    def wait_idle(self, timeout: float = 600.0) -> None:
        """Block until background work (checkpoints, ANN builds, compaction) is done; deferred work
        starts at once meanwhile."""
        with self.scheduler.urgency():
            wait_all_idle([w for w in (self._worker, self._ann_worker) if w is not None], timeout)

    def flush(self, optimize: bool = True) -> None:
        """Seal every memtable, wait for segments and HNSW graphs, and (with `optimize`) merge each
        namespace into one segment, so a query searches one graph (after a bulk load, before a benchmark).
        """
        with self.scheduler.urgency():
            if self.path is None:
                with self._lock:
                    sealed_now = [b for b in (ns.seal_memtable() for ns in self._namespaces.values()) if b]
                self._after_seal(sealed_now)
            else:
                self.checkpoint()
            self.wait_idle()
            if optimize:
                for name in list(self._namespaces):
                    compact_namespace(self, name, force=True)
                self.wait_idle()

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("this index store is closed")

    def close(self) -> None:
        if self._closed:
            return
        self._closing = True
        for worker in (self._worker, self._ann_worker):
            if worker is not None:
                worker.stop()
        with self._maintenance, self._lock:
            self._closed = True
            if self._wal is not None:
                self._wal.close()

    def remove_files(self) -> None:
        self.close()
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)

    # What compaction uses (its `Store` protocol): graphs and deferral through the store, so a test
    # can intercept them in one place.
    def needs_ann(self, block: RowBlock) -> bool:
        return self.graphs.needs_ann(block)

    def build_step(self, pause: Callable[[], None] | None = None) -> Callable[[], None]:
        return self.graphs.build_step(pause)

    def build_ann(self, block: RowBlock, pause: Callable[[], None] | None = None) -> None:
        self.graphs.build_ann(block, pause)

    def attach_ann(self, block: RowBlock, index: AnnIndex) -> None:
        self.graphs.attach_ann(block, index)

    def yield_to_writes(self) -> None:
        self.scheduler.yield_to_writes()

    def build_wait(self) -> float | None:
        return self.scheduler.build_wait()

    @property
    def clock(self) -> Callable[[], float]:
        """The clock background work is deferred by (a test may replace it to decide without waiting)."""
        return self.scheduler.clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self.scheduler.clock = clock

    # Locks and namespaces for compaction (same package).
    @property
    def lock(self) -> threading.RLock:
        return self._lock

    @property
    def maintenance_lock(self) -> threading.Lock:
        return self._maintenance

    @property
    def compaction_lock(self) -> threading.Lock:
        return self._compacting

    @property
    def pending_dirs(self) -> set[str]:
        """Names of segment dirs being written outside the maintenance lock (checkpoints keep them)."""
        return self._pending_dirs

    @property
    def checkpoint_seq(self) -> int:
        return self._checkpoint_seq

    @property
    def namespaces(self) -> dict[str, Namespace]:
        return self._namespaces

    def new_block_id(self) -> int:
        return self._block_id()

    def commit_layout(self) -> None:
        """Write a manifest for the current layout (after compaction) at the current checkpoint LSN."""
        with self._lock:
            layout = self._layout()
            lsn_manifest = self._manifest_lsn
        self._write_manifest(layout, lsn_manifest, {})
        self._sweep_alive_files(layout)

    @contextlib.contextmanager
    def frozen_files(self) -> Iterator[FrozenFiles]:
        """Keep the files on disk as they are (no checkpoint, compaction swap or WAL truncation, while
        writes go on) and capture the manifest and the WAL position of every applied write, for a
        snapshot to copy (see snapshot.py)."""
        from spruce.engine.snapshot import FrozenFiles
        from spruce.errors import InvalidArgumentError

        if self.path is None:
            raise InvalidArgumentError("an in-memory index cannot be backed up: open the client with a path")
        with self._maintenance:
            with self._lock:
                self._check_open()
                assert self._wal is not None
                manifest = self.path / "manifest.json"
                frozen = FrozenFiles(
                    root=self.path,
                    manifest=manifest.read_bytes() if manifest.exists() else None,
                    checkpoint_lsn=self._manifest_lsn,
                    lsn=self._applied_lsn,
                    frames=self._wal.replay(after_lsn=self._manifest_lsn),
                    namespaces=self._counts(),
                )
            yield frozen

    # -- bulk import (see engine/bulk.py) -----------------------------------------------------------
    def bulk_writer(self, segment_rows: int = 0) -> NamespaceWriter:
        """A writer for one imported namespace's segments (hidden until `publish_namespace`)."""
        from spruce.engine.bulk import DEFAULT_SEGMENT_ROWS, NamespaceWriter

        if self.path is None:
            raise InvalidArgumentError("imports need an index on disk; open the client with a path")
        with self._lock:
            self._check_open()
            seq = self._checkpoint_seq

        def next_id() -> int:
            with self._lock:
                return self._block_id()

        # An import counts as writing: background HNSW builds wait for it as for upserts.
        return NamespaceWriter(
            self.path / "segments",
            self.dimension,
            next_id,
            seq,
            segment_rows or DEFAULT_SEGMENT_ROWS,
            touch=self.scheduler.note_write,
        )

    def publish_namespace(self, name: str, segments: Sequence[BulkSegment]) -> int:
        """Make an imported namespace visible at once: move its finished segments into place and commit
        one manifest naming them. Raises AlreadyExistsError (and removes the segments) if the namespace
        exists. Returns its record count. HNSW graphs are then built in the background."""
        from spruce.engine.bulk import open_segment

        assert self.path is not None
        root = self.path / "segments"
        blocks: list[RowBlock] = []
        try:
            with self._maintenance:
                with self._lock:
                    self._check_open()
                    if name in self._namespaces or name in self._dormant:
                        raise AlreadyExistsError(f"namespace {name!r} already exists")
                for seg in segments:
                    final = root / f"{seg.block_id:012d}"
                    os.replace(seg.path, final)
                    block = open_segment(seg, final)
                    block.persisted = True
                    block.alive_file = seg.alive_file
                    block.sealed_at = time.monotonic()
                    blocks.append(block)
                fsync_dir(root)
                with self._lock:
                    if name in self._namespaces or name in self._dormant:
                        raise AlreadyExistsError(f"namespace {name!r} was written to during the import")
                    ns = self._ns(name, create=True)
                    assert ns is not None
                    for block in blocks:
                        ns.add_sealed(block)
                    count = ns.count
                    self._replay_floor[name] = self._applied_lsn
                    layout = self._layout()
                    lsn = self._manifest_lsn
                try:
                    self._write_manifest(layout, lsn, {})
                except BaseException:
                    with self._lock:
                        self._namespaces.pop(name, None)
                        self._sorted_names = None
                    raise
        except BaseException:
            for seg in segments:
                shutil.rmtree(seg.path, ignore_errors=True)
                if not any(b.block_id == seg.block_id for ns in self._namespaces.values() for b in ns.sealed):
                    shutil.rmtree(root / f"{seg.block_id:012d}", ignore_errors=True)
            raise
        self._after_seal(blocks)
        return count

    def graphs_ready(self, namespace: str) -> bool:
        """Whether every sealed segment of the namespace that should have an HNSW graph has one."""
        with self._lock:
            ns = self._ns(namespace, create=False)
            return ns is None or not any(self.graphs.needs_ann(b) for b in ns.sealed)

    def stats(self) -> StoreStats:
        """Sizes for monitoring: WAL, segments per namespace, graphs still to build."""
        with self._lock:
            wal = self._wal
            namespaces = tuple(
                NamespaceStorage(
                    name=name,
                    records=ns.count,
                    segments=len(ns.sealed),
                    memtable_rows=ns.memtable.n,
                    segments_with_graph=sum(1 for b in ns.sealed if b.ann is not None),
                )
                for name, ns in sorted(self._namespaces.items())
            ) + tuple(
                NamespaceStorage(
                    name=name, records=d.count, segments=1, memtable_rows=0, segments_with_graph=0
                )
                for name, d in sorted(self._dormant.items())
            )
            namespaces = tuple(sorted(namespaces, key=lambda s: s.name))
            pending = sum(
                1 for ns in self._namespaces.values() for b in ns.sealed if self.graphs.needs_ann(b)
            )
        return StoreStats(
            wal_bytes=wal.size_bytes if wal is not None and not self._closed else 0,
            wal_fsyncs=wal.fsync_count if wal is not None else 0,
            namespaces=namespaces,
            graphs_pending=pending,
        )

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

import gc
import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spruce.config import EngineConfig
from spruce.engine import codec
from spruce.engine.callbacks import weakly
from spruce.engine.checkpoint import checkpoint_to_disk
from spruce.engine.committed import CommittedLayout
from spruce.engine.compaction import compact_namespace, compact_namespaces
from spruce.engine.graphs import GraphKeeper
from spruce.engine.maintenance import Scheduler, Worker, wait_all_idle
from spruce.engine.namespace import Namespace
from spruce.engine.namespace_table import NamespaceTable
from spruce.engine.opening import load_layout, open_wal, read_layout
from spruce.engine.pack import Packs
from spruce.engine.reads import StoreReads
from spruce.engine.rows import RowBlock
from spruce.engine.stats import StoreStats, store_stats
from spruce.engine.wal import RecoveryReport, Wal, disk_full
from spruce.errors import DiskFullError
from spruce.types import FloatArray, Record

if TYPE_CHECKING:
    from spruce.engine.bulk import BulkSegment, NamespaceWriter

log = logging.getLogger("spruce.engine")

_WAL_CHECKPOINT_BYTES = 512 * 1024 * 1024


class Store(StoreReads):
    def __init__(self, path: Path | None, dimension: int, metric: str, config: EngineConfig) -> None:
        self.path = path
        self.dimension = dimension
        self.metric = metric
        self.config = config
        self.lock = threading.RLock()
        self.maintenance_lock = threading.Lock()  # one checkpoint or compaction at a time
        self.packs = Packs()  # packs of small blocks (engine/pack.py), opened once each
        self.next_block = 1
        # Collaborators call back through weak references (engine/callbacks.py): no cycles to free.
        self.table = NamespaceTable(
            dimension, config.memtable_max_rows, weakly(self, Store.new_block_id), self.packs
        )
        self.namespaces = self.table.live  # the live namespaces (compaction and stats read them)
        self.committed = CommittedLayout(path, self.lock, self.packs)
        self.applied_lsn = 0
        self.closed = False
        self._closing = False  # set first in close(), so long background builds stop early
        self.wal: Wal | None = None
        self._worker: Worker | None = None
        self._ann_worker: Worker | None = None
        self.graphs = GraphKeeper(
            path,
            dimension,
            metric,
            config,
            self.lock,
            weakly(self, Store.is_closing),
            weakly(self, Store._all_cores),
        )
        self.scheduler = Scheduler(
            config,
            self.lock,
            self.namespaces.values,
            self.graphs,
            weakly(self, compact_namespaces),
            weakly(self, Store.is_closing),
            persisted=path is not None,
        )
        self.compaction_lock = threading.Lock()  # one compaction at a time
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
            self._worker = Worker("spruce-checkpoint", weakly(self, Store._checkpoint_task))
            self._ann_worker = Worker("spruce-ann", weakly(self, Store._background_task))
            self.scheduler.background = True
        # Segments whose HNSW build had not finished (or was cut short by a close or crash), and
        # memory-mapped graphs to bring into RAM. Opening never merges segments by itself.
        opened = [b for ns in self.namespaces.values() for b in ns.sealed]
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
    def new_block_id(self) -> int:
        bid = self.next_block
        self.next_block += 1
        return bid

    def _ns(self, name: str, create: bool) -> Namespace | None:
        return self.table.get(name, create)

    def _open_from_disk(self, path: Path) -> None:
        manifest = read_layout(path)
        self.next_block = manifest.next_block_id
        load_layout(path, manifest, self.metric, self.table, self.committed, self.packs)
        wal, self.recovery = open_wal(path, self.config, manifest.checkpoint_lsn)
        self.wal = wal
        self.applied_lsn = manifest.checkpoint_lsn
        floor = self.committed.replay_floor
        for lsn, payload in wal.replay(after_lsn=manifest.checkpoint_lsn):
            op = codec.decode(payload)
            if lsn > floor.get(op.namespace, 0):
                self._apply(op)
            self.applied_lsn = lsn

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
        self.table.drop(name)

    def _write(self, payload: bytes | codec.Parts, op: codec.Op) -> None:
        """Log then apply under the lock; wait for durability outside it (group commit)."""
        with self.lock:
            lsn, need_checkpoint = self._log_and_apply(payload, op)
        self._settle(lsn, need_checkpoint)

    def _log_and_apply(self, payload: bytes | codec.Parts, op: codec.Op) -> tuple[int, bool]:
        """Under the lock: frame the op into the WAL (not yet durable) and apply it. Returns its LSN
        and whether a checkpoint is due, for `_settle` once the lock is released."""
        self.check_open()
        lsn = 0
        if self.wal is not None:
            lsn = self.wal.write(payload)
        self._apply(op)
        self.applied_lsn = max(self.applied_lsn, lsn)
        self.scheduler.note_write()
        return lsn, self._needs_checkpoint(op.namespace)

    def _settle(self, lsn: int, need_checkpoint: bool) -> None:
        """Outside the lock: wait until the write is durable, then ask for a checkpoint if one is due.
        With the lock held, the fsync would hold back every other writer and reader, and an inline
        checkpoint (no background worker) would take the maintenance lock after the store lock, the
        opposite of the checkpoint's own order: two writers could deadlock."""
        if self.wal is not None:
            self.wal.sync(lsn)
        if need_checkpoint:
            self._request_checkpoint()

    def _needs_checkpoint(self, namespace: str) -> bool:
        ns = self._ns(namespace, create=False)
        if ns is not None and ns.memtable.n >= self.config.memtable_max_rows:
            return True
        return self.wal is not None and self.wal.size_bytes > _WAL_CHECKPOINT_BYTES

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
        with self.lock:
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
        with self.lock:
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

    # -- maintenance ------------------------------------------------------------------------------
    def _request_checkpoint(self) -> None:
        if self._worker is not None:
            self._worker.request("checkpoint")
            return
        if self.lock._is_owned():  # type: ignore[attr-defined]
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
            with self.lock:
                sealed_now = []
                for ns in self.namespaces.values():
                    if ns.memtable.n >= self.config.memtable_max_rows:
                        sealed = ns.seal_memtable()
                        if sealed is not None:
                            sealed_now.append(sealed)
            self._after_seal(sealed_now)
            return
        try:
            written = checkpoint_to_disk(self)
        except OSError as exc:
            full = disk_full(exc, "writing a checkpoint")
            if full is not None:
                raise full from exc
            raise
        self._after_seal(written)

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

    def is_closing(self) -> bool:
        """Set first in close(), so long background builds stop early."""
        return self._closing

    def _checkpoint_task(self, _task: Any) -> None:
        self.checkpoint()

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
                with self.lock:
                    sealed_now = [b for b in (ns.seal_memtable() for ns in self.namespaces.values()) if b]
                self._after_seal(sealed_now)
            else:
                self.checkpoint()
            self.wait_idle()
            if optimize:
                for name in list(self.namespaces):
                    compact_namespace(self, name, force=True)
                self.wait_idle()

    def close(self) -> None:
        if self.closed:
            return
        self._closing = True
        for worker in (self._worker, self._ann_worker):
            if worker is not None:
                worker.stop()
        with self.maintenance_lock, self.lock:
            self.closed = True
            if self.wal is not None:
                self.wal.close()

    def remove_files(self) -> None:
        self.close()
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)

    def commit_layout(self) -> None:
        """Write a manifest for the current layout (after compaction) at the current checkpoint LSN."""
        with self.lock:
            layout = self.table.layout()
            lsn_manifest = self.committed.lsn
        self.committed.write(layout, lsn_manifest, self.next_block, {})
        self.committed.sweep(layout)

    # -- bulk import (see engine/bulk.py and engine/publish.py) ----------------------------------------
    def bulk_writer(self, segment_rows: int = 0) -> NamespaceWriter:
        """A writer for one imported namespace's segments (hidden until `publish_namespace`)."""
        from spruce.engine.publish import bulk_writer

        return bulk_writer(self, segment_rows)

    def publish_namespace(self, name: str, segments: Sequence[BulkSegment]) -> int:
        """Make an imported namespace visible at once (one manifest commit); AlreadyExistsError if it
        exists. Returns its record count. HNSW graphs are then built in the background."""
        from spruce.engine.publish import publish_namespace

        blocks, count = publish_namespace(self, name, segments)
        self._after_seal(blocks)
        return count

    def graphs_ready(self, namespace: str) -> bool:
        """Whether every sealed segment of the namespace that should have an HNSW graph has one."""
        with self.lock:
            ns = self._ns(namespace, create=False)
            return ns is None or not any(self.graphs.needs_ann(b) for b in ns.sealed)

    def stats(self) -> StoreStats:
        """Sizes for monitoring: WAL, segments per namespace, graphs still to build."""
        return store_stats(self)

"""What the manifest on disk says: every manifest write of an index, and the sweep after it.

Checkpoints, compaction swaps and imports all commit a new layout; they do it through one
`CommittedLayout`, which owns the numbers the manifest carries between commits (the checkpoint
sequence, the WAL position covered, the replay floors of imported namespaces) and the segment
directories still being written, which a sweep must keep. Reading and writing the format itself is
manifest.py's.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from spruce.engine.maintenance import Scheduler
from spruce.engine.manifest import Layout, sweep, write_manifest
from spruce.engine.namespace_table import NamespaceTable
from spruce.engine.pack import Packs
from spruce.engine.packing import PackCheckpoint


class CommittedLayout:
    def __init__(self, path: Path | None, lock: threading.RLock, packs: Packs) -> None:
        self.path = path
        self._lock = lock  # the store's: guards `packs` against a checkpoint planning meanwhile
        self._packs = packs
        self.seq = 0  # checkpoint sequence of the newest checkpoint (names its bitmaps)
        self.lsn = 0  # WAL position the manifest on disk covers
        # Imported namespaces: WAL position at their publication. Older WAL ops on such a namespace
        # were undone before it (it did not exist then) and must not be replayed onto it.
        self.replay_floor: dict[str, int] = {}
        self.pending_dirs: set[str] = set()  # segment dirs a compaction is writing (kept by sweeps)

    def write(
        self,
        layout: Layout,
        lsn: int,
        next_block_id: int,
        alive_files: dict[int, str],
        plan: PackCheckpoint | None = None,
    ) -> None:
        """Commit `layout` as covering the WAL up to `lsn` (atomically: temp file, fsync, rename)."""
        assert self.path is not None
        blocks = [b for _, bs in layout.values() for b in bs]
        write_manifest(
            self.path,
            seq=self.seq,
            lsn=lsn,
            next_block_id=next_block_id,
            layout=layout,
            alive_files=alive_files,
            replay_floor=self.replay_floor,
            packs=plan.pack_files(blocks) if plan is not None else self._packs.alive_files(blocks),
            pack_of=plan.pack_of() if plan is not None else None,
        )
        self.lsn = lsn

    def sweep(self, layout: Layout) -> None:
        """Remove what the manifest just written no longer names: segment dirs, bitmaps, packs."""
        assert self.path is not None
        blocks = [b for _, bs in layout.values() for b in bs]
        with self._lock:
            packs = self._packs.alive_files(blocks)
        sweep(self.path, layout, self.pending_dirs, packs)
        with self._lock:
            self._packs.keep_only(packs)


class LayoutHost(Protocol):
    """What a writer of the layout (a checkpoint, an import) uses of its store (store.py's Store)."""

    path: Path | None
    dimension: int
    scheduler: Scheduler
    table: NamespaceTable
    committed: CommittedLayout

    @property
    def lock(self) -> threading.RLock: ...
    @property
    def maintenance_lock(self) -> threading.Lock: ...
    @property
    def applied_lsn(self) -> int: ...
    @property
    def next_block(self) -> int: ...
    def new_block_id(self) -> int: ...
    def check_open(self) -> None: ...

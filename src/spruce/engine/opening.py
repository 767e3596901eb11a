"""Opening an index from disk: the manifest's layout mapped back into namespaces, and the WAL.

Every segment and pack the manifest names is verified (checksums) and memory-mapped, with its saved
HNSW graph when the graph is trusted; a namespace that is exactly one packed block stays dormant.
Directories the manifest does not name are left-overs of a crash and are removed. The WAL is then
opened in the configured recovery mode; replaying its tail is the store's (it applies writes).
"""

from __future__ import annotations

import logging
from pathlib import Path

from spruce.config import EngineConfig
from spruce.engine.ann import AnnIndex
from spruce.engine.committed import CommittedLayout
from spruce.engine.dormant import dormant
from spruce.engine.graphs import GRAPH_FILE
from spruce.engine.manifest import Manifest, read_manifest, remove_unnamed, segment_dir
from spruce.engine.namespace_table import NamespaceTable
from spruce.engine.pack import Packs, pack_dir_name
from spruce.engine.recovery import record_recovery
from spruce.engine.segment import graph_trusted, read_segment
from spruce.engine.wal import RecoveryReport, Wal

log = logging.getLogger("spruce.engine")


def read_layout(path: Path) -> Manifest:
    """The index's manifest (an empty one for a new index), creating its directories."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "segments").mkdir(exist_ok=True)
    return read_manifest(path) or Manifest()


def load_layout(
    path: Path,
    manifest: Manifest,
    metric: str,
    table: NamespaceTable,
    committed: CommittedLayout,
    packs: Packs,
) -> None:
    """Fill `table`, `committed` and `packs` from the manifest. The store's block ids must already
    continue from `manifest.next_block_id`: a namespace made here takes one for its memtable."""
    committed.seq = manifest.seq
    committed.lsn = manifest.checkpoint_lsn
    live_dirs: set[str] = set()
    segments = path / "segments"
    for name, entry in manifest.namespaces.items():
        if entry.replay_after > manifest.checkpoint_lsn:
            committed.replay_floor[name] = entry.replay_after
        if len(entry.segments) == 1 and entry.segments[0][0] in entry.packed:
            # One packed block: stays dormant (no Namespace until something names it).
            only = entry.segments[0][0]
            pid = entry.packed[only]
            pack = packs.open(segments, pid, manifest.packs.get(pid))
            live_dirs.add(pack_dir_name(pid))
            table.add_dormant(name, dormant(pack, only, entry.explicit))
            continue
        ns = table.get(name, create=True)
        assert ns is not None
        ns.explicit = entry.explicit
        for block_id, alive_file in entry.segments:
            pack_id = entry.packed.get(block_id)
            if pack_id is not None:
                # One open (checksums, one Arrow reader) per pack, not per block.
                pack = packs.open(segments, pack_id, manifest.packs.get(pack_id))
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
                block.ann = AnnIndex.load(ann_path, metric)
            ns.add_sealed(block)
    for pack in packs.by_id.values():
        pack.ids = []  # each block holds its own slice
    remove_unnamed(path, live_dirs)


def open_wal(path: Path, config: EngineConfig, covered_lsn: int) -> tuple[Wal, RecoveryReport]:
    """Open the index's WAL; what recovery skipped or lost is logged (and recorded on disk)."""
    wal, report = Wal.open(
        path / "wal", fsync=config.fsync, recovery=config.wal_recovery, covered_lsn=covered_lsn
    )
    if report.torn_bytes:
        log.warning("WAL had a torn tail of %d bytes (kept in %s)", report.torn_bytes, report.quarantined)
    if report.lost_frames:
        log.error(
            "index %s opened with wal_recovery=%s: %d acknowledged WAL frame(s) were unreadable and "
            "are lost (recorded in %s)",
            path,
            config.wal_recovery,
            report.lost_frames,
            record_recovery(path, report, config.wal_recovery),
        )
    return wal, report

"""The manifest: which segments (and which deletion bitmap of each) make up every namespace, and the
WAL position they cover. Replaced atomically by each checkpoint, compaction and import publication;
checked JSON (magic, version, CRC: see checked_json.py), version 1 (no CRC) still read.

Also the sweeps that follow a commit: segment directories no manifest names any more, and bitmaps a
newer one superseded.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spruce.engine.checked_json import dump_checked, load_checked
from spruce.engine.fsutil import atomic_write_bytes
from spruce.engine.rows import RowBlock

MANIFEST_FORMAT = "spruce-manifest"
MANIFEST_VERSION = 2  # 2 adds the CRC; version 1 manifests are still read
MANIFEST_NAME = "manifest.json"

# name -> (explicitly created, sealed blocks in order)
Layout = Mapping[str, tuple[bool, Sequence[RowBlock]]]


@dataclass(frozen=True, slots=True)
class NamespaceEntry:
    explicit: bool
    segments: list[tuple[int, str | None]]  # (block id, alive bitmap file or None)
    replay_after: int  # WAL ops at or below this LSN predate the namespace (an import): not replayed


@dataclass(frozen=True, slots=True)
class Manifest:
    checkpoint_lsn: int = 0
    next_block_id: int = 1
    seq: int = 0
    namespaces: dict[str, NamespaceEntry] = field(default_factory=dict)


def segment_dir(root: Path, block_id: int) -> Path:
    """`root/segments/<block id, 12 digits>`, where a block's files live."""
    return root / "segments" / f"{block_id:012d}"


def read_manifest(root: Path) -> Manifest | None:
    """The index's manifest, None if it has none yet; ChecksumError and friends for a damaged one."""
    path = root / MANIFEST_NAME
    if not path.exists():
        return None
    raw = load_checked(path.read_bytes(), MANIFEST_FORMAT, (MANIFEST_VERSION,), path, (1,))
    return Manifest(
        checkpoint_lsn=int(raw["checkpoint_lsn"]),
        next_block_id=int(raw["next_block_id"]),
        seq=int(raw["seq"]),
        namespaces={
            name: NamespaceEntry(
                explicit=bool(entry["explicit"]),
                segments=[(int(block_id), alive) for block_id, alive in entry["segments"]],
                replay_after=int(entry.get("replay_after", 0)),
            )
            for name, entry in raw["namespaces"].items()
        },
    )


def write_manifest(
    root: Path,
    *,
    seq: int,
    lsn: int,
    next_block_id: int,
    layout: Layout,
    alive_files: Mapping[int, str],
    replay_floor: Mapping[str, int],
) -> None:
    """Commit `layout` as covering the WAL up to `lsn`. `alive_files` names bitmaps just written (a
    block not in it keeps the one it has); a namespace's replay floor is kept while it is above `lsn`."""
    namespaces: dict[str, Any] = {}
    for name, (explicit, blocks) in layout.items():
        entry: dict[str, Any] = {
            "explicit": explicit,
            "segments": [[b.block_id, alive_files.get(b.block_id, b.alive_file)] for b in blocks],
        }
        floor = replay_floor.get(name, 0)
        if floor > lsn:
            entry["replay_after"] = floor
        namespaces[name] = entry
    manifest = {"seq": seq, "checkpoint_lsn": lsn, "next_block_id": next_block_id, "namespaces": namespaces}
    atomic_write_bytes(root / MANIFEST_NAME, dump_checked(MANIFEST_FORMAT, MANIFEST_VERSION, manifest))


def remove_unnamed(root: Path, named: set[str]) -> None:
    """On open: delete segment directories the manifest does not name (a crash mid-checkpoint or
    mid-compaction left them)."""
    for entry in (root / "segments").iterdir():
        if entry.name not in named:
            shutil.rmtree(entry, ignore_errors=True)


def sweep(root: Path, layout: Layout, pending: set[str]) -> None:
    """After a commit: remove segment dirs no longer named (except `pending` ones a compaction is still
    writing) and alive bitmaps superseded by the manifest just written."""
    segments = root / "segments"
    keep: dict[str, str | None] = {}
    for _, blocks in layout.values():
        for b in blocks:
            keep[f"{b.block_id:012d}"] = b.alive_file
    for entry in segments.iterdir():
        if entry.name.startswith(".") or entry.name in pending:
            continue
        if entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
            continue
        for f in entry.glob("alive-*.npy"):
            if f.name != keep[entry.name]:
                f.unlink(missing_ok=True)

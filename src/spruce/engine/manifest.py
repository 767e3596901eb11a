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
from typing import Any, Protocol

from spruce.engine.checked_json import dump_checked, load_checked
from spruce.engine.fsutil import atomic_write_bytes

MANIFEST_FORMAT = "spruce-manifest"
MANIFEST_VERSION = 2  # 2 adds the CRC; version 1 manifests are still read
# 3 adds packs (engine/pack.py): written only when some block lives in one, so an index without
# packs keeps a manifest older code reads.
MANIFEST_VERSION_PACKS = 3
MANIFEST_NAME = "manifest.json"


class BlockRef(Protocol):
    """What a manifest records of a block: a RowBlock, or a dormant namespace's stand-in (dormant.py)."""

    @property
    def block_id(self) -> int: ...
    @property
    def pack_id(self) -> int | None: ...
    @property
    def alive_file(self) -> str | None: ...


# name -> (explicitly created, sealed blocks in order)
Layout = Mapping[str, tuple[bool, Sequence[BlockRef]]]


@dataclass(frozen=True, slots=True)
class NamespaceEntry:
    explicit: bool
    segments: list[tuple[int, str | None]]  # (block id, alive bitmap file or None)
    replay_after: int  # WAL ops at or below this LSN predate the namespace (an import): not replayed
    packed: dict[int, int] = field(default_factory=dict)  # block id -> pack id, for blocks in a pack


@dataclass(frozen=True, slots=True)
class Manifest:
    checkpoint_lsn: int = 0
    next_block_id: int = 1
    seq: int = 0
    namespaces: dict[str, NamespaceEntry] = field(default_factory=dict)
    packs: dict[int, str | None] = field(default_factory=dict)  # pack id -> its alive bitmap file


def segment_dir(root: Path, block_id: int) -> Path:
    """`root/segments/<block id, 12 digits>`, where a block's files live."""
    return root / "segments" / f"{block_id:012d}"


def read_manifest(root: Path) -> Manifest | None:
    """The index's manifest, None if it has none yet; ChecksumError and friends for a damaged one."""
    path = root / MANIFEST_NAME
    if not path.exists():
        return None
    raw = load_checked(
        path.read_bytes(), MANIFEST_FORMAT, (MANIFEST_VERSION, MANIFEST_VERSION_PACKS), path, (1,)
    )
    return Manifest(
        checkpoint_lsn=int(raw["checkpoint_lsn"]),
        next_block_id=int(raw["next_block_id"]),
        seq=int(raw["seq"]),
        namespaces={name: _entry(entry) for name, entry in raw["namespaces"].items()},
        packs={int(pid): alive for pid, alive in raw.get("packs", {}).items()},
    )


def _entry(entry: dict[str, Any]) -> NamespaceEntry:
    # A block in a pack is [block id, null, pack id]; a segment is [block id, bitmap or null].
    segments = [(int(s[0]), s[1]) for s in entry["segments"]]
    packed = {int(s[0]): int(s[2]) for s in entry["segments"] if len(s) > 2}
    return NamespaceEntry(
        explicit=bool(entry["explicit"]),
        segments=segments,
        replay_after=int(entry.get("replay_after", 0)),
        packed=packed,
    )


def entry_dir(block_id: int, pack_id: int | None) -> str:
    """The directory (under segments/) holding a manifest entry's rows."""
    return f"{block_id:012d}" if pack_id is None else f"pack-{pack_id:012d}"


def write_manifest(
    root: Path,
    *,
    seq: int,
    lsn: int,
    next_block_id: int,
    layout: Layout,
    alive_files: Mapping[int, str],
    replay_floor: Mapping[str, int],
    packs: Mapping[int, str | None] | None = None,
    pack_of: Mapping[int, int] | None = None,
) -> None:
    """Commit `layout` as covering the WAL up to `lsn`. `alive_files` names bitmaps just written (a
    block not in it keeps the one it has); a namespace's replay floor is kept while it is above `lsn`.
    `packs` gives each pack a block lives in its bitmap; `pack_of` the pack of blocks just packed."""
    pack_of = pack_of or {}
    namespaces: dict[str, Any] = {}
    named_packs: dict[str, str | None] = {}
    for name, (explicit, blocks) in layout.items():
        segments: list[list[Any]] = []
        for b in blocks:
            pid = b.pack_id if b.pack_id is not None else pack_of.get(b.block_id)
            if pid is None:
                segments.append([b.block_id, alive_files.get(b.block_id, b.alive_file)])
            else:
                segments.append([b.block_id, None, pid])
                named_packs[str(pid)] = (packs or {})[pid]
        entry: dict[str, Any] = {"explicit": explicit, "segments": segments}
        floor = replay_floor.get(name, 0)
        if floor > lsn:
            entry["replay_after"] = floor
        namespaces[name] = entry
    manifest: dict[str, Any] = {
        "seq": seq,
        "checkpoint_lsn": lsn,
        "next_block_id": next_block_id,
        "namespaces": namespaces,
    }
    version = MANIFEST_VERSION
    if named_packs:
        manifest["packs"] = named_packs
        version = MANIFEST_VERSION_PACKS
    atomic_write_bytes(root / MANIFEST_NAME, dump_checked(MANIFEST_FORMAT, version, manifest))


def remove_unnamed(root: Path, named: set[str]) -> None:
    """On open: delete segment directories the manifest does not name (a crash mid-checkpoint or
    mid-compaction left them)."""
    for entry in (root / "segments").iterdir():
        if entry.name not in named:
            shutil.rmtree(entry, ignore_errors=True)


def sweep(
    root: Path, layout: Layout, pending: set[str], packs: Mapping[int, str | None] | None = None
) -> None:
    """After a commit: remove segment dirs no longer named (except `pending` ones a compaction is still
    writing) and alive bitmaps superseded by the manifest just written. `packs` gives the current
    bitmap of each pack a block of the layout lives in."""
    segments = root / "segments"
    keep: dict[str, str | None] = {}
    for _, blocks in layout.values():
        for b in blocks:
            if b.pack_id is None:
                keep[f"{b.block_id:012d}"] = b.alive_file
            else:
                keep[entry_dir(b.block_id, b.pack_id)] = (packs or {}).get(b.pack_id)
    for entry in segments.iterdir():
        if entry.name.startswith(".") or entry.name in pending:
            continue
        if entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
            continue
        for f in entry.glob("alive-*.npy"):
            if f.name != keep[entry.name]:
                f.unlink(missing_ok=True)

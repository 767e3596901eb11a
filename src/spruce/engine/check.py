"""Offline integrity check of one index directory, and the repairs that do not need the engine open.

`check_index` reads only: the manifest's checksum, every live segment's checksums, every WAL frame
(with the same scanner recovery uses, see recovery.py) and the recovery log. It takes no lock, so run
it on a stopped server for an exact answer (a running one may be mid-checkpoint).

`set_aside_damaged_segments` is the part of a repair that opening cannot do: a segment that fails its
checksums is moved to `<index>/damaged/` and dropped from the manifest, so the index opens without
those rows (they are reported as lost) instead of not at all. WAL damage is repaired by opening the
index with `wal_recovery="skip-corrupted"`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from spruce.engine.checked_json import dump_checked, load_checked
from spruce.engine.fsutil import atomic_write_bytes, fsync_dir
from spruce.engine.manifest import MANIFEST_FORMAT, MANIFEST_VERSION, MANIFEST_VERSION_PACKS
from spruce.engine.pack import pack_dir_name, verify_pack
from spruce.engine.recovery import read_recovery_log
from spruce.engine.segment import verify_segment
from spruce.engine.wal_files import analyse, list_files
from spruce.errors import CorruptionError

__all__ = ["Problem", "check_index", "set_aside_damaged_segments"]

MANIFEST = "manifest.json"

Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True)
class Problem:
    severity: Severity  # error: data is damaged; warning: repaired at the next open; info: history
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.severity.upper():7} {self.path}: {self.message}"


def read_manifest(index_dir: Path) -> dict[str, Any] | None:
    path = index_dir / MANIFEST
    if not path.exists():
        return None
    return load_checked(
        path.read_bytes(), MANIFEST_FORMAT, (MANIFEST_VERSION, MANIFEST_VERSION_PACKS), path, (1,)
    )


def _segments(manifest: dict[str, Any]) -> list[tuple[str, int, str | None]]:
    """(namespace, block id, bitmap) of the blocks stored as segments of their own."""
    return [
        (ns, int(s[0]), s[1])
        for ns, entry in manifest["namespaces"].items()
        for s in entry["segments"]
        if len(s) == 2
    ]


def _packs(manifest: dict[str, Any]) -> dict[int, str | None]:
    return {int(pid): alive for pid, alive in manifest.get("packs", {}).items()}


def _damaged_packs(index_dir: Path, manifest: dict[str, Any]) -> dict[int, str]:
    """Pack id -> why, for every pack the manifest names that fails its checksums."""
    out: dict[int, str] = {}
    for pid, alive in _packs(manifest).items():
        try:
            verify_pack(index_dir / "segments" / pack_dir_name(pid), alive)
        except CorruptionError as exc:
            out[pid] = str(exc)
    return out


def check_index(index_dir: Path) -> list[Problem]:
    problems: list[Problem] = []
    covered = 0
    try:
        manifest = read_manifest(index_dir)
    except CorruptionError as exc:
        problems.append(Problem("error", index_dir / MANIFEST, f"{exc} (the index cannot open)"))
        manifest = None
    if manifest is not None:
        covered = int(manifest["checkpoint_lsn"])
        for _, block_id, alive in _segments(manifest):
            seg_dir = index_dir / "segments" / f"{block_id:012d}"
            try:
                verify_segment(seg_dir, alive)
            except CorruptionError as exc:
                problems.append(Problem("error", seg_dir, str(exc)))
        for pid, reason in _damaged_packs(index_dir, manifest).items():
            problems.append(Problem("error", index_dir / "segments" / pack_dir_name(pid), reason))
    wal_dir = index_dir / "wal"
    if wal_dir.is_dir():
        files = list_files(wal_dir)
        if files:
            try:
                _, damage, tail = analyse(files, covered)
            except CorruptionError as exc:
                problems.append(Problem("error", wal_dir, str(exc)))
            else:
                for d in damage:
                    if d.harmless(covered):
                        problems.append(Problem("warning", d.file, f"{d.describe()} (already checkpointed)"))
                    else:
                        problems.append(Problem("error", d.file, d.describe()))
                if tail is not None:
                    problems.append(
                        Problem(
                            "warning",
                            tail.file,
                            f"torn tail at bytes {tail.start}..{tail.end} ({tail.reason}): unacknowledged, "
                            "cut and kept aside at the next open",
                        )
                    )
    try:
        for event in read_recovery_log(index_dir):
            problems.append(
                Problem(
                    "info",
                    index_dir / "recovery.json",
                    f"{event['at']}: a {event['mode']} recovery lost {event['lost_frames']} WAL frame(s)",
                )
            )
    except CorruptionError as exc:
        problems.append(Problem("warning", index_dir / "recovery.json", str(exc)))
    return problems


def set_aside_damaged_segments(index_dir: Path) -> list[str]:
    """Move segments that fail their checksums out of the manifest; say what each one held."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        return []
    lost: list[str] = []
    aside = index_dir / "damaged"
    for ns, block_id, alive in _segments(manifest):
        seg_dir = index_dir / "segments" / f"{block_id:012d}"
        try:
            verify_segment(seg_dir, alive)
            continue
        except CorruptionError as exc:
            reason = str(exc)
        aside.mkdir(exist_ok=True)
        target = aside / f"segment-{block_id:012d}"
        n = 1
        while target.exists():
            target = aside / f"segment-{block_id:012d}-{n}"
            n += 1
        rows = _declared_rows(seg_dir)
        if seg_dir.exists():
            os.replace(seg_dir, target)
        entry = manifest["namespaces"][ns]
        entry["segments"] = [s for s in entry["segments"] if int(s[0]) != block_id]
        lost.append(
            f"segment {block_id} of namespace {ns!r} ({rows} rows, deleted ones included) moved to "
            f"{target}: {reason}"
        )
    for pid, reason in _damaged_packs(index_dir, manifest).items():
        # A pack holds blocks of many namespaces: all of them go, each reported.
        pack_dir = index_dir / "segments" / pack_dir_name(pid)
        aside.mkdir(exist_ok=True)
        target = aside / pack_dir_name(pid)
        n = 1
        while target.exists():
            target = aside / f"{pack_dir_name(pid)}-{n}"
            n += 1
        if pack_dir.exists():
            os.replace(pack_dir, target)
        for ns, entry in manifest["namespaces"].items():
            gone = [s for s in entry["segments"] if len(s) > 2 and int(s[2]) == pid]
            entry["segments"] = [s for s in entry["segments"] if not (len(s) > 2 and int(s[2]) == pid)]
            lost.extend(
                f"block {int(s[0])} of namespace {ns!r} (in pack {pid}) moved to {target}: {reason}"
                for s in gone
            )
        del manifest["packs"][str(pid)]
    if lost:
        fsync_dir(index_dir / "segments")
        fields = {k: v for k, v in manifest.items() if k not in ("format", "version")}
        version = MANIFEST_VERSION_PACKS if fields.get("packs") else MANIFEST_VERSION
        if version == MANIFEST_VERSION:
            fields.pop("packs", None)
        atomic_write_bytes(index_dir / MANIFEST, dump_checked(MANIFEST_FORMAT, version, fields))
    return lost


def _declared_rows(seg_dir: Path) -> str:
    import orjson

    try:
        return str(int(orjson.loads((seg_dir / "segment.json").read_bytes())["n"]))
    except Exception:
        return "an unknown number of"

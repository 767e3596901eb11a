"""Point-in-time copies of one index's files, and new index directories built from them.

A snapshot is taken while writes go on. `frozen_files` holds checkpoints, compaction swaps and
WAL truncation off (never writes) and captures, under the store lock, the manifest on disk and the
WAL position every applied write has reached. Then, outside the store lock:

- the files of every segment the manifest names are hard-linked (they never change once written;
  copied where linking fails, e.g. across filesystems);
- the deletion bitmaps the manifest names are copied (small, and the one file kind a later
  checkpoint of the restored index could write under a name already used);
- the WAL frames after the manifest's position up to the captured one are written to one new WAL
  file, so frames appended meanwhile are cut off at a frame boundary.

Restoring copies or links those files into a new index directory; opening it is an ordinary start
(the manifest's segments are mapped, the WAL part is replayed), so the new index holds exactly the
state at the captured position.

    <snapshot>/
      snapshot.json        {"format":"spruce-snapshot","version":1,"lsn","checkpoint_lsn",
                            "namespaces":{name: records},"files":[[path,size,crc32],...],"crc32"}
      manifest.json        the index manifest (absent if the index never checkpointed)
      segments/<block>/    segment files (see segment.py)
      wal/wal-<n>.log      the WAL frames (checkpoint_lsn, lsn] (see wal.py)

`crc32` in snapshot.json covers the document without that key; every file's crc32 covers its bytes,
so one flipped byte anywhere is found before a restore builds anything.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from spruce.engine.checkpoint import CheckpointHost
from spruce.engine.fsutil import atomic_write_bytes, atomic_write_chunks, fsync_dir, fsync_file
from spruce.engine.segment import file_crc32
from spruce.engine.wal_format import FRAME_HEADER, HEADER_BYTES, frame_crc, wal_file_name
from spruce.errors import BackupCorruptionError, CorruptionError, InvalidArgumentError

FORMAT = "spruce-snapshot"
VERSION = 1
META_FILE = "snapshot.json"
_CHUNK = 1 << 20

FileEntry = tuple[str, int, int]  # path relative to the snapshot, size, crc32
# (st_dev, st_ino, st_size, st_mtime_ns) of an immutable segment file -> its crc32. Segment files are
# never written after their rename, so a later backup linking the same inode need not read it again.
CrcCache = dict[tuple[int, int, int, int], int]


@dataclass(frozen=True, slots=True)
class FrozenFiles:
    """What `frozen_files` captured: valid while its context is held."""

    root: Path
    manifest: bytes | None  # manifest.json as on disk
    checkpoint_lsn: int  # WAL position the manifest covers
    lsn: int  # last WAL frame applied at capture
    frames: Iterator[tuple[int, bytes]]  # frames after checkpoint_lsn (may run past lsn)
    namespaces: dict[str, int]  # records per namespace at lsn


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    lsn: int
    namespaces: dict[str, int]
    size_bytes: int  # bytes of every file of the snapshot
    linked_bytes: int  # of which shared with the source by hard links
    files: int


# ------------------------------------------------------------------------------------- taking


@contextlib.contextmanager
def frozen_files(store: CheckpointHost) -> Iterator[FrozenFiles]:
    """Keep the store's files on disk as they are (no checkpoint, compaction swap or WAL truncation,
    while writes go on) and capture the manifest and the WAL position of every applied write."""
    if store.path is None:
        raise InvalidArgumentError("an in-memory index cannot be backed up: open the client with a path")
    # The maintenance lock first, as a checkpoint takes them: it is what holds the files still.
    with store.maintenance_lock:
        with store.lock:
            store.check_open()
            assert store.wal is not None
            manifest = store.path / "manifest.json"
            frozen = FrozenFiles(
                root=store.path,
                manifest=manifest.read_bytes() if manifest.exists() else None,
                checkpoint_lsn=store.committed.lsn,
                lsn=store.applied_lsn,
                frames=store.wal.replay(after_lsn=store.committed.lsn),
                namespaces=store.table.counts(),
            )
        yield frozen


def take(store: CheckpointHost, dest: Path, crc_cache: CrcCache | None = None) -> SnapshotInfo:
    """Write a consistent snapshot of `store` into the new directory `dest` (writes keep going).

    `crc_cache`, kept by the caller across backups, saves re-reading segments already backed up.
    """
    cache: CrcCache = {} if crc_cache is None else crc_cache
    entries: list[FileEntry] = []
    linked = 0
    with frozen_files(store) as frozen:
        dest.mkdir(parents=True)
        if frozen.manifest is not None:
            entries.append(_write(dest, "manifest.json", frozen.manifest))
            manifest = orjson.loads(frozen.manifest)
            # A pack (engine/pack.py) is copied once, like a segment, with the bitmap the manifest names.
            dirs = [
                (f"segments/{int(s[0]):012d}", s[1])
                for namespace in manifest["namespaces"].values()
                for s in namespace["segments"]
                if len(s) == 2
            ]
            dirs += [
                (f"segments/pack-{int(pid):012d}", alive) for pid, alive in manifest.get("packs", {}).items()
            ]
            for rel, alive_file in dirs:
                copied = _copy_segment(frozen.root / rel, dest / rel, rel, alive_file, cache)
                for entry, was_linked in copied:
                    entries.append(entry)
                    if was_linked:
                        linked += entry[1]
        entries.append(_write_wal(dest, frozen.checkpoint_lsn, frozen.lsn, frozen.frames))
        lsn, namespaces = frozen.lsn, dict(frozen.namespaces)
        checkpoint_lsn = frozen.checkpoint_lsn
    doc: dict[str, object] = {
        "format": FORMAT,
        "version": VERSION,
        "lsn": lsn,
        "checkpoint_lsn": checkpoint_lsn,
        "namespaces": namespaces,
        "files": entries,
    }
    doc["crc32"] = _doc_crc(doc)
    _fsync_tree(dest)
    atomic_write_bytes(dest / META_FILE, orjson.dumps(doc))
    size = sum(e[1] for e in entries)
    return SnapshotInfo(lsn, namespaces, size, linked, len(entries))


def _copy_segment(
    src: Path, dst: Path, rel: str, alive_file: str | None, cache: CrcCache
) -> Iterator[tuple[FileEntry, bool]]:
    dst.mkdir(parents=True)
    if alive_file is not None and not (src / alive_file).is_file():
        raise CorruptionError(f"segment {src} has no {alive_file}, which its manifest names")
    for entry in sorted(os.scandir(src), key=lambda e: e.name):
        name = entry.name
        if name.startswith(".") or name.endswith(".tmp") or not entry.is_file():
            continue  # a graph or bitmap being written: not part of the manifest's state
        if name.startswith("alive-"):
            if name != alive_file:
                continue  # superseded or newer than the captured manifest
            shutil.copyfile(entry.path, dst / name)
            with open(dst / name, "rb+") as f:
                fsync_file(f)
            yield _entry(dst / name, f"{rel}/{name}"), False
            continue
        was_linked = link_or_copy(Path(entry.path), dst / name)
        st = (dst / name).stat()
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        crc = cache.get(key) if was_linked else None
        if crc is None:
            crc = file_crc32(dst / name)
            if was_linked:
                cache[key] = crc
        yield (f"{rel}/{name}", st.st_size, crc), was_linked


def _write_wal(dest: Path, checkpoint_lsn: int, lsn: int, frames: Iterator[tuple[int, bytes]]) -> FileEntry:
    """One WAL file holding frames (checkpoint_lsn, lsn]; it is named so the next LSN continues."""
    (dest / "wal").mkdir()
    name = wal_file_name(checkpoint_lsn + 1)

    def chunks() -> Iterator[bytes]:
        yield HEADER_BYTES
        expected = checkpoint_lsn + 1
        for frame_lsn, payload in frames:
            if frame_lsn > lsn:
                break  # appended after the capture
            if frame_lsn != expected:
                raise CorruptionError(f"WAL skips from LSN {expected} to {frame_lsn} while backing up")
            yield FRAME_HEADER.pack(len(payload), frame_crc(frame_lsn, payload), frame_lsn) + payload
            expected += 1
        if expected != lsn + 1:
            raise CorruptionError(f"WAL ends at LSN {expected - 1}, before the captured LSN {lsn}")

    atomic_write_chunks(dest / "wal" / name, chunks())
    return _entry(dest / "wal" / name, f"wal/{name}")


def _write(dest: Path, rel: str, data: bytes) -> FileEntry:
    atomic_write_bytes(dest / rel, data)
    return (rel, len(data), zlib.crc32(data))


def link_or_copy(src: Path, dst: Path) -> bool:
    """Hard-link `src` to `dst` (True) or, where the filesystem cannot, copy it durably (False)."""
    try:
        os.link(src, dst)
        return True
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP):
            raise
    shutil.copyfile(src, dst)
    with open(dst, "rb+") as f:
        fsync_file(f)
    return False


def _fsync_tree(root: Path) -> None:
    """Make every entry created under `root` durable: each directory, deepest first, then `root`."""
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        fsync_dir(d)
    fsync_dir(root)


def _entry(path: Path, rel: str) -> FileEntry:
    return (rel, path.stat().st_size, file_crc32(path))


def _doc_crc(doc: dict[str, object]) -> int:
    body = {k: v for k, v in doc.items() if k != "crc32"}
    return zlib.crc32(orjson.dumps(body, option=orjson.OPT_SORT_KEYS))


# ------------------------------------------------------------------------------------ restoring


@dataclass(frozen=True, slots=True)
class SnapshotDoc:
    lsn: int
    checkpoint_lsn: int
    namespaces: dict[str, int]
    files: list[FileEntry]


def verify(src: Path) -> SnapshotDoc:
    """Check the snapshot's own checksum and every file's size and checksum; return its document."""
    label = f"backup {src.parent.name}"
    meta = src / META_FILE
    try:
        doc = orjson.loads(meta.read_bytes())
    except FileNotFoundError:
        raise BackupCorruptionError(f"{label}: {META_FILE} is missing") from None
    except orjson.JSONDecodeError as exc:
        raise BackupCorruptionError(f"{label}: {META_FILE} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BackupCorruptionError(f"{label}: {META_FILE} is not a Spruce snapshot")
    if doc.get("version") != VERSION:
        raise BackupCorruptionError(
            f"{label} has snapshot version {doc.get('version')}; this Spruce reads version {VERSION}"
        )
    if doc.get("crc32") != _doc_crc(doc):
        raise BackupCorruptionError(f"{label} is damaged: {META_FILE} fails its checksum")
    files: list[FileEntry] = [(str(rel), int(size), int(crc)) for rel, size, crc in doc["files"]]
    for rel, size, crc in files:
        path = src / rel
        try:
            actual_size = path.stat().st_size
        except FileNotFoundError:
            raise BackupCorruptionError(f"{label} is damaged: {rel} is missing") from None
        if actual_size != size:
            raise BackupCorruptionError(f"{label} is damaged: {rel} has {actual_size} bytes, expected {size}")
        if file_crc32(path) != crc:
            raise BackupCorruptionError(f"{label} is damaged: {rel} fails its checksum")
    return SnapshotDoc(
        int(doc["lsn"]),
        int(doc["checkpoint_lsn"]),
        {str(k): int(v) for k, v in doc["namespaces"].items()},
        files,
    )


def restore(src: Path, dest: Path) -> SnapshotDoc:
    """Verify the snapshot `src` and build an index directory `dest` (new) from it.

    Segment files are linked (never written again by any index); the manifest, bitmaps and WAL are
    copied, because the new index appends to its WAL and must not write through into the backup.
    """
    doc = verify(src)
    dest.mkdir(parents=True)
    (dest / "segments").mkdir()
    for rel, _size, _crc in doc.files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        name = target.name
        if rel.startswith("segments/") and not name.startswith("alive-"):
            link_or_copy(src / rel, target)
        else:
            shutil.copyfile(src / rel, target)
            with open(target, "rb+") as f:
                fsync_file(f)
    _fsync_tree(dest)
    return doc

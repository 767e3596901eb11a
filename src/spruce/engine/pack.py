"""Pack segments: the small sealed blocks of many namespaces in one directory.

A checkpoint of many small namespaces wrote one segment directory (8 files) per namespace: 100,000
namespaces meant 800,000 files and a reopen of one pyarrow reader plus 8 checksums each. A pack holds
the rows of many blocks back to back, so a checkpoint writes one pack and opening reads it once:

    segments/pack-<pack id, 12 digits>/
      vectors.npy, norms.npy, indptr.npy, sindices.npy, svalues.npy, rows.arrow
                       as in a segment (segment.py), the blocks' rows concatenated; indptr runs over
                       the whole pack
      blocks.npy       int64 (k, 3): block id, first row, row count of every block in the pack
      alive-<v>-<crc>.npy  one packed deletion bitmap over all the pack's rows (as a segment's), written
                       when any of its blocks loses a row; the manifest names the current one
      pack.json        {"format":"spruce-pack","version":1,"n","dimension","blocks","crc32":{file: crc}}
                       (checked JSON)

Written to a temporary directory, fsync'd and renamed, like a segment; it exists for readers once the
manifest names it (`packs` plus `[block id, null, pack id]` entries, manifest version 3). In memory,
every block of a pack is a RowBlock of views into the pack's arrays, and its `alive` is a view of the
pack's one alive array, so a delete marks the pack bitmap directly. A pack stays on disk while the
manifest names any of its blocks; a block dropped or compacted away just stops being named.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from spruce.engine.checked_json import dump_checked, load_checked
from spruce.engine.fsutil import fsync_dir, fsync_fd
from spruce.engine.lazy_meta import LazyMetadata, encode_column
from spruce.engine.manifest import BlockRef
from spruce.engine.rows import RowBlock
from spruce.engine.segment import ALIVE_RE, check_file_crcs, file_crc32, save_npy
from spruce.engine.sparse import SparseRows
from spruce.errors import CorruptionError, SegmentCorruptionError
from spruce.types import BoolArray, FloatArray

PACK_FORMAT = "spruce-pack"
PACK_VERSION = 1
PACK_FILES = (
    "vectors.npy",
    "norms.npy",
    "rows.arrow",
    "indptr.npy",
    "sindices.npy",
    "svalues.npy",
    "blocks.npy",
)
# Blocks up to this many rows (and below ann_min_rows: no graph) are packed...
PACK_MAX_ROWS = 4096
# ...when a checkpoint has at least this many of them (fewer keep the one-segment-per-block layout).
PACK_MIN_BLOCKS = 4


def pack_dir_name(pack_id: int) -> str:
    return f"pack-{pack_id:012d}"


@dataclass(slots=True)
class Pack:
    """An opened pack: its mapped arrays, and the one alive array its blocks' `alive` are views of."""

    pack_id: int
    path: Path
    dimension: int
    n: int
    dense: FloatArray
    norms: FloatArray
    indptr: np.ndarray
    sindices: np.ndarray
    svalues: np.ndarray
    ids: list[str]  # empty once every block holds its own (or when opened: see id_column)
    id_column: pa.Array
    metadata: pa.Array
    table: dict[int, tuple[int, int]]  # block id -> (first row, rows)
    alive: BoolArray
    alive_file: str | None = None
    dirty: bool = field(default=False)

    def block(self, block_id: int) -> RowBlock:
        first, n = self.table[block_id]
        end = first + n
        ip = self.indptr[first : end + 1]
        lo, hi = int(ip[0]), int(ip[-1])
        if lo:
            ip = ip - lo
        block = RowBlock(
            self.dimension,
            ids=self.ids[first:end] if self.ids else self.id_column.slice(first, n).to_pylist(),
            dense=self.dense[first:end] if self.dimension else self.dense,
            sq_norms=self.norms[first:end],
            sparse=SparseRows(ip, self.sindices[lo:hi], self.svalues[lo:hi]),
            metadata=LazyMetadata(self.metadata.slice(first, n)),
            alive=self.alive[first:end],
            sealed=True,
            block_id=block_id,
        )
        block.persisted = True
        block.pack_id = self.pack_id
        return block

    def attach(self, block: RowBlock) -> None:
        """Switch a block just written into this pack to the pack's views (frees its heap copies);
        deaths since the pack was written are carried into the pack's alive array."""
        first, n = self.table[block.block_id]
        end = first + n
        self.alive[first:end] = block.alive[:n]
        block.alive = self.alive[first:end]
        if self.dimension:
            block.dense = self.dense[first:end]
        block.sq_norms = self.norms[first:end]
        block.metadata = LazyMetadata(self.metadata.slice(first, n))
        block.pack_id = self.pack_id
        block.persisted = True


def write_pack(root: Path, pack_id: int, blocks: Sequence[RowBlock], dimension: int) -> Path:
    """Write the blocks' first n rows as one pack under `root` (the segments directory)."""
    final = root / pack_dir_name(pack_id)
    tmp = root / f".{pack_dir_name(pack_id)}.tmp"
    try:
        return _write_pack(root, blocks, dimension, final, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_pack(root: Path, blocks: Sequence[RowBlock], dimension: int, final: Path, tmp: Path) -> Path:
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    counts = np.array([b.n for b in blocks], dtype=np.int64)
    firsts = np.zeros(len(blocks), dtype=np.int64)
    np.cumsum(counts[:-1], out=firsts[1:])
    n = int(counts.sum())
    if dimension:
        dense = np.concatenate([b.dense[: b.n] for b in blocks]) if blocks else np.zeros((0, dimension))
    else:
        dense = np.zeros((0, 0), dtype=np.float32)
    save_npy(tmp / "vectors.npy", np.ascontiguousarray(dense, dtype=np.float32))
    norms = np.concatenate([b.sq_norms[: b.n] for b in blocks]) if blocks else np.zeros(0)
    save_npy(tmp / "norms.npy", np.ascontiguousarray(norms, dtype=np.float32))
    sparse = [b.sparse.arrays() for b in blocks]
    nnz = np.array([int(ip[-1]) for ip, _, _ in sparse], dtype=np.int64)
    base = np.zeros(len(blocks), dtype=np.int64)
    np.cumsum(nnz[:-1], out=base[1:])
    indptr = np.zeros(n + 1, dtype=np.int64)
    for (ip, _, _), first, count, off in zip(sparse, firsts, counts, base, strict=True):
        indptr[first + 1 : first + count + 1] = ip[1:] + off
    save_npy(tmp / "indptr.npy", indptr)
    save_npy(
        tmp / "sindices.npy",
        np.concatenate([i for _, i, _ in sparse] or [np.zeros(0, np.uint32)]).astype(np.uint32),
    )
    save_npy(
        tmp / "svalues.npy",
        np.concatenate([v for _, _, v in sparse] or [np.zeros(0, np.float32)]).astype(np.float32),
    )
    ids = [rid for b in blocks for rid in b.ids[: b.n]]
    meta = (
        pa.concat_arrays([encode_column(b.metadata, b.n) for b in blocks])
        if blocks
        else pa.array([], pa.string())
    )
    table = pa.table({"id": pa.array(ids, pa.string()), "metadata": meta})
    with open(tmp / "rows.arrow", "wb") as f:
        with ipc.new_file(f, table.schema) as writer:
            writer.write_table(table)
        f.flush()
        fsync_fd(f.fileno())
    block_ids = np.array([b.block_id for b in blocks], dtype=np.int64)
    save_npy(tmp / "blocks.npy", np.stack([block_ids, firsts, counts], axis=1).reshape(len(blocks), 3))
    info = {
        "n": n,
        "dimension": dimension,
        "blocks": len(blocks),
        "crc32": {name: file_crc32(tmp / name) for name in PACK_FILES},
    }
    with open(tmp / "pack.json", "wb") as f:
        f.write(dump_checked(PACK_FORMAT, PACK_VERSION, info))
        f.flush()
        fsync_fd(f.fileno())
    fsync_dir(tmp)
    if final.exists():
        shutil.rmtree(final)  # from a checkpoint whose manifest never landed: not live
    os.replace(tmp, final)
    fsync_dir(root)
    return final


def _map(path: Path) -> np.ndarray:
    """Memory-mapped, as a plain ndarray (np.memmap's indexing hooks cost on every slice): a pack's
    columns stay in the page cache, not on the heap, however many namespaces it holds."""
    arr: np.ndarray = np.load(path, mmap_mode="r", allow_pickle=False).view(np.ndarray)
    return arr


def verify_pack(pack_dir: Path, alive_file: str | None) -> dict[str, object]:
    """Check every checksum of the pack (and of its named bitmap); its pack.json, or raise."""
    try:
        raw = (pack_dir / "pack.json").read_bytes()
    except OSError as exc:
        raise SegmentCorruptionError(f"pack {pack_dir} has no readable pack.json: {exc}") from exc
    info = load_checked(
        raw, PACK_FORMAT, (PACK_VERSION,), pack_dir / "pack.json", error=SegmentCorruptionError
    )
    names = dict(info["crc32"])
    if alive_file is not None:
        m = ALIVE_RE.fullmatch(alive_file)
        if m is None:
            raise SegmentCorruptionError(f"pack {pack_dir}: bitmap name {alive_file!r} is not valid")
        names[alive_file] = int(m.group(1), 16)
    check_file_crcs(pack_dir, names, "pack")
    return info


def open_pack(root: Path, pack_id: int, alive_file: str | None) -> Pack:
    """Verify and map a pack (once, for all its blocks); SegmentCorruptionError if it is damaged."""
    pack_dir = root / pack_dir_name(pack_id)
    info = verify_pack(pack_dir, alive_file)
    try:
        return _open_pack(pack_dir, pack_id, alive_file, info)
    except (OSError, ValueError, KeyError, TypeError, CorruptionError, pa.ArrowException) as exc:
        raise SegmentCorruptionError(f"pack {pack_dir} is damaged: {exc}") from exc


def _open_pack(
    pack_dir: Path,
    pack_id: int,
    alive_file: str | None,
    info: dict[str, object],
    ids: list[str] | None = None,
) -> Pack:
    n, d = int(info["n"]), int(info["dimension"])  # type: ignore[call-overload]
    dense = _map(pack_dir / "vectors.npy")
    if d and dense.shape != (n, d):
        raise ValueError(f"vectors shape {dense.shape} != {(n, d)}")
    with pa.memory_map(str(pack_dir / "rows.arrow")) as source:
        rows = ipc.open_file(source).read_all()
    id_column = rows.column("id")
    id_column = id_column.combine_chunks() if id_column.num_chunks != 1 else id_column.chunk(0)
    meta = rows.column("metadata")
    meta = meta.combine_chunks() if meta.num_chunks != 1 else meta.chunk(0)
    indptr = _map(pack_dir / "indptr.npy")
    norms = _map(pack_dir / "norms.npy")
    blocks = np.load(pack_dir / "blocks.npy", allow_pickle=False)
    if len(id_column) != n or len(meta) != n or len(indptr) != n + 1 or len(norms) != n:
        raise ValueError(f"row counts disagree with n={n}")
    if blocks.ndim != 2 or blocks.shape[1] != 3 or int(blocks[:, 2].sum()) != n:
        raise ValueError("block table does not cover the pack's rows")
    if alive_file is None:
        alive = np.ones(n, dtype=np.bool_)
    else:
        bits = np.load(pack_dir / alive_file, allow_pickle=False)
        alive = np.unpackbits(bits, bitorder="little", count=n).astype(np.bool_)
    table = {int(b): (int(f), int(c)) for b, f, c in blocks.tolist()}
    return Pack(
        pack_id=pack_id,
        path=pack_dir,
        dimension=d,
        n=n,
        dense=dense,
        norms=norms,
        indptr=indptr,
        sindices=_map(pack_dir / "sindices.npy"),
        svalues=_map(pack_dir / "svalues.npy"),
        ids=ids or [],
        id_column=id_column,
        metadata=meta,
        table=table,
        alive=alive,
        alive_file=alive_file,
    )


def reopen_written(pack_dir: Path, pack_id: int, alive_file: str | None, ids: list[str]) -> Pack:
    """The pack a checkpoint just wrote, mapped (its checksums were computed from these very bytes;
    `ids` are the blocks' own strings, so they are not held twice)."""
    info = load_checked(
        (pack_dir / "pack.json").read_bytes(), PACK_FORMAT, (PACK_VERSION,), pack_dir / "pack.json"
    )
    return _open_pack(pack_dir, pack_id, alive_file, info, ids)


class Packs:
    """The open packs of one store, by id."""

    def __init__(self) -> None:
        self.by_id: dict[int, Pack] = {}

    def open(self, root: Path, pack_id: int, alive_file: str | None) -> Pack:
        pack = self.by_id.get(pack_id)
        if pack is None:
            pack = open_pack(root, pack_id, alive_file)
            self.by_id[pack_id] = pack
        return pack

    def alive_files(self, blocks: Iterable[BlockRef]) -> dict[int, str | None]:
        """Each pack that one of the blocks lives in, with its current bitmap (for the manifest)."""
        out: dict[int, str | None] = {}
        for b in blocks:
            pid = b.pack_id
            if pid is not None and pid not in out:
                out[pid] = self.by_id[pid].alive_file
        return out

    def keep_only(self, live: Iterable[int]) -> None:
        """Forget packs no named block lives in any more (their directories are swept)."""
        keep = set(live)
        for pid in [p for p in self.by_id if p not in keep]:
            del self.by_id[pid]

"""Immutable segments on disk: one directory per sealed block.

    segments/<block_id>/
      vectors.npy      float32 (n, d), opened memory-mapped (npy: magic + version + shape header)
      norms.npy        float32 (n,) squared norms, so opening never reads the vectors
      sparse.npz-less  indptr.npy int64 (n+1), sindices.npy uint32, svalues.npy float32
      rows.arrow       Arrow IPC file: `id` (utf8), `metadata` (utf8 JSON or null)
      alive-<v>.npy    packed deletion bitmap (bit set = row alive), one per checkpoint that changed it
      hnsw.faiss       the block's HNSW graph, written later by the background builder (optional)
      segment.json     {"format":"spruce-segment","version":1,"n","dimension","crc32":{file: crc}}

Files are written to a temporary directory, fsync'd, and renamed into place; a segment exists for
readers only once the manifest names it. Nothing is pickled (np.load runs with allow_pickle=False).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.ipc as ipc

from spruce.engine.fsutil import fsync_dir
from spruce.engine.rows import RowBlock
from spruce.engine.sparse import SparseRows
from spruce.errors import SegmentCorruptionError
from spruce.types import FloatArray, Metadata

FORMAT = "spruce-segment"
VERSION = 1
_CHECKED = ("rows.arrow", "indptr.npy", "sindices.npy", "svalues.npy")


def _crc(path: Path) -> int:
    crc = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return crc


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, arr, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())


def write_segment(root: Path, block: RowBlock) -> Path:
    """Write the block's rows (all n of them; deletions live in alive bitmaps) as a segment."""
    final = root / f"{block.block_id:012d}"
    tmp = root / f".{block.block_id:012d}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    n = block.n
    _save_npy(tmp / "vectors.npy", np.ascontiguousarray(block.dense[:n]))
    _save_npy(tmp / "norms.npy", np.ascontiguousarray(block.sq_norms[:n]))
    indptr, sidx, sval = block.sparse.arrays()
    _save_npy(tmp / "indptr.npy", np.asarray(indptr, dtype=np.int64))
    _save_npy(tmp / "sindices.npy", np.asarray(sidx, dtype=np.uint32))
    _save_npy(tmp / "svalues.npy", np.asarray(sval, dtype=np.float32))
    meta = [None if m is None else orjson.dumps(m).decode() for m in block.metadata[:n]]
    table = pa.table({"id": pa.array(block.ids[:n], pa.string()), "metadata": pa.array(meta, pa.string())})
    with open(tmp / "rows.arrow", "wb") as f:
        with ipc.new_file(f, table.schema) as writer:
            writer.write_table(table)
        f.flush()
        os.fsync(f.fileno())
    info = {
        "format": FORMAT,
        "version": VERSION,
        "n": n,
        "dimension": block.dimension,
        "crc32": {name: _crc(tmp / name) for name in _CHECKED},
    }
    with open(tmp / "segment.json", "wb") as f:
        f.write(orjson.dumps(info))
        f.flush()
        os.fsync(f.fileno())
    fsync_dir(tmp)
    os.replace(tmp, final)
    fsync_dir(root)
    return final


def map_vectors(seg_dir: Path) -> FloatArray:
    """The segment's vectors, memory-mapped, as a plain ndarray view (np.memmap's Python-level
    indexing hooks cost ~20 us per query on the scoring path)."""
    mapped = np.load(seg_dir / "vectors.npy", mmap_mode="r", allow_pickle=False)
    plain: FloatArray = mapped.view(np.ndarray)
    return plain


def write_alive(seg_dir: Path, alive: np.ndarray, n: int, version: int) -> str:
    name = f"alive-{version}.npy"
    _save_npy(seg_dir / name, np.packbits(alive[:n].astype(np.uint8), bitorder="little"))
    return name


def read_segment(seg_dir: Path, block_id: int, alive_file: str | None) -> RowBlock:
    try:
        info = orjson.loads((seg_dir / "segment.json").read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SegmentCorruptionError(f"segment {seg_dir} has no readable segment.json: {exc}") from exc
    if info.get("format") != FORMAT or info.get("version") != VERSION:
        raise SegmentCorruptionError(f"segment {seg_dir}: unknown format {info.get('format')!r}")
    for name, crc in info["crc32"].items():
        if _crc(seg_dir / name) != crc:
            raise SegmentCorruptionError(f"segment {seg_dir}: checksum mismatch in {name}")
    n, d = int(info["n"]), int(info["dimension"])
    dense = map_vectors(seg_dir)
    if dense.shape != (n, d) and not (d == 0 and dense.size == 0):  # sparse: no dense values
        raise SegmentCorruptionError(f"segment {seg_dir}: vectors shape {dense.shape} != {(n, d)}")
    sparse = SparseRows(
        np.load(seg_dir / "indptr.npy", allow_pickle=False),
        np.load(seg_dir / "sindices.npy", allow_pickle=False),
        np.load(seg_dir / "svalues.npy", allow_pickle=False),
    )
    with pa.memory_map(str(seg_dir / "rows.arrow")) as source:
        table = ipc.open_file(source).read_all()
    ids: list[str] = table.column("id").to_pylist()
    loads = orjson.loads
    metadata: list[Metadata | None] = [
        None if m is None else loads(m) for m in table.column("metadata").to_pylist()
    ]
    alive = None
    if alive_file is not None:
        bits = np.load(seg_dir / alive_file, allow_pickle=False)
        alive = np.unpackbits(bits, bitorder="little", count=n).astype(np.bool_)
    norms = np.load(seg_dir / "norms.npy", allow_pickle=False)
    return RowBlock(
        d,
        ids=ids,
        dense=dense,
        sq_norms=norms,
        sparse=sparse,
        metadata=metadata,
        alive=alive,
        sealed=True,
        block_id=block_id,
    )

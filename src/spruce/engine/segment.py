"""Immutable segments on disk: one directory per sealed block.

    segments/<block_id>/
      vectors.npy      float32 (n, d), opened memory-mapped (npy: magic + version + shape header)
      norms.npy        float32 (n,) squared norms, so opening never reads the vectors
      sparse.npz-less  indptr.npy int64 (n+1), sindices.npy uint32, svalues.npy float32
      rows.arrow       Arrow IPC file: `id` (utf8), `metadata` (utf8 JSON or null)
      alive-<v>-<crc>.npy  packed deletion bitmap (bit set = row alive), one per checkpoint that changed
                       it; <crc> (8 hex digits) is its CRC-32 (version 1 wrote alive-<v>.npy, unchecked)
      hnsw.faiss       the block's HNSW graph, written later by the background builder (optional)
      hnsw.crc         its CRC-32 and size (checked JSON), written after it; a graph that fails it (or, in
                       a version 2 segment, has none) is derived data: dropped and rebuilt, never loaded
      segment.json     {"format":"spruce-segment","version":2,"n","dimension","crc32":{file: crc}, plus
                       the document's own CRC (see checked_json.py)}

Version 2 checksums every file (version 1, still read, covered rows.arrow and the sparse arrays only);
`read_segment` verifies them all on open, so a damaged segment is reported, never served.

Files are written to a temporary directory, fsync'd, and renamed into place; a segment exists for
readers only once the manifest names it. Nothing is pickled (np.load runs with allow_pickle=False).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.ipc as ipc

from spruce.engine.checked_json import dump_checked, load_checked
from spruce.engine.checksum import file_crc32 as file_crc32  # re-exported: snapshot.py, tests
from spruce.engine.fsutil import fsync_dir, fsync_fd
from spruce.engine.id_index import HASH_FILE, check_hashes, sorted_hashes
from spruce.engine.lazy_ids import LazyIds
from spruce.engine.lazy_meta import LazyMetadata, encode_column
from spruce.engine.rows import RowBlock
from spruce.engine.sparse import SparseRows
from spruce.errors import CorruptionError, SegmentCorruptionError
from spruce.types import FloatArray

log = logging.getLogger("spruce.engine")

FORMAT = "spruce-segment"
VERSION = 2
_V1 = 1
SEGMENT_FILES = ("vectors.npy", "norms.npy", "rows.arrow", "indptr.npy", "sindices.npy", "svalues.npy")
ALIVE_RE = re.compile(r"alive-\d+-([0-9a-f]{8})\.npy")


def save_npy(path: Path, arr: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, arr, allow_pickle=False)
        f.flush()
        fsync_fd(f.fileno())


def write_segment(root: Path, block: RowBlock, vectors: Callable[[Path], int] | None = None) -> Path:
    """Write the block's rows (all n of them; deletions live in alive bitmaps) as a segment.

    `vectors`, when given, writes vectors.npy itself (durably) and returns its CRC-32, and the block's
    `dense` is not read: a compaction streams its merged rows into the file (engine/merge_write.py)."""
    final = root / f"{block.block_id:012d}"
    tmp = root / f".{block.block_id:012d}.tmp"
    try:
        return _write_segment(root, block, final, tmp, vectors)
    except BaseException:
        # A full disk must not keep the half-written copy: it holds the space the retry needs.
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _write_segment(
    root: Path, block: RowBlock, final: Path, tmp: Path, vectors: Callable[[Path], int] | None
) -> Path:
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    n = block.n
    known: dict[str, int] = {}
    if vectors is None:
        save_npy(tmp / "vectors.npy", np.ascontiguousarray(block.dense[:n]))
    else:
        known["vectors.npy"] = vectors(tmp / "vectors.npy")
    save_npy(tmp / "norms.npy", np.ascontiguousarray(block.sq_norms[:n]))
    indptr, sidx, sval = block.sparse.arrays()
    save_npy(tmp / "indptr.npy", np.asarray(indptr, dtype=np.int64))
    save_npy(tmp / "sindices.npy", np.asarray(sidx, dtype=np.uint32))
    save_npy(tmp / "svalues.npy", np.asarray(sval, dtype=np.float32))
    meta = encode_column(block.metadata, n)
    id_column = pa.array(block.ids[:n], pa.string())
    table = pa.table({"id": id_column, "metadata": meta})
    with open(tmp / "rows.arrow", "wb") as f:
        with ipc.new_file(f, table.schema) as writer:
            writer.write_table(table)
        f.flush()
        fsync_fd(f.fileno())
    # Sorted id hashes, so opening needs no hashing (id_index.py). An optional file: older segments
    # lack it (their ids are hashed on open) and older code verifies it as it verifies every file listed.
    save_npy(tmp / HASH_FILE, sorted_hashes(id_column))
    crc32 = {name: known[name] if name in known else file_crc32(tmp / name) for name in SEGMENT_FILES}
    crc32[HASH_FILE] = file_crc32(tmp / HASH_FILE)
    info = {"n": n, "dimension": block.dimension, "crc32": crc32}
    with open(tmp / "segment.json", "wb") as f:
        f.write(dump_checked(FORMAT, VERSION, info))
        f.flush()
        fsync_fd(f.fileno())
    fsync_dir(tmp)
    if final.exists():
        # Written by a checkpoint whose manifest never landed (e.g. the disk filled): not live, redo it.
        shutil.rmtree(final)
    os.replace(tmp, final)
    fsync_dir(root)
    return final


_GRAPH_CRC = "hnsw.crc"
_GRAPH_FORMAT = "spruce-graph-checksum"


def seal_graph(graph: Path) -> None:
    """Record the saved graph's checksum beside it (faiss files carry none of their own)."""
    info = {"crc32": file_crc32(graph), "size": graph.stat().st_size}
    target = graph.with_name(_GRAPH_CRC)
    with open(target.with_suffix(".tmp"), "wb") as f:
        f.write(dump_checked(_GRAPH_FORMAT, 1, info))
        f.flush()
        fsync_fd(f.fileno())
    os.replace(target.with_suffix(".tmp"), target)
    fsync_dir(graph.parent)


def graph_trusted(seg_dir: Path) -> bool:
    """Whether `hnsw.faiss` may be loaded: it matches its checksum (or predates checksums, format 1).

    A damaged graph is removed, so the background builder makes a new one from the segment's vectors."""
    graph = seg_dir / "hnsw.faiss"
    try:
        raw = (seg_dir / _GRAPH_CRC).read_bytes()
    except FileNotFoundError:
        legacy = orjson.loads((seg_dir / "segment.json").read_bytes()).get("version") == _V1
        if legacy:
            return True
        problem = "has no checksum (its write was interrupted)"
    else:
        try:
            info = load_checked(raw, _GRAPH_FORMAT, (1,), seg_dir / _GRAPH_CRC)
            ok = graph.stat().st_size == info["size"] and file_crc32(graph) == info["crc32"]
            problem = "" if ok else "fails its checksum"
        except (CorruptionError, OSError) as exc:
            problem = f"cannot be verified ({exc})"
    if not problem:
        return True
    log.error("HNSW graph %s %s: removed; it is rebuilt from the segment's vectors", graph, problem)
    graph.unlink(missing_ok=True)
    (seg_dir / _GRAPH_CRC).unlink(missing_ok=True)
    return False


def map_vectors(seg_dir: Path) -> FloatArray:
    """The segment's vectors, memory-mapped, as a plain ndarray view (np.memmap's Python-level
    indexing hooks cost ~20 us per query on the scoring path)."""
    mapped = np.load(seg_dir / "vectors.npy", mmap_mode="r", allow_pickle=False)
    plain: FloatArray = mapped.view(np.ndarray)
    return plain


def map_metadata(seg_dir: Path) -> LazyMetadata:
    """The segment's metadata column, memory-mapped and decoded per row when read: what a sealed
    block switches to once its segment is written, so the memtable's dicts are freed."""
    with pa.memory_map(str(seg_dir / "rows.arrow")) as source:
        table = ipc.open_file(source).read_all()
    return LazyMetadata(table.column("metadata"))


def write_alive(seg_dir: Path, alive: np.ndarray, n: int, version: int) -> str:
    tmp = seg_dir / f".alive-{version}.tmp"
    try:
        save_npy(tmp, np.packbits(alive[:n].astype(np.uint8), bitorder="little"))
        name = f"alive-{version}-{file_crc32(tmp):08x}.npy"
        os.replace(tmp, seg_dir / name)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return name


def verify_segment(seg_dir: Path, alive_file: str | None) -> dict[str, object]:
    """Check every checksum of the segment; return its segment.json, or raise SegmentCorruptionError."""
    try:
        raw = (seg_dir / "segment.json").read_bytes()
    except OSError as exc:
        raise SegmentCorruptionError(f"segment {seg_dir} has no readable segment.json: {exc}") from exc
    info = load_checked(
        raw, FORMAT, (VERSION,), seg_dir / "segment.json", (_V1,), error=SegmentCorruptionError
    )
    names = dict(info["crc32"])
    if alive_file is not None and (m := ALIVE_RE.fullmatch(alive_file)):
        names[alive_file] = int(m.group(1), 16)
    check_file_crcs(seg_dir, names, "segment")
    return info


def check_file_crcs(directory: Path, expected: dict[str, int], kind: str) -> None:
    """SegmentCorruptionError unless every named file in `directory` has its expected CRC-32."""
    for name, crc in expected.items():
        try:
            actual = file_crc32(directory / name)
        except OSError as exc:
            raise SegmentCorruptionError(f"{kind} {directory}: cannot read {name}: {exc}") from exc
        if actual != crc:
            raise SegmentCorruptionError(f"{kind} {directory}: checksum mismatch in {name} (damaged file)")


def read_segment(seg_dir: Path, block_id: int, alive_file: str | None) -> RowBlock:
    info = verify_segment(seg_dir, alive_file)
    try:
        return _read_segment(seg_dir, block_id, alive_file, info)
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
        # Checksums passed (or a version 1 segment has none for this file) but it does not decode.
        raise SegmentCorruptionError(f"segment {seg_dir} is damaged: {exc}") from exc


def _read_segment(seg_dir: Path, block_id: int, alive_file: str | None, info: dict[str, object]) -> RowBlock:
    n, d = int(info["n"]), int(info["dimension"])  # type: ignore[call-overload]
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
    # Strings made only when many are needed (lazy_ids.py): opening hashes the column itself.
    ids = LazyIds(table.column("id"))
    # Decoded row by row when read (lazy_meta.py): most rows' metadata is never looked at.
    metadata = LazyMetadata(table.column("metadata"))
    if len(ids) != n or len(metadata) != n:
        raise SegmentCorruptionError(f"segment {seg_dir}: rows.arrow holds {len(ids)} rows, not {n}")
    alive = None
    if alive_file is not None:
        bits = np.load(seg_dir / alive_file, allow_pickle=False)
        alive = np.unpackbits(bits, bitorder="little", count=n).astype(np.bool_)
    norms = np.load(seg_dir / "norms.npy", allow_pickle=False)
    hashes = None
    if HASH_FILE in info.get("crc32", {}):  # type: ignore[operator]
        hashes = check_hashes(np.load(seg_dir / HASH_FILE, allow_pickle=False), n)
    block = RowBlock(
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
    block.id_hashes = hashes
    return block

"""Export an index as Parquet in exactly the import layout, so export -> import is a round trip.

    <dest>/<namespace>/part-00000.parquet   (`__default__` for the default namespace)

Columns: `id`, `values` (dense indexes), `sparse_values` (when the namespace holds any, or the index is
sparse), `metadata` (JSON string, NULL when a record has none). Each namespace is read from a snapshot
of its rows taken under the store lock (sealed rows never change; memtable rows are only appended), so
writes may go on meanwhile; records written after the snapshot are not exported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from spruce.config import ImportConfig
from spruce.engine.namespace import Namespace
from spruce.engine.rows import RowBlock
from spruce.service.data import IndexService
from spruce.service.import_sources import DEFAULT_NAMESPACE_DIR, open_uri
from spruce.types import Record

ROWS_PER_FILE = 1_000_000
ROWS_PER_GROUP = 10_000


@dataclass(frozen=True, slots=True)
class ExportReport:
    namespaces: dict[str, int]
    files: int


def _snapshot(ns: Namespace | None) -> list[tuple[RowBlock, np.ndarray]]:
    if ns is None:
        return []
    return [(b, np.flatnonzero(b.alive[: b.n])) for b in ns.blocks() if b.live_count]


def _record_rows(snapshot: list[tuple[RowBlock, np.ndarray]], chunk: int) -> Iterator[list[Record]]:
    out: list[Record] = []
    for block, rows in snapshot:
        for row in rows:
            out.append(block.record(int(row)))
            if len(out) >= chunk:
                yield out
                out = []
    if out:
        yield out


def _table(records: list[Record], dimension: int, with_sparse: bool) -> pa.Table:
    cols: dict[str, pa.Array] = {"id": pa.array([r.id for r in records], pa.string())}
    if dimension:
        mat = np.stack([r.values for r in records if r.values is not None]).astype(np.float32)
        offsets = np.arange(0, (len(records) + 1) * dimension, dimension, dtype=np.int32)
        cols["values"] = pa.ListArray.from_arrays(pa.array(offsets), pa.array(mat.reshape(-1)))
    if with_sparse:
        sparse_type = pa.struct([("indices", pa.list_(pa.uint32())), ("values", pa.list_(pa.float32()))])
        items: list[dict[str, Any] | None] = [
            None
            if r.sparse_values is None
            else {"indices": r.sparse_values.indices.tolist(), "values": r.sparse_values.values.tolist()}
            for r in records
        ]
        cols["sparse_values"] = pa.array(items, sparse_type)
    cols["metadata"] = pa.array(
        [None if r.metadata is None else orjson.dumps(r.metadata).decode() for r in records], pa.string()
    )
    return pa.table(cols)


def write_namespace(
    fs: Any,
    folder: str,
    chunks: Iterator[list[Record]],
    dimension: int,
    with_sparse: bool,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Write record chunks as `folder/part-NNNNN.parquet`; returns (records, files)."""
    fs.create_dir(folder, recursive=True)
    written = files = part = 0
    writer: pq.ParquetWriter | None = None
    try:
        for records in chunks:
            table = _table(records, dimension, with_sparse)
            if writer is None:
                writer = pq.ParquetWriter(f"{folder}/part-{part:05d}.parquet", table.schema, filesystem=fs)
                files += 1
            writer.write_table(table)
            written += len(records)
            if progress is not None:
                progress(len(records))
            if written >= (part + 1) * ROWS_PER_FILE:
                writer.close()
                writer = None
                part += 1
    finally:
        if writer is not None:
            writer.close()
    return written, files


def export_index(
    svc: IndexService,
    dest: str,
    config: ImportConfig | None = None,
    integration_id: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExportReport:
    """Write every namespace of the index under `dest` (a local directory or s3://, gs://, az:// URI)."""
    fs, base = open_uri(dest, config or ImportConfig(), integration_id)
    dimension = svc.info.dimension or 0
    counts: dict[str, int] = {}
    files = 0
    for name in sorted(svc.store.namespace_counts()):
        snapshot = svc.store.with_namespace(name, _snapshot)
        if not snapshot:
            continue
        with_sparse = svc.info.vector_type == "sparse" or any(b.sparse.nnz for b, _ in snapshot)
        folder = f"{base}/{name or DEFAULT_NAMESPACE_DIR}"
        counts[name], n_files = write_namespace(
            fs, folder, _record_rows(snapshot, ROWS_PER_GROUP), dimension, with_sparse, progress
        )
        files += n_files
    return ExportReport(counts, files)

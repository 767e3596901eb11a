"""A block of rows: the unit that memtables and segments share.

A block holds ids, dense vectors (with squared norms), sparse vectors, metadata, a metadata column
index for filters, and an `alive` mask. Rows are only ever appended; an overwrite or delete marks the
old row dead, so a query never needs to know which block holds the newest version of an id.
A sealed block is immutable except for `alive`, and may carry an ANN index.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from spruce.engine.buffers import POOL
from spruce.engine.filter import And, Compare, Exists, Filter, InSet, Or
from spruce.engine.filter_arrow import columns_from_json
from spruce.engine.hot_rows import HotRows
from spruce.engine.lazy_meta import LazyMetadata
from spruce.engine.meta_index import MetaIndex, Selection
from spruce.engine.metadata_columns import MetadataColumns
from spruce.engine.prefault import WINDOW_BYTES, populate_ahead
from spruce.engine.sparse import SparseRows
from spruce.types import BoolArray, FloatArray, IntArray, Metadata, Record

if TYPE_CHECKING:
    from spruce.engine.ann import AnnIndex


class RowBlock:
    def __init__(
        self,
        dimension: int,
        *,
        ids: Sequence[str] | None = None,
        dense: FloatArray | None = None,
        sq_norms: FloatArray | None = None,
        sparse: SparseRows | None = None,
        metadata: Sequence[Metadata | None] | None = None,
        alive: BoolArray | None = None,
        sealed: bool = False,
        block_id: int = 0,
        grow_to: int = 0,
    ) -> None:
        self.block_id = block_id
        self._grow_to = grow_to
        self._populated = 0  # bytes of `dense` the prefault thread was asked to populate (prefault.py)
        self.dimension = dimension
        # A list in a memtable; a segment's opened from disk is a LazyIds (lazy_ids.py).
        self.ids: Sequence[str] = [] if ids is None else ids
        n = len(self.ids)
        self.n = n
        cap = n
        if dense is None:
            dense = np.zeros((cap if dimension else 0, dimension), dtype=np.float32)
        self.dense: FloatArray = dense
        if sq_norms is None:
            sq_norms = np.zeros(cap, dtype=np.float32)
            if dimension and n:
                sq_norms[:n] = np.einsum("ij,ij->i", dense[:n], dense[:n])
        self.sq_norms: FloatArray = sq_norms
        self.sparse = SparseRows() if sparse is None else sparse
        # A list in a memtable; a sealed segment's is usually a LazyMetadata (decoded when read).
        self.metadata: Sequence[Metadata | None] = [] if metadata is None else metadata
        self._columns: MetadataColumns | None = None
        if alive is None:
            alive = np.ones(cap, dtype=np.bool_)
            alive[n:] = False
        elif len(alive) < cap:
            grown = np.zeros(cap, dtype=np.bool_)
            grown[: len(alive)] = alive
            alive = grown
        self.alive: BoolArray = alive
        self.live_count = int(np.count_nonzero(alive[:n]))
        self.sealed = sealed
        self.sealed_at = 0.0  # time.monotonic() at sealing; 0 for blocks opened from disk
        self.ann: AnnIndex | None = None
        self.alive_dirty = False  # deletions not yet written to an alive bitmap on disk
        self.alive_file: str | None = None
        self.persisted = False
        # A segment's stored id hashes (id_index.HASH_FILE), until the namespace's id index takes them.
        self.id_hashes: np.ndarray | None = None
        self.pack_id: int | None = None  # the pack (engine/pack.py) this sealed block lives in, if any
        self._columns_lock = threading.Lock()
        self._meta_index: MetaIndex | None = None
        self._inv_norms: FloatArray | None = None
        self._hot: HotRows | None = None

    # -- writes (memtable only) -------------------------------------------------------------------
    def _reserve(self, need: int) -> None:
        if need <= len(self.alive):
            return
        cap = max(need, 2 * len(self.alive), 16)
        full = cap > 4096 and cap < self._grow_to
        if full:
            # Jump to the memtable's full size once past small: np.empty only reserves address
            # space (pages appear as rows are written), and it saves copying the rows again at
            # every doubling, which cost more than the rest of an upsert.
            cap = max(need, self._grow_to + self._grow_to // 8)
        n = self.n
        if self.dimension:
            if full:
                dense = POOL.take(cap, self.dimension)  # a previous memtable's, already paged in
                cap = len(dense)
            else:
                dense = np.empty((cap, self.dimension), dtype=np.float32)
            dense[:n] = self.dense[:n]
            self.dense = dense
            self._populated = 0
        norms = np.zeros(cap, dtype=np.float32)
        norms[:n] = self.sq_norms[:n]
        self.sq_norms = norms
        alive = np.zeros(cap, dtype=np.bool_)
        alive[:n] = self.alive[:n]
        self.alive = alive

    def extend(self, records: Sequence[Record], dense: FloatArray | None = None) -> int:
        """Append records as new rows; returns the first new row number.

        `dense`, when given, is the records' values already stacked in order (saves a copy).
        """
        assert not self.sealed
        first = self.n
        k = len(records)
        self._reserve(first + k)
        end = first + k
        if self.dimension:
            if dense is None:
                zero = np.zeros(self.dimension, dtype=np.float32)
                dense = np.stack([zero if r.values is None else r.values for r in records])
            self.dense[first:end] = dense
            self.sq_norms[first:end] = np.einsum("ij,ij->i", dense, dense)
            self._prefault(end)
        metas = [r.metadata for r in records]
        if any(r.sparse_values is not None for r in records):
            for r in records:
                self.sparse.append(r.sparse_values)
        else:
            self.sparse.extend_empty(k)
        assert isinstance(self.metadata, list)
        self.metadata.extend(metas)
        if self._columns is not None:
            self._columns.extend(metas)
        assert isinstance(self.ids, list)
        self.ids.extend(r.id for r in records)
        self.alive[first:end] = True
        self.live_count += k
        self.n = end
        return first

    def _prefault(self, rows: int) -> None:
        """Keep a window of a full-size memtable's vector buffer past `rows` populated on the
        prefault thread, so the next upserts find their pages present (prefault.py)."""
        if not self._grow_to or len(self.dense) < self._grow_to:
            return  # still small (doubling): its pages are few and were just copied into
        at = rows * self.dimension * 4
        if self._populated - at >= WINDOW_BYTES // 2 or at >= self.dense.nbytes:
            return
        stop = min(at + WINDOW_BYTES, self.dense.nbytes)
        if populate_ahead(self.dense, max(self._populated, at), stop):
            self._populated = stop

    def append(self, rec: Record) -> int:
        return self.extend([rec])

    def kill(self, row: int) -> None:
        if self.alive[row]:
            self.alive[row] = False
            self.live_count -= 1
            self.alive_dirty = True

    # -- reads ------------------------------------------------------------------------------------
    def record(self, row: int, *, values: bool = True, metadata: bool = True) -> Record:
        vec = self.dense[row].copy() if (values and self.dimension) else None
        meta = self.metadata[row] if metadata else None
        return Record(
            id=self.ids[row],
            values=vec,
            sparse_values=self.sparse.get(row) if values else None,
            metadata=dict(meta) if meta is not None else None,
        )

    def columns(self) -> MetadataColumns:
        """The filter index over this block's metadata, built on first use."""
        cols = self._columns
        if cols is None:
            with self._columns_lock:
                cols = self._columns
                if cols is None:
                    cols = None
                    if isinstance(self.metadata, LazyMetadata):  # still encoded: Arrow parses it
                        cols = columns_from_json(self.metadata.encoded(self.n))
                    if cols is None:
                        cols = MetadataColumns.from_rows(self.metadata[: self.n])
                    self._columns = cols
        return cols

    def inv_norms(self) -> FloatArray | None:
        """1 / |row| (0 for zero rows) of a sealed block, computed once: cosine scoring is then one
        multiply per row instead of a sqrt and a masked divide. None for memtables (still growing)."""
        if not self.sealed:
            return None
        inv = self._inv_norms
        if inv is None:
            norms = np.sqrt(self.sq_norms[: self.n])
            inv = np.zeros(self.n, dtype=np.float32)
            np.divide(np.float32(1.0), norms, out=inv, where=norms > 0)
            inv.setflags(write=False)
            self._inv_norms = inv
        return inv

    def hot_rows(self, flt: Filter, rows: IntArray) -> FloatArray | None:
        """Contiguous vectors of a sealed block's filter rows, for a filter seen before (hot_rows.py)."""
        hot = self._hot
        if hot is None:
            with self._columns_lock:
                hot = self._hot
                if hot is None:
                    hot = self._hot = HotRows(self.dense, self.n)
        return hot.get(flt, rows)

    def select(self, flt: Any, n: int) -> Selection | None:
        """A sealed block's rows matching a plain filter, from its sorted indexes (alive-ness not
        applied); None where that does not apply (memtables, row predicates): use `filter_mask`."""
        if not self.sealed or n != self.n or not isinstance(flt, Compare | InSet | Exists | And | Or):
            return None
        index = self._meta_index
        if index is None:
            columns = self.columns()
            if len(columns) != n:
                return None
            with self._columns_lock:
                index = self._meta_index
                if index is None:
                    index = self._meta_index = MetaIndex(columns)
        return index.select(flt)

    def filter_mask(self, flt: Any, n: int) -> BoolArray:
        """Rows among the first `n` that the parsed filter allows (alive-ness not applied)."""
        if flt is None:
            return np.ones(n, dtype=np.bool_)
        block_mask = getattr(flt, "block_mask", None)  # an engine.predicate.RowPredicate
        if block_mask is not None:
            return np.asarray(block_mask(self, n), dtype=np.bool_)
        mask = self.columns().evaluate(flt)
        return np.asarray(mask[:n], dtype=np.bool_)

    def nbytes(self) -> int:
        return int(self.n * (4 * self.dimension + 16) + 8 * self.sparse.nnz)

"""Approximate nearest neighbours: HNSW graphs over faiss-cpu (with kernels.py, its flat kernels, the
only modules that import faiss).

faiss was chosen over hnswlib because it ships wheels, is maintained, filters with a C++ IDSelector
(no Python callback per visited node) and opens saved indexes memory-mapped, so start-up never
rebuilds a graph. It cannot remove ids from HNSW: deletes are the block's `alive` mask passed as a
selector, and compaction rebuilds.

Cosine is inner product over normalised copies; euclidean is faiss' squared L2, which is also
Pinecone's euclidean score. A graph stores its rows either as float32 (flat) or as 8-bit codes
(quantised, `IndexHNSWSQ`): the walk over codes reads a quarter of the bytes, and measured 1.3-1.8x
the queries per second of the flat graph at the same recall from 128-d to 768-d, built faster too
(docs/benchmarks.md, stop 23). A quantised graph's candidates (twice the k asked for) are scored
again exactly against the block's own rows (rerank.py), so both kinds return the metric's exact
scores; a flat graph's distances are used as they are (re-scoring them cost ~15% of a query and
changed scores only in the last float32 bits).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from spruce.engine.calibrate import Calibration, calibrate, held_out_count
from spruce.engine.graph_order import GraphArrays, restore_row_order
from spruce.engine.kernels import (
    BUILD_CHUNK,
    QUERY_THREAD,
    as_faiss_input,
    exact_top_k,
    pin_query_thread,
)
from spruce.engine.rerank import rescore
from spruce.types import BoolArray, FloatArray, IntArray

# Graphs without a calibration (saved by an older version, or built before it finished) use this:
# recall@10 >= 0.99 on every data set measured so far, at a cost (see docs/benchmarks.md).
UNCALIBRATED_EF = 384
# A quantised graph re-scores this many candidates per result asked for: at k=10, 10 candidates lost
# 0.01 of recall to the codes' ordering and 20 lost none (100k x 768 clusters; 384-d and 128-d too).
_CANDIDATES_PER_RESULT = 2
# Rows the 8-bit quantiser learns its per-dimension ranges from; with a sample, the ranges are widened
# by _RANGE_MARGIN of their width so that rows outside the sample's extremes are not clipped much.
_TRAIN_ROWS = 65_536
_RANGE_MARGIN = 0.02


def calibration_path(graph: Path) -> Path:
    return graph.with_name("hnsw.calib.json")


class AnnIndex:
    def __init__(self, index: faiss.Index, metric: str, *, mapped: bool = False) -> None:
        self._index = index
        self.metric = metric
        self.mapped = mapped  # pages come from the file on demand (see Store.load_ann)
        self.ntotal = int(index.ntotal)
        storage = faiss.downcast_index(index.storage)  # type: ignore[attr-defined]
        # 8-bit codes: candidates are re-scored against the block's rows (passed to each search).
        self.quantized = isinstance(storage, faiss.IndexScalarQuantizer)
        self._params_by_ef: dict[int, faiss.SearchParametersHNSW] = {}  # type: ignore[name-defined]
        self._calibration: Calibration | None = None
        # Per top_k, asked on every query (a log-log interpolation, a list of checks): computed once.
        self._ef_by_k: dict[int, int] = {}
        self._trusted_by_k: dict[int, bool] = {}
        # Level-0 links per node (fixed by M): the planner asks on every query.
        self.degree = int(index.hnsw.nb_neighbors(0))  # type: ignore[attr-defined]

    @property
    def calibration(self) -> Calibration | None:
        return self._calibration

    @calibration.setter
    def calibration(self, value: Calibration | None) -> None:
        self._calibration = value
        self._ef_by_k = {}
        self._trusted_by_k = {}

    @classmethod
    def build(
        cls,
        vectors: FloatArray,
        metric: str,
        *,
        m: int,
        ef_construction: int,
        target_recall: float | None = None,
        between_chunks: Callable[[], None] = lambda: None,
        quantized: bool = False,
    ) -> AnnIndex:
        """Build in chunks, calling `between_chunks` before each: it may pause the build (to leave
        the machine to a bulk load) or raise to stop it (a closing store: a faiss call still running
        when the interpreter exits aborts the process). With `target_recall`, the graph calibrates
        its search width on a random sample of the rows before they are added (see calibrate.py).
        `quantized` stores 8-bit codes instead of the rows; `vectors` must then be passed to its
        searches (the same rows, row r at label r)."""
        d = vectors.shape[1]
        cls.set_build_threads(1)
        faiss_metric = faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
        index: faiss.Index
        if quantized:
            index = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, m, faiss_metric)  # type: ignore[arg-type]
            _train_quantizer(index, vectors, metric)
        else:
            index = faiss.IndexHNSWFlat(d, m, faiss_metric)
        index.hnsw.efConstruction = ef_construction
        built = cls(index, metric)
        built._add_calibrating(vectors, target_recall, between_chunks)
        return built

    def _add_calibrating(
        self, vectors: FloatArray, target_recall: float | None, between_chunks: Callable[[], None]
    ) -> None:
        """Add the rows of `vectors` past the graph's current ones; with `target_recall`, hold a random
        sample of them out, calibrate on it against everything added before, then add it too and put
        the nodes back in row order (graph_order.py says why the sample is random)."""
        start = self.ntotal
        rows = vectors[start:]
        wanted = held_out_count(len(vectors)) if target_recall is not None else 0
        # Fewer new rows than that (a small extension) would measure too coarsely: keep the old figures.
        if target_recall is None or not wanted or len(rows) < wanted:
            _add_in_chunks(self._index, rows, np.arange(len(rows)), self.metric, between_chunks)
            self.ntotal = int(self._index.ntotal)
            return
        # Seeded by the sizes: the same rows always hold out the same sample (reproducible builds).
        rng = np.random.default_rng([start, len(rows)])
        held = np.sort(rng.choice(len(rows), wanted, replace=False))
        kept = np.delete(np.arange(len(rows)), held)
        _add_in_chunks(self._index, rows, kept, self.metric, between_chunks)
        self.ntotal = int(self._index.ntotal)
        if self.quantized:
            # Labels are not row numbers until the held-out rows are back in row order.
            label_rows = np.concatenate([np.arange(start, dtype=np.int64), start + kept])

            def search(queries: FloatArray, k: int, ef: int) -> IntArray:
                return self._search_rows(queries, k, ef, vectors, label_rows)

            def exact(queries: FloatArray, k: int) -> IntArray:
                return exact_top_k(vectors, label_rows, queries, self.metric, k)

        else:
            search, exact = self.search_many, self._exact
        self.calibration = calibrate(
            self.ntotal,
            np.asarray(rows[held]),
            self.metric,
            search,
            exact,
            target_recall=target_recall,
            between_steps=between_chunks,
        )
        _add_in_chunks(self._index, rows, held, self.metric, between_chunks)
        self.ntotal = int(self._index.ntotal)
        hnsw = self._index.hnsw  # type: ignore[attr-defined]
        hnsw.entry_point = restore_row_order(_graph_arrays(self._index), hnsw.entry_point, start, kept, held)

    def _exact(self, queries: FloatArray, k: int) -> IntArray:
        """Brute-force top-k over every row in the graph (queries already normalised for cosine), on
        the graph's own flat storage: no copy of the rows (which it holds normalised for cosine), and
        faiss' scan keeps a heap per query, 5x cheaper than a numpy argpartition over every score."""
        storage = faiss.downcast_index(self._index.storage)  # type: ignore[attr-defined]
        _, labels = storage.search(np.ascontiguousarray(queries, dtype=np.float32), k)
        return np.asarray(labels, dtype=np.int64)

    @staticmethod
    def set_build_threads(spare: int) -> None:
        """Build on all cores but `spare` (for this thread: OpenMP's setting is per thread). Background
        builds leave a core to the foreground: with every core building, upserts on 2 cores slowed
        2-4x while a segment's graph was built."""
        faiss.omp_set_num_threads(max(1, (os.cpu_count() or 2) - spare))
        QUERY_THREAD.single = False  # this thread's next query pins it back to one

    def extended(
        self,
        vectors: FloatArray,
        between_chunks: Callable[[], None] = lambda: None,
        target_recall: float | None = None,
    ) -> AnnIndex:
        """A copy of this index over all of `vectors`: this graph's rows first (unchanged), then the
        rest, added after them so labels continue in row order.

        Compaction uses it to keep the largest input's graph instead of rebuilding it: inserting only
        the smaller inputs costs a fraction of a full build. It calibrates again on a sample of the
        new rows; with too few new rows to measure, it keeps this graph's calibration. A quantised
        graph keeps the ranges its quantiser learned.
        """
        if len(vectors) < self.ntotal:
            raise ValueError(f"extending a graph of {self.ntotal} rows with only {len(vectors)} rows in all")
        clone = AnnIndex(faiss.deserialize_index(faiss.serialize_index(self._index)), self.metric)
        clone.calibration = self.calibration
        clone._add_calibrating(vectors, target_recall, between_chunks)
        return clone

    def ef_for(self, top_k: int) -> int:
        """The calibrated efSearch for an unfiltered query of `top_k`."""
        ef = self._ef_by_k.get(top_k)
        if ef is None:
            cal = self._calibration
            ef = max(UNCALIBRATED_EF, top_k) if cal is None else cal.ef_for(top_k)
            if len(self._ef_by_k) < 256:
                self._ef_by_k[top_k] = ef
        return ef

    def trusted_for(self, top_k: int) -> bool:
        """False when calibration found that no width on the ladder reaches the target recall."""
        trusted = self._trusted_by_k.get(top_k)
        if trusted is None:
            cal = self._calibration
            trusted = cal is None or cal.reaches(top_k)
            if len(self._trusted_by_k) < 256:
                self._trusted_by_k[top_k] = trusted
        return trusted

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        tmp.replace(path)
        if self.calibration is not None:
            self.calibration.save(calibration_path(path))

    @classmethod
    def load(cls, path: Path, metric: str, *, mmap: bool = True) -> AnnIndex:
        """Open a saved graph: memory-mapped (milliseconds; pages come in on demand) or read into RAM."""
        if mmap:
            index = cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC), metric, mapped=True)
        else:
            index = cls(faiss.read_index(str(path)), metric)
        index.calibration = Calibration.load(calibration_path(path))
        return index

    def search_many(
        self, queries: FloatArray, k: int, ef: int, vectors: FloatArray | None = None
    ) -> IntArray:
        """Rows of the k nearest neighbours of each query (-1 where fewer exist), unfiltered, on the
        calling thread's OpenMP setting (calibration runs in the background builder's). A quantised
        graph needs its `vectors` to re-score candidates."""
        if self.quantized:
            if vectors is None:
                raise ValueError("a quantised graph's searches need the block's vectors to re-score")
            return self._search_rows(queries, k, ef, vectors, None)
        q = as_faiss_input(queries, self.metric)
        _, labels = self._index.search(q, min(k, self.ntotal), params=_new_params(max(ef, k)))
        return np.asarray(labels, dtype=np.int64)

    def _search_rows(
        self, queries: FloatArray, k: int, ef: int, vectors: FloatArray, label_rows: IntArray | None
    ) -> IntArray:
        """A quantised graph's batch search: candidates by code, then the k best by exact score, as
        rows of `vectors` (`label_rows` maps labels to rows while they differ; None: the same)."""
        q = as_faiss_input(queries, self.metric)
        wide = min(_CANDIDATES_PER_RESULT * k, self.ntotal)
        _, labels = self._index.search(q, wide, params=_new_params(max(ef, wide)))
        labels = np.asarray(labels, dtype=np.int64)
        out = np.full((len(q), k), -1, dtype=np.int64)
        for i, found in enumerate(labels):
            found = found[found >= 0]
            candidates = found if label_rows is None else label_rows[found]
            rows, _ = rescore(vectors, q[i], candidates, self.metric, k)
            out[i, : len(rows)] = rows
        return out

    def _params(self, ef: int) -> faiss.SearchParametersHNSW:  # type: ignore[name-defined]
        # Read-only during a search, so one object per ef serves every thread (building one per
        # query cost ~10 us, a few percent of an HNSW search).
        params = self._params_by_ef.get(ef)
        if params is None:
            params = _new_params(ef)
            if len(self._params_by_ef) < 64:
                self._params_by_ef[ef] = params
        return params

    def search(
        self,
        query: FloatArray,
        k: int,
        ef: int,
        allowed: BoolArray | None,
        vectors: FloatArray | None = None,
    ) -> tuple[IntArray, FloatArray]:
        """(rows, scores) of up to k nearest neighbours among `allowed` rows (None: all), best first.

        The scores are the metric's own (cosine: inner product of the normalised vectors; euclidean:
        squared L2; dotproduct: inner product), computed in float32 over the stored vectors (a
        quantised graph: over `vectors`, the block's rows), so they agree with an exact scan to
        float32 rounding.
        """
        if self.quantized:
            if vectors is None:
                raise ValueError("a quantised graph's searches need the block's vectors to re-score")
            q, candidates = self.candidates(query, k, ef, allowed)
            return rescore(vectors, q, candidates, self.metric, k)
        q, rows, distances = self._search_one(query, k, ef, allowed)
        found = rows >= 0
        if found.all():
            return rows.astype(np.int64, copy=False), distances
        return rows[found].astype(np.int64, copy=False), distances[found]

    def candidates(
        self, query: FloatArray, k: int, ef: int, allowed: BoolArray | None
    ) -> tuple[FloatArray, IntArray]:
        """A quantised graph's (query as searched, candidate rows) for the k best: twice k, by
        code, for the caller to score exactly (search.py scores them as an exact scan would)."""
        wide = min(_CANDIDATES_PER_RESULT * k, self.ntotal)
        q, rows, _ = self._search_one(query, wide, ef, allowed)
        return q, rows[rows >= 0].astype(np.int64, copy=False)

    def _search_one(
        self, query: FloatArray, k: int, ef: int, allowed: BoolArray | None
    ) -> tuple[FloatArray, IntArray, FloatArray]:
        """(query as searched, labels, distances) of one query; -1 labels where fewer were found."""
        pin_query_thread()
        k = min(k, self.ntotal)
        # One row: normalised inline, cheaper per query than `_as_faiss_input`'s batch path.
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        if self.metric == "cosine":
            norm = float(np.sqrt(np.dot(q[0], q[0])))
            if norm > 0:
                q = q / np.float32(norm)
        if k <= 0:
            return q[0], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        ef = max(ef, k)
        if allowed is not None:
            params = _new_params(ef)  # its own: the selector differs per query
            bits = np.packbits(allowed[: self.ntotal].astype(np.uint8), bitorder="little")
            sel = faiss.IDSelectorBitmap(self.ntotal, faiss.swig_ptr(bits))
            params.sel = sel
            distances, labels = self._index.search(q, k, params=params)
            del sel, bits  # keep alive until the search has returned
        else:
            distances, labels = self._index.search(q, k, params=self._params(ef))
        return q[0], labels[0], distances[0]


def _graph_arrays(index: faiss.Index) -> GraphArrays:
    """Views of an HNSW graph's own buffers, for graph_order.py to rewrite in place."""

    def view(vector: Any, dtype: type[np.generic]) -> np.ndarray[Any, Any]:
        array = faiss.rev_swig_ptr(vector.data(), vector.size())
        assert array.dtype == dtype, (array.dtype, dtype)
        return array

    hnsw = index.hnsw  # type: ignore[attr-defined]
    return GraphArrays(
        codes=view(faiss.downcast_index(index.storage).codes, np.uint8),  # type: ignore[attr-defined]
        offsets=view(hnsw.offsets, np.uint64),
        neighbours=view(hnsw.neighbors, np.int32),
        levels=view(hnsw.levels, np.int32),
    )


def quantizes_well(dimension: int, min_dimension: int) -> bool:
    """Whether a graph of `dimension` should store 8-bit codes: from `min_dimension` up, and only when
    faiss' SIMD kernel for codes applies (8 dimensions at a time). Measured (stop 23): 1.3-1.8x the
    flat graph's q/s at 128-768-d; at 132-d and 50-d, where it falls back to scalar code, 0.35-0.45x."""
    return dimension >= min_dimension and dimension % 8 == 0


def _train_quantizer(index: faiss.Index, vectors: FloatArray, metric: str) -> None:
    """Learn the 8-bit quantiser's per-dimension ranges from the rows (or a seeded sample of them)."""
    n = len(vectors)
    storage = faiss.downcast_index(index.storage)  # type: ignore[attr-defined]
    if n > _TRAIN_ROWS:
        sample = np.sort(np.random.default_rng(n).choice(n, _TRAIN_ROWS, replace=False))
        rows = np.asarray(vectors[sample])
        storage.sq.rangestat_arg = _RANGE_MARGIN  # type: ignore[attr-defined]
    else:
        rows = np.asarray(vectors)
    index.train(as_faiss_input(rows, metric))


def _new_params(ef: int) -> faiss.SearchParametersHNSW:  # type: ignore[name-defined]
    params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
    params.efSearch = ef
    return params


def _add_in_chunks(
    index: faiss.Index,
    vectors: FloatArray,
    which: IntArray,
    metric: str,
    between_chunks: Callable[[], None],
) -> None:
    """Add the rows `which` (ascending) of `vectors`, a chunk at a time: a chunk's copy is the only one."""
    for start in range(0, len(which), BUILD_CHUNK):
        between_chunks()
        part = which[start : start + BUILD_CHUNK]
        if len(part) and part[-1] - part[0] == len(part) - 1:
            chunk = np.asarray(vectors[int(part[0]) : int(part[-1]) + 1])  # a run: a view, no gather
        else:
            chunk = np.asarray(vectors[part])
        index.add(as_faiss_input(chunk, metric))

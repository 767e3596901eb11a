"""Approximate nearest neighbours: the only module that imports the ANN library (faiss-cpu).

faiss was chosen over hnswlib because it ships wheels, is maintained, filters with a C++ IDSelector
(no Python callback per visited node) and opens saved indexes memory-mapped, so start-up never
rebuilds a graph. It cannot remove ids from HNSW: deletes are the block's `alive` mask passed as a
selector, and compaction rebuilds.

Cosine is inner product over normalised copies; euclidean is faiss' squared L2, which is also
Pinecone's euclidean score. The distances faiss returns are used as the scores: re-scoring the
returned rows through the memory-mapped vectors cost ~15% of a query and changed scores only in the
last float32 bits.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

from spruce.types import BoolArray, FloatArray, IntArray

_BUILD_CHUNK = 8192


def _as_faiss_input(vectors: FloatArray, metric: str) -> FloatArray:
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        x = np.ascontiguousarray(x / norms, dtype=np.float32)
    return x


class AnnIndex:
    def __init__(self, index: faiss.Index, metric: str, *, mapped: bool = False) -> None:
        self._index = index
        self.metric = metric
        self.mapped = mapped  # pages come from the file on demand (see Store.load_ann)
        self.ntotal = int(index.ntotal)
        self._params_by_ef: dict[int, faiss.SearchParametersHNSW] = {}  # type: ignore[name-defined]

    @classmethod
    def build(
        cls,
        vectors: FloatArray,
        metric: str,
        *,
        m: int,
        ef_construction: int,
        between_chunks: Callable[[], None] = lambda: None,
    ) -> AnnIndex:
        """Build in chunks, calling `between_chunks` before each: it may pause the build (to leave
        the machine to a bulk load) or raise to stop it (a closing store: a faiss call still running
        when the interpreter exits aborts the process)."""
        d = vectors.shape[1]
        cls.set_build_threads(1)
        faiss_metric = faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
        index = faiss.IndexHNSWFlat(d, m, faiss_metric)
        index.hnsw.efConstruction = ef_construction
        _add_in_chunks(index, vectors, metric, between_chunks)
        return cls(index, metric)

    @staticmethod
    def set_build_threads(spare: int) -> None:
        """Build on all cores but `spare` (for this thread: OpenMP's setting is per thread). Background
        builds leave a core to the foreground: with every core building, upserts on 2 cores slowed
        2-4x while a segment's graph was built."""
        faiss.omp_set_num_threads(max(1, (os.cpu_count() or 2) - spare))

    def extended(self, extra: FloatArray, between_chunks: Callable[[], None] = lambda: None) -> AnnIndex:
        """A copy of this index with `extra` added after its rows, so labels continue in row order.

        Compaction uses it to keep the largest input's graph instead of rebuilding it: inserting only
        the smaller inputs costs a fraction of a full build.
        """
        clone = faiss.deserialize_index(faiss.serialize_index(self._index))
        _add_in_chunks(clone, extra, self.metric, between_chunks)
        return AnnIndex(clone, self.metric)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, metric: str, *, mmap: bool = True) -> AnnIndex:
        """Open a saved graph: memory-mapped (milliseconds; pages come in on demand) or read into RAM."""
        if mmap:
            return cls(faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC), metric, mapped=True)
        return cls(faiss.read_index(str(path)), metric)

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
        self, query: FloatArray, k: int, ef: int, allowed: BoolArray | None
    ) -> tuple[IntArray, FloatArray]:
        """(rows, scores) of up to k nearest neighbours among `allowed` rows (None: all), best first.

        The scores are the metric's own (cosine: inner product of the normalised vectors; euclidean:
        squared L2; dotproduct: inner product), computed by faiss in float32 over the stored vectors,
        so they agree with an exact scan to float32 rounding.
        """
        # One query gains nothing from OpenMP, and waking the team cost ~2x per query here. The
        # setting is per thread (an OpenMP ICV), so set it in whichever thread is querying.
        faiss.omp_set_num_threads(1)
        k = min(k, self.ntotal)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        # One row: normalised inline, cheaper per query than `_as_faiss_input`'s batch path.
        q = np.asarray(query, dtype=np.float32).reshape(1, -1)
        if self.metric == "cosine":
            norm = float(np.sqrt(np.dot(q[0], q[0])))
            if norm > 0:
                q = q / np.float32(norm)
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
        rows = labels[0]
        found = rows >= 0
        if found.all():
            return rows.astype(np.int64, copy=False), distances[0]
        return rows[found].astype(np.int64, copy=False), distances[0][found]


def _new_params(ef: int) -> faiss.SearchParametersHNSW:  # type: ignore[name-defined]
    params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
    params.efSearch = ef
    return params


def _add_in_chunks(
    index: faiss.Index, vectors: FloatArray, metric: str, between_chunks: Callable[[], None]
) -> None:
    for start in range(0, len(vectors), _BUILD_CHUNK):
        between_chunks()
        index.add(_as_faiss_input(np.asarray(vectors[start : start + _BUILD_CHUNK]), metric))

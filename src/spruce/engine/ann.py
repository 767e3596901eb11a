"""Approximate nearest neighbours: the only module that imports the ANN library (faiss-cpu).

faiss was chosen over hnswlib because it ships wheels, is maintained, filters with a C++ IDSelector
(no Python callback per visited node) and opens saved indexes memory-mapped, so start-up never
rebuilds a graph. It cannot remove ids from HNSW: deletes are the block's `alive` mask passed as a
selector, and compaction rebuilds.

Cosine is inner product over normalised copies; euclidean is faiss' squared L2, which is also
Pinecone's euclidean score. Callers re-score the returned rows exactly, so faiss' float rounding
never leaks into results.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np
import numpy.typing as npt

from spruce.errors import ClosedError
from spruce.types import FloatArray

BoolArray = npt.NDArray[np.bool_]
_BUILD_CHUNK = 8192
IntArray = npt.NDArray[np.int64]


def _as_faiss_input(vectors: FloatArray, metric: str) -> FloatArray:
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        x = np.ascontiguousarray(x / norms, dtype=np.float32)
    return x


class AnnIndex:
    def __init__(self, index: faiss.Index, metric: str) -> None:
        self._index = index
        self.metric = metric
        self.ntotal = int(index.ntotal)

    @classmethod
    def build(
        cls,
        vectors: FloatArray,
        metric: str,
        *,
        m: int,
        ef_construction: int,
        cancelled: Callable[[], bool] = lambda: False,
    ) -> AnnIndex:
        """Build in chunks so a closing store can stop a long build between them (a faiss call
        still running when the interpreter exits aborts the process)."""
        d = vectors.shape[1]
        # Background builds leave a core to the foreground (ingest, queries): with every core
        # building, upserts on 2 cores slowed 2-4x while a segment's graph was built.
        faiss.omp_set_num_threads(max(1, (os.cpu_count() or 2) - 1))
        faiss_metric = faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
        index = faiss.IndexHNSWFlat(d, m, faiss_metric)
        index.hnsw.efConstruction = ef_construction
        for start in range(0, len(vectors), _BUILD_CHUNK):
            if cancelled():
                raise ClosedError("HNSW build cancelled: the store is closing")
            index.add(_as_faiss_input(vectors[start : start + _BUILD_CHUNK], metric))
        return cls(index, metric)

    def extended(self, extra: FloatArray) -> AnnIndex:
        """A copy of this index with `extra` added after its rows, so labels continue in row order.

        Compaction uses it to keep the largest input's graph instead of rebuilding it: inserting only
        the smaller inputs costs a fraction of a full build.
        """
        clone = faiss.deserialize_index(faiss.serialize_index(self._index))
        if len(extra):
            clone.add(_as_faiss_input(np.asarray(extra), self.metric))
        return AnnIndex(clone, self.metric)

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(path.suffix + ".tmp")
        faiss.write_index(self._index, str(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path, metric: str) -> AnnIndex:
        # Memory-mapped: opening costs milliseconds and pages come in on demand.
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        return cls(index, metric)

    def search(self, query: FloatArray, k: int, ef: int, allowed: BoolArray | None) -> IntArray:
        """Rows (ascending rank) of up to k nearest neighbours among `allowed` rows (None: all)."""
        # One query gains nothing from OpenMP, and waking the team cost ~2x per query here. The
        # setting is per thread (an OpenMP ICV), so set it in whichever thread is querying.
        faiss.omp_set_num_threads(1)
        q = _as_faiss_input(query.reshape(1, -1), self.metric)
        k = min(k, self.ntotal)
        if k <= 0:
            return np.zeros(0, dtype=np.int64)
        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        params.efSearch = max(ef, k)
        if allowed is not None:
            bits = np.packbits(allowed[: self.ntotal].astype(np.uint8), bitorder="little")
            sel = faiss.IDSelectorBitmap(self.ntotal, faiss.swig_ptr(bits))
            params.sel = sel
            _, labels = self._index.search(q, k, params=params)
            del sel, bits  # keep alive until the search has returned
        else:
            _, labels = self._index.search(q, k, params=params)
        rows = labels[0]
        return np.asarray(rows[rows >= 0], dtype=np.int64)

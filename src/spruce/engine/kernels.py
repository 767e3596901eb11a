"""faiss' flat kernels: scoring rows against a query, and brute-force top-k over rows.

With ann.py (the graphs), the only modules that import faiss. These kernels are single-threaded SIMD
loops that release the GIL: per query they beat numpy, whose BLAS thread pool would have to be
limited on every call, and a heap per query beats an argpartition over every score. A scan large
enough to pay for a hand-off is split over idle cores (`_split`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import Future
from itertools import pairwise

import faiss
import numpy as np

from spruce.engine.lazy_pool import LazyPool
from spruce.types import FloatArray, IntArray

# Rows copied at a time when vectors are added to a graph or scanned for a ground truth.
BUILD_CHUNK = 8192
# Per-thread flag: this thread's OpenMP team is already pinned to one thread for queries.
QUERY_THREAD = threading.local()


def choose_simd_level() -> str:
    """faiss dispatches its kernels at run time by the CPU's best SIMD level. On Sapphire Rapids that
    is AVX512_SPR, where the 8-bit codes' distance kernel ran 1.36x slower than at plain AVX512 (a
    30k x 768 graph over codes: 2,102 against 2,863 q/s; its build 18.3 against 14.4 s) and the flat
    kernels the same (2,028 against 2,004): step down to AVX512 there. FAISS_SIMD_LEVEL, when set,
    is faiss' own override and is left alone. Returns the level in use."""
    config = getattr(faiss, "SIMDConfig", None)
    if config is None:  # a faiss built without dynamic dispatch: nothing to choose
        return "static"
    if not os.environ.get("FAISS_SIMD_LEVEL") and config.get_level() == faiss.SIMDLevel_AVX512_SPR:
        config.set_level(faiss.SIMDLevel_AVX512)
    return str(config.get_level_name())


SIMD_LEVEL = choose_simd_level()


def as_faiss_input(vectors: FloatArray, metric: str) -> FloatArray:
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if metric == "cosine":
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        x = np.ascontiguousarray(x / norms, dtype=np.float32)
    return x


def pin_query_thread() -> None:
    """One query gains nothing from OpenMP, and waking the team cost ~2x per query (a graph search)
    and ~5x (scoring 200 rows by index). The setting is per thread (an OpenMP ICV), so it is set once
    in each thread that queries; call before any faiss call on a query's path."""
    if not getattr(QUERY_THREAD, "single", False):
        faiss.omp_set_num_threads(1)
        QUERY_THREAD.single = True


# A scan is split across cores in parts of at least this many floats (~0.5 ms of one core's SIMD
# loop): a hand-off to a pool thread cost ~0.2 ms of latency (2-core VM), so 10k x 768 rows went
# from 1.20 to 0.85 ms in two parts while 5k rows gained nothing (0.60 -> 0.55 ms in parts of 1M).
SPLIT_MIN_FLOATS = 2_000_000
_CORES = os.cpu_count() or 1
# Pool threads take parts of a scan only when free (`free`): a query that finds none runs its scan
# whole, since under concurrent queries every core is busy already, and queueing parts behind other
# queries' would only add waits.
_SCAN_POOL = LazyPool(_CORES - 1, "spruce-scan")
_PART_ALIGN = 64


def _split(n: int, dim: int, run: Callable[[int, int], None]) -> None:
    """Call run(start, stop) over rows 0..n, in parts on idle cores when the scan is large enough;
    each part writes its own slice of the output, so the result is the same however it is split
    (one query alone on a 2-core machine: top_k 100 scanned 100k x 768 at 40 q/s on one core
    while numpy's two BLAS threads ran 90)."""
    parts = min(_CORES, n * max(dim, 1) // SPLIT_MIN_FLOATS)
    taken = 0
    free = _SCAN_POOL.free
    while taken < parts - 1 and free.acquire(blocking=False):
        taken += 1
    if not taken:
        run(0, n)
        return
    # Part boundaries on multiples of _PART_ALIGN rows: faiss' kernel scores rows in small groups
    # from the start of what it is given, and a group cut elsewhere rounds differently in the last
    # bit, so a query's scores would depend on whether a helper happened to be free.
    bounds = [min(n, round(n * i / (taken + 1) / _PART_ALIGN) * _PART_ALIGN) for i in range(taken + 2)]
    bounds[-1] = n
    futures: list[Future[None]] = []
    try:
        for start, stop in pairwise(bounds[1:]):
            futures.append(_SCAN_POOL.get().submit(_helped, free, run, start, stop))
        run(bounds[0], bounds[1])
    finally:
        for future in futures:
            future.result()
        for _ in range(taken - len(futures)):
            free.release()  # parts never submitted (submit failed)


def _helped(free: threading.Semaphore, run: Callable[[int, int], None], start: int, stop: int) -> None:
    try:
        pin_query_thread()
        run(start, stop)
    finally:
        free.release()


def inner_products(dense: FloatArray, q: FloatArray, n: int) -> FloatArray:
    """q . dense[i] for the first n rows, on faiss' single-threaded SIMD kernel (no BLAS thread pool to
    limit per query, GIL released). Both arrays C-contiguous float32."""
    pin_query_thread()
    out = np.empty(n, dtype=np.float32)
    dim = dense.shape[1]

    def run(start: int, stop: int) -> None:
        faiss.fvec_inner_products_ny(  # type: ignore[attr-defined]
            faiss.swig_ptr(out[start:]), faiss.swig_ptr(q), faiss.swig_ptr(dense[start:]), dim, stop - start
        )

    _split(n, dim, run)
    return out


def inner_products_by_index(dense: FloatArray, q: FloatArray, rows: IntArray) -> FloatArray:
    """q . dense[r] for r in rows, read where the rows lie (no gathered copy)."""
    pin_query_thread()
    out = np.empty(len(rows), dtype=np.float32)
    index = np.ascontiguousarray(rows, dtype=np.int64)
    dim = dense.shape[1]

    def run(start: int, stop: int) -> None:
        faiss.fvec_inner_products_by_idx(  # type: ignore[attr-defined]
            faiss.swig_ptr(out[start:]),
            faiss.swig_ptr(q),
            faiss.swig_ptr(dense),
            faiss.swig_ptr(index[start:]),
            dim,
            1,
            stop - start,
        )

    _split(len(rows), dim, run)
    return out


def exact_top_k(vectors: FloatArray, rows: IntArray, queries: FloatArray, metric: str, k: int) -> IntArray:
    """For each query (normalised for cosine), the k best of `rows` of `vectors` by brute force, best
    first, as row numbers (shape (q, k)). In chunks, so only a chunk of the rows is ever copied; faiss'
    scan keeps a heap per query (5x cheaper than a numpy argpartition over every score)."""
    q = np.ascontiguousarray(queries, dtype=np.float32)
    faiss_metric = faiss.METRIC_L2 if metric == "euclidean" else faiss.METRIC_INNER_PRODUCT
    found_rows: list[IntArray] = []
    found_scores: list[FloatArray] = []
    for start in range(0, len(rows), BUILD_CHUNK):
        part = np.asarray(rows[start : start + BUILD_CHUNK], dtype=np.int64)
        chunk = as_faiss_input(np.asarray(vectors[part]), metric)
        scores, local = faiss.knn(q, chunk, min(k, len(part)), metric=faiss_metric)
        found_rows.append(part[local])
        found_scores.append(np.asarray(scores, dtype=np.float32))
    all_rows = np.concatenate(found_rows, axis=1)
    all_scores = np.concatenate(found_scores, axis=1)
    keys = all_scores if metric == "euclidean" else -all_scores
    order = np.argsort(keys, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(all_rows, order, axis=1)

"""Graph builds: time to graph against raw faiss, and the build levers, chosen by QPS at recall 0.99.

For each configuration (M, efConstruction, storage flat / SQ8 / fp16 with exact re-ranking, build
threads, add batch size) it builds the graph, finds the smallest efSearch reaching recall@10 >= 0.99 on
held-out queries (engine/calibrate.py: the same measurement Spruce runs on every graph), then times
single-query searches at that width on fresh queries and measures their recall against brute force.
Raw faiss' build of the same graph is timed in the same run, next to Spruce's (AnnIndex.build, which
adds the calibration). Last, a compaction-style merge: extending a graph of 80% of the rows with the
other 20% (AnnIndex.extended) against a full build of all of them.

    .venv/bin/python benchmarks/graphs.py --data clustered --n 20000 --dim 768
    .venv/bin/python benchmarks/graphs.py --data glove --n 50000
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from datasets import Dataset, clustered, exact_top_k, glove, recall_at_k

from spruce.engine.ann import AnnIndex
from spruce.engine.calibrate import calibrate

K = 10
TARGET = 0.99
HELD = 500  # calibration queries, held out of the graph as Spruce does
BATCH = 8192


def uptime() -> str:
    return os.popen("uptime").read().strip()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def raw_build(x: np.ndarray[Any, Any], m: int, efc: int, storage: str, threads: int, batch: int) -> Any:
    faiss.omp_set_num_threads(threads)
    d = x.shape[1]
    if storage == "flat":
        index = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
    else:
        qt = faiss.ScalarQuantizer.QT_8bit if storage == "sq8" else faiss.ScalarQuantizer.QT_fp16
        index = faiss.IndexHNSWSQ(d, qt, m, faiss.METRIC_INNER_PRODUCT)
        index.train(x[: min(len(x), 20_000)])
    index.hnsw.efConstruction = efc
    for start in range(0, len(x), batch):
        index.add(x[start : start + batch])
    return index


def searcher(index: Any, base: np.ndarray[Any, Any], rerank: bool) -> Callable[[Any, int, int], Any]:
    """Batch search at width ef; with `rerank`, the ef best candidates of the compressed graph are
    scored exactly against the float32 vectors and the k best kept."""

    def search(q: Any, k: int, ef: int) -> Any:
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(ef, k)
        want = max(ef, k) if rerank else k
        _, labels = index.search(np.ascontiguousarray(q, dtype=np.float32), want, params=params)
        if not rerank:
            return labels
        out = np.empty((len(q), k), dtype=np.int64)
        for i, cand in enumerate(labels):
            cand = cand[cand >= 0]
            scores = base[cand] @ q[i]
            out[i] = cand[np.argsort(-scores)[:k]]
        return out

    return search


def exact(rows: Any, queries: Any, k: int) -> Any:
    _, labels = faiss.knn(queries, rows, k, faiss.METRIC_INNER_PRODUCT)
    return labels


def measure(
    search: Callable[[Any, int, int], Any], ds: Dataset, graph: np.ndarray[Any, Any], held: Any
) -> dict[str, float]:
    """Calibrated ef (on held-out rows), then single-query QPS and recall on the fresh queries."""
    faiss.omp_set_num_threads(1)
    cal = calibrate(
        len(graph), held, "cosine", search, lambda q, k: exact(graph, q, k), target_recall=TARGET, ks=(K,)
    )
    ef = cal.efs[0]
    truth = exact_top_k(graph, ds.queries, K)
    found = []
    t0 = time.perf_counter()
    for q in ds.queries:
        found.append(search(q.reshape(1, -1), K, ef)[0].tolist())
    elapsed = time.perf_counter() - t0
    return {"ef": ef, "qps": len(ds.queries) / elapsed, "recall": recall_at_k(found, truth)}


def row(name: str, raw_s: float, spruce_s: float | None, m: dict[str, float]) -> None:
    sp = f"{spruce_s:7.1f} s {spruce_s / raw_s:5.2f}x" if spruce_s is not None else " " * 16
    print(
        f"| {name:<34} | {raw_s:6.1f} s | {sp} | {m['ef']:5.0f} | {m['qps']:7.0f} | {m['recall']:.3f} |",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=["clustered", "glove"], default="clustered")
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--quick", action="store_true", help="only the default configuration and the merge")
    args = ap.parse_args()
    ds = (
        clustered(args.n + HELD, args.dim, args.queries)
        if args.data == "clustered"
        else glove(args.n + HELD, args.queries)
    )
    graph, held = ds.vectors[: args.n], ds.vectors[args.n :]
    base = Dataset(vectors=graph, buckets=ds.buckets[: args.n], queries=ds.queries)
    print(f"# {args.data} {args.n:,} x {ds.dim}, recall@{K} target {TARGET}; {uptime()}")
    print("| configuration | raw faiss build | Spruce build (ratio) | ef@0.99 | QPS | recall@10 |")
    print("|---|---|---|---|---|---|")
    configs: list[tuple[int, int, str, int, int]] = [(32, 100, "flat", 2, BATCH)]
    if not args.quick:
        configs += [
            (32, 100, "flat", 1, BATCH),
            (32, 100, "flat", 2, 1024),
            (32, 100, "flat", 2, args.n),
            (16, 100, "flat", 2, BATCH),
            (32, 40, "flat", 2, BATCH),
            (32, 200, "flat", 2, BATCH),
            (16, 40, "flat", 2, BATCH),
            (32, 100, "sq8", 2, BATCH),
            (32, 100, "fp16", 2, BATCH),
        ]
    for m, efc, storage, threads, batch in configs:
        raw_s, index = timed(
            lambda m=m, efc=efc, s=storage, t=threads, b=batch: raw_build(graph, m, efc, s, t, b)
        )
        spruce_s = None
        if storage == "flat" and batch == BATCH:
            # Spruce's own build of the same graph (plus its calibration), next to raw faiss'.
            spruce_s, _ = timed(
                lambda m=m, efc=efc, t=threads: AnnIndex.build(
                    graph,
                    "cosine",
                    m=m,
                    ef_construction=efc,
                    target_recall=TARGET,
                    between_chunks=lambda: faiss.omp_set_num_threads(t),
                )
            )
        rerank = storage != "flat"
        result = measure(searcher(index, graph, rerank), base, graph, held)
        name = f"M{m} efC{efc} {storage}{' +rerank' if rerank else ''} {threads}T batch {batch}"
        row(name, raw_s, spruce_s, result)
    # A compaction merge: extend the largest input's graph with the rest, against a full rebuild.
    split = int(args.n * 0.8)
    two = lambda: faiss.omp_set_num_threads(2)  # noqa: E731
    first = AnnIndex.build(
        graph[:split], "cosine", m=32, ef_construction=100, target_recall=TARGET, between_chunks=two
    )
    merge_s, merged = timed(lambda: first.extended(graph, two, TARGET))
    full_s, _ = timed(
        lambda: AnnIndex.build(
            graph, "cosine", m=32, ef_construction=100, target_recall=TARGET, between_chunks=two
        )
    )
    print(
        f"\nmerge of {split:,} + {args.n - split:,} rows: extending the larger graph {merge_s:.1f} s, "
        f"full rebuild {full_s:.1f} s (ratio {merge_s / full_s:.2f}); merged graph calibrated ef "
        f"{merged.calibration.efs[0] if merged.calibration else '-'}; {uptime()}"
    )


if __name__ == "__main__":
    main()

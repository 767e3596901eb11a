"""Calibration on data inserted in sorted order: a random held-out sample against the last rows.

    python benchmarks/sorted_inserts.py [--data glove|clustered] [--n 50000] [--queries 1000]

Rows go into the graph in two orders: shuffled, and sorted along the data's first principal axis (what
inserting by topic or by time looks like). For each, the graph calibrates its search width two ways in
the same run: the engine's rule (`AnnIndex.build`: a random sample held out) and the earlier rule (the
segment's last rows held out, replayed here with the same `calibrate` on a graph of its own, built
the same way). Then the benchmark's own
queries, which neither saw, are searched at each chosen width and scored against brute force: the width
is right when their recall@10 reaches the target (0.99) without a wider beam than that needs.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import faiss
import numpy as np
from datasets import clustered, exact_top_k, glove, recall_at_k

from spruce.engine.ann import AnnIndex
from spruce.engine.calibrate import calibrate, held_out_count

TARGET = 0.99
M, EF_CONSTRUCTION = 16, 100


def last_rows_width(rows: np.ndarray[Any, Any]) -> int:
    """The earlier rule: a graph of all rows but the last ones, calibrated on those."""
    held = held_out_count(len(rows))
    graph = faiss.IndexHNSWFlat(rows.shape[1], M, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = EF_CONSTRUCTION
    graph.add(rows[: len(rows) - held])

    def search(q: np.ndarray[Any, Any], k: int, ef: int) -> Any:
        params = faiss.SearchParametersHNSW()
        params.efSearch = ef
        return graph.search(q, k, params=params)[1]

    def exact(q: np.ndarray[Any, Any], k: int) -> Any:
        return faiss.downcast_index(graph.storage).search(q, k)[1]

    cal = calibrate(len(rows) - held, rows[len(rows) - held :], "cosine", search, exact, ks=(10,))
    return cal.efs[0]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", choices=["glove", "clustered"], default="glove")
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=1_000)
    args = parser.parse_args()
    ds = (
        glove(args.n, args.queries)
        if args.data == "glove"
        else clustered(args.n, 128, args.queries, n_clusters=100)
    )
    centred = ds.vectors - ds.vectors.mean(axis=0)
    axis = np.linalg.svd(centred[:5_000], full_matrices=False)[2][0]
    orders = {"shuffled": np.random.default_rng(0).permutation(ds.n), "sorted": np.argsort(centred @ axis)}
    faiss.omp_set_num_threads(1)
    print(
        f"Calibration by insertion order, {args.data} {ds.n:,} x {ds.dim}, "
        f"{len(ds.queries)} new queries, target {TARGET}"
    )
    print(
        f"{'order':10} {'rule':18} {'width':>6} {'recall@10 of new queries':>26}"
        f"  {'smallest width reaching it':>27}"
    )
    for name, order in orders.items():
        rows = np.ascontiguousarray(ds.vectors[order])
        truth = exact_top_k(rows, ds.queries, 10)
        t0 = time.perf_counter()
        built = AnnIndex.build(rows, "cosine", m=M, ef_construction=EF_CONSTRUCTION, target_recall=TARGET)
        build_s = time.perf_counter() - t0
        assert built.calibration is not None
        need = next(
            (
                ef
                for ef in (16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 512)
                if recall_at_k(built.search_many(ds.queries, 10, ef).tolist(), truth) >= TARGET
            ),
            None,
        )
        for rule, width in (
            ("random sample", built.calibration.efs[0]),
            ("last rows (before)", last_rows_width(rows)),
        ):
            recall = recall_at_k(built.search_many(ds.queries, 10, width).tolist(), truth)
            verdict = "reaches" if recall >= TARGET else "MISSES"
            print(f"{name:10} {rule:18} {width:>6} {recall:>18.4f} {verdict:>7}  {need!s:>27}")
        print(f"{'':10} (build with calibration {build_s:.1f} s, one core)")


if __name__ == "__main__":
    main()

"""`engine.py --lean`: the query path alone, against numpy doing only the math.

    python benchmarks/engine.py --lean [--data glove] [--n 20000] [--dim 50] [--queries 500]

Loads the data once (durable, then flushed so every segment has its graph), then measures, one query per
call on one thread, in interleaved chunks of 10 queries so both sides see the same load:

- unfiltered at the defaults (calibrated ef, planner's choice) against numpy brute force over all rows
  (one mat-vec, argpartition, sort): target ratio >= 1.0;
- filters of 1% and 10% against numpy scoring only the allowed rows, gathered beforehand (the least work
  any engine could do for an exact answer): target ratio >= 0.5 at 1%.

Also: 1% through a different filter on every query (`$in` of 10 random buckets out of 25 such filters,
cycled), so no cache holds the answer, against numpy on each filter's rows gathered beforehand; and the
floor of the API, `Index.query` with the same filter on an empty index (validation, filter parse, lock,
response object, no math): a ratio against numpy cannot beat numpy's time / (floor + numpy's time).

Recall@10 is against exact ground truth; numpy's own answers are exact by construction.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from datasets import N_BUCKETS, clustered, exact_top_k, glove, recall_at_k
from engine import run_spruce_queries
from threadpoolctl import threadpool_limits

import spruce
from spruce.config import EngineConfig

INDEX = "lean"
TOP_K = 10
CHUNK = 10
ROUNDS = 3
BATCH = 1_000


def numpy_top_k(
    mat: np.ndarray, rows: np.ndarray | None, queries: np.ndarray
) -> tuple[float, list[list[int]]]:
    """q/s of the bare math: scores of every row of `mat` (unit rows: cosine is the dot), top-k."""
    found: list[list[int]] = []
    busy = 0.0
    for q in queries:
        t0 = time.perf_counter()
        scores = mat @ q
        part = np.argpartition(-scores, TOP_K - 1)[:TOP_K]
        top = part[np.argsort(-scores[part])]
        busy += time.perf_counter() - t0
        found.append((top if rows is None else rows[top]).tolist())
    return len(queries) / busy, found


def numpy_per_filter(
    mats: list[np.ndarray], rows: list[np.ndarray], queries: np.ndarray, offset: int
) -> tuple[float, list[list[int]]]:
    """numpy_top_k where query i uses gathered filter (offset + i) % len(mats)."""
    found: list[list[int]] = []
    busy = 0.0
    for i, q in enumerate(queries):
        j = (offset + i) % len(mats)
        t0 = time.perf_counter()
        scores = mats[j] @ q
        part = np.argpartition(-scores, TOP_K - 1)[:TOP_K]
        top = part[np.argsort(-scores[part])]
        busy += time.perf_counter() - t0
        found.append(rows[j][top].tolist())
    return len(queries) / busy, found


def spruce_per_filter(
    ix: Any, filters: list[dict[str, Any]], queries: np.ndarray, offset: int
) -> tuple[float, list[list[int]]]:
    found: list[list[int]] = []
    busy = 0.0
    for i, q in enumerate(queries):
        flt = filters[(offset + i) % len(filters)]
        t0 = time.perf_counter()
        res = ix.query(vector=q, top_k=TOP_K, filter=flt)
        busy += time.perf_counter() - t0
        found.append([int(m.id) for m in res.matches])
    return len(queries) / busy, found


def interleaved(
    a: Callable[[np.ndarray], tuple[float, list[list[int]]]],
    b: Callable[[np.ndarray], tuple[float, list[list[int]]]],
    queries: np.ndarray,
) -> tuple[float, list[list[int]], float]:
    """(a's q/s, a's answers of the last round, b's q/s) over alternating chunks."""
    a(queries[:20])
    b(queries[:20])
    ta = tb = 0.0
    total = 0
    found: list[list[int]] = []
    for r in range(ROUNDS):
        last: list[list[int]] = []
        for start in range(0, len(queries), CHUNK):
            part = queries[start : start + CHUNK]
            qa, fa = a(part)
            qb, _ = b(part)
            ta += len(part) / qa
            tb += len(part) / qb
            total += len(part)
            last.extend(fa)
        if r == ROUNDS - 1:
            found = last
    return total / ta, found, total / tb


def lean_main(args: Any) -> None:
    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    ds = glove(args.n, args.queries) if args.data == "glove" else clustered(args.n, args.dim, args.queries)
    truth = exact_top_k(ds.vectors, ds.queries, TOP_K)
    scratch = Path(tempfile.mkdtemp(prefix="spruce-lean-", dir=args.dir))
    rows_out: list[tuple[str, str, str]] = []
    try:
        db = spruce.Client(path=scratch / "db", config=EngineConfig())
        db.create_index(INDEX, dimension=ds.dim, metric="cosine")
        ix = db.Index(INDEX)
        for start in range(0, ds.n, BATCH):
            stop = min(ds.n, start + BATCH)
            ids = ds.ids(start, stop)
            ix.upsert(
                vectors=[
                    (ids[i], ds.vectors[start + i], {"bucket": int(ds.buckets[start + i])})
                    for i in range(stop - start)
                ]
            )
        t0 = time.perf_counter()
        ix.flush()
        segs = ix._svc.store.namespaces[""].sealed  # report only: the layout the planner saw
        log(
            f"loaded {ds.n} x {ds.dim}, flush {time.perf_counter() - t0:.1f}s, segments {[b.n for b in segs]}"
        )

        with threadpool_limits(limits=1, user_api="blas"):
            s_qps, found, n_qps = interleaved(
                lambda qs: run_spruce_queries(ix, qs, None),
                lambda qs: numpy_top_k(ds.vectors, None, qs),
                ds.queries,
            )
            rec = recall_at_k(found, truth)
            ratio = s_qps / n_qps
            ok = "meets" if ratio >= 1.0 else "MISSES"
            rows_out.append(("unfiltered, defaults", f"{s_qps:,.0f} q/s", f"recall@10 {rec:.4f}"))
            rows_out.append(
                (
                    f"  numpy brute force, {ds.n:,} rows",
                    f"{n_qps:,.0f} q/s",
                    f"ratio {ratio:.2f}; {ok} >= 1.0",
                )
            )
            log(f"unfiltered: spruce {s_qps:,.0f} q/s (recall {rec:.4f}) vs numpy {n_qps:,.0f} = {ratio:.2f}")
            for sel in (0.01, 0.10):
                k = round(sel * N_BUCKETS)
                allowed = ds.buckets < k
                rows = np.flatnonzero(allowed)
                mat = np.ascontiguousarray(ds.vectors[rows])
                ftruth = exact_top_k(ds.vectors, ds.queries, TOP_K, allowed)
                flt = {"bucket": {"$lt": k}}
                s_qps, found, n_qps = interleaved(
                    lambda qs, f=flt: run_spruce_queries(ix, qs, f),  # type: ignore[misc]
                    lambda qs, m=mat, r=rows: numpy_top_k(m, r, qs),  # type: ignore[misc]
                    ds.queries,
                )
                rec = recall_at_k(found, ftruth)
                ratio = s_qps / n_qps
                target = " >= 0.5 (within 2x)" if sel <= 0.01 else ""
                ok = ("meets" if ratio >= 0.5 else "MISSES") + target if target else ""
                rows_out.append(
                    (f"filtered {sel:.0%} ({len(rows):,} rows)", f"{s_qps:,.0f} q/s", f"recall@10 {rec:.4f}")
                )
                rows_out.append(
                    (
                        "  numpy on the allowed rows alone",
                        f"{n_qps:,.0f} q/s",
                        f"ratio {ratio:.2f} {ok}".rstrip(),
                    )
                )
                log(f"filter {sel:.0%}: {s_qps:,.0f} q/s (recall {rec:.4f}), numpy {n_qps:,.0f}: {ratio:.2f}")
            # 1%, a different filter on every query: nothing cached holds the answer.
            rng = np.random.default_rng(7)
            picks = [rng.choice(N_BUCKETS, round(0.01 * N_BUCKETS), replace=False) for _ in range(25)]
            filters = [{"bucket": {"$in": [int(b) for b in p]}} for p in picks]
            frows = [np.flatnonzero(np.isin(ds.buckets, p)) for p in picks]
            fmats = [np.ascontiguousarray(ds.vectors[r]) for r in frows]
            position = {"s": 0, "n": 0}

            def spruce_cold(qs: np.ndarray) -> tuple[float, list[list[int]]]:
                out = spruce_per_filter(ix, filters, qs, position["s"])
                position["s"] += len(qs)
                return out

            def numpy_cold(qs: np.ndarray) -> tuple[float, list[list[int]]]:
                out = numpy_per_filter(fmats, frows, qs, position["n"])
                position["n"] += len(qs)
                return out

            s_qps, found, n_qps = interleaved(spruce_cold, numpy_cold, ds.queries)
            # Recall of the last round: its queries used filters (offset + i) % 25 from that round's start.
            start = position["s"] - len(ds.queries)
            cold_truth = []
            for i in range(len(ds.queries)):
                allowed = np.zeros(ds.n, dtype=np.bool_)
                allowed[frows[(start + i) % len(frows)]] = True
                cold_truth.append(exact_top_k(ds.vectors, ds.queries[i : i + 1], TOP_K, allowed)[0])
            rec = recall_at_k(found, np.asarray(cold_truth))
            ratio = s_qps / n_qps
            rows_out.append(
                (
                    f"filtered 1%, a new filter each query (~{len(frows[0]):,} rows)",
                    f"{s_qps:,.0f} q/s",
                    f"recall@10 {rec:.4f}",
                )
            )
            rows_out.append(
                ("  numpy on each filter's rows alone", f"{n_qps:,.0f} q/s", f"ratio {ratio:.2f}")
            )
            log(f"filter 1% cold: {s_qps:,.0f} q/s (recall {rec:.4f}), numpy {n_qps:,.0f}: {ratio:.2f}")

            # The floor: the same call with nothing to score.
            db.create_index(INDEX + "-empty", dimension=ds.dim, metric="cosine")
            empty = db.Index(INDEX + "-empty")
            flt = {"bucket": {"$lt": round(0.01 * N_BUCKETS)}}
            f_qps, _, n_qps = interleaved(
                lambda qs: run_spruce_queries(empty, qs, flt),
                lambda qs, m=fmats[0], r=frows[0]: numpy_top_k(m, r, qs),  # type: ignore[misc]
                ds.queries,
            )
            floor_us = 1e6 / f_qps
            numpy_us = 1e6 / n_qps
            rows_out.append(
                (
                    "floor: Index.query on an empty index, 1% filter",
                    f"{f_qps:,.0f} q/s",
                    f"{floor_us:.1f} us/query; best ratio vs numpy at 1% "
                    f"{numpy_us / (floor_us + numpy_us):.2f}",
                )
            )
            log(f"floor {floor_us:.1f} us/query; numpy 1% {numpy_us:.1f} us")
        db.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(
        f"\nSpruce query path, {ds.n:,} x {ds.dim} {args.data} cosine, "
        f"{args.queries} queries x {ROUNDS} rounds"
    )
    w0 = max(len(a) for a, _, _ in rows_out)
    w1 = max(len(b) for _, b, _ in rows_out)
    for a, b, c in rows_out:
        print(f"{a:<{w0}}  {b:>{w1}}  {c}")

"""Many small namespaces in one index (the multi-tenant layout): upsert, query, list_namespaces paging,
describe_index_stats and reopen, with memory per namespace.

    python benchmarks/namespaces.py --namespaces 100000 --min-records 10 --max-records 100 --dim 64

Prints the figures and, as the baseline measured in the same run, the same records in ONE namespace
(same total count, same queries): the cost of the partitioning itself.

`--exact-baseline` opens the one-namespace baseline with `ann_min_rows` above its row count, so it
builds no HNSW graph (no small namespace has one either): both sides then measure the storage layout
and the open path alone, and the baseline's flush is not hours of graph building at 5M records. Its
query is then an exact scan of every record (said so in the output).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

import spruce
from spruce.config import EngineConfig

INDEX = "tenants"


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def anon_mib() -> float:
    """Anonymous RSS (heap): what the process holds beyond mapped segment pages, which a scan of one
    big namespace pulls into RSS and a query of one small namespace does not."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return 0.0


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def config(one_namespace: bool, exact_baseline: bool, total: int) -> EngineConfig:
    if one_namespace and exact_baseline:
        return EngineConfig(ann_min_rows=total + 1)
    return EngineConfig()


def load(
    path: Path, sizes: np.ndarray, dim: int, one_namespace: bool, seed: int, cfg: EngineConfig
) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    db = spruce.Client(path=path, config=cfg)
    db.create_index(name=INDEX, dimension=dim, metric="cosine")
    ix = db.Index(INDEX)
    rss0 = rss_mib()
    t0 = time.perf_counter()
    batch: list[tuple[str, list[float]]] = []
    batch_ns = None
    for t, size in enumerate(sizes):
        ns = "all" if one_namespace else f"tenant-{t:06d}"
        vecs = rng.standard_normal((int(size), dim)).astype(np.float32)
        recs = [(f"t{t}-{i}", vecs[i]) for i in range(int(size))]
        if one_namespace:
            batch.extend(recs)  # type: ignore[arg-type]
            if len(batch) >= 1000:
                ix.upsert(vectors=batch[:1000], namespace=ns)
                batch = batch[1000:]
            batch_ns = ns
        else:
            ix.upsert(vectors=recs, namespace=ns)
    if batch:
        ix.upsert(vectors=batch, namespace=batch_ns)
    upsert_s = time.perf_counter() - t0
    rss_loaded = rss_mib()
    t0 = time.perf_counter()
    ix.flush()
    flush_s = time.perf_counter() - t0
    out = {
        "upsert_s": upsert_s,
        "records_per_s": float(sizes.sum()) / upsert_s,
        "flush_s": flush_s,
        "rss_growth_mib": rss_loaded - rss0,
        "rss_after_flush_mib": rss_mib() - rss0,
    }
    db.close()
    return out


def query_phase(
    path: Path, n_tenants: int, dim: int, one_namespace: bool, queries: int, cfg: EngineConfig
) -> dict[str, float]:
    rng = np.random.default_rng(7)
    gc.collect()
    rss0 = rss_mib()
    anon0 = anon_mib()
    t0 = time.perf_counter()
    db = spruce.Client(path=path, config=cfg)
    ix = db.Index(INDEX)
    ix.query(
        vector=rng.standard_normal(dim).tolist(),
        top_k=10,
        namespace="all" if one_namespace else "tenant-000000",
    )
    reopen_s = time.perf_counter() - t0
    rss_open = rss_mib() - rss0
    anon_open = anon_mib() - anon0
    lat = np.empty(queries)
    for i in range(queries):
        ns = "all" if one_namespace else f"tenant-{int(rng.integers(0, n_tenants)):06d}"
        q = rng.standard_normal(dim).tolist()
        t1 = time.perf_counter()
        res = ix.query(vector=q, top_k=10, namespace=ns)
        lat[i] = time.perf_counter() - t1
        assert res.matches
    t0 = time.perf_counter()
    stats = ix.describe_index_stats()
    stats_s = time.perf_counter() - t0
    assert len(stats.namespaces) == (1 if one_namespace else n_tenants)
    t0 = time.perf_counter()
    seen = 0
    token = None
    pages = 0
    while True:
        page = ix.list_namespaces_paginated(limit=100, pagination_token=token)
        seen += len(page.namespaces)
        pages += 1
        token = page.pagination.next if page.pagination else None
        if not token:
            break
    list_s = time.perf_counter() - t0
    assert seen == (1 if one_namespace else n_tenants), seen
    db.close()
    heap_open, heap_woken = traced_heap(path, n_tenants, dim, one_namespace, queries, cfg)
    return {
        "heap_open_mib": heap_open / 2**20,
        "heap_per_queried_ns_kib": heap_woken / queries / 1024,
        "reopen_s": reopen_s,
        "rss_open_mib": rss_open,
        "anon_open_mib": anon_open,
        "query_p50_ms": float(np.percentile(lat, 50) * 1e3),
        "query_p99_ms": float(np.percentile(lat, 99) * 1e3),
        "stats_s": stats_s,
        "list_all_s": list_s,
        "list_pages": pages,
    }


def traced_heap(
    path: Path, n_tenants: int, dim: int, one_namespace: bool, queries: int, cfg: EngineConfig
) -> tuple[int, int]:
    """Bytes of Python and numpy heap (tracemalloc) an open index holds, and how many more after
    querying `queries` random namespaces (a small namespace is built when first named). Measured
    after the timed part: tracing slows allocation. RSS deltas cannot show this in one process (the
    heap freed by the load phase is reused) and count mapped pages a full scan touches."""
    rng = np.random.default_rng(11)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    db = spruce.Client(path=path, config=cfg)
    ix = db.Index(INDEX)
    ix.describe_index_stats()
    opened = tracemalloc.get_traced_memory()[0]
    for _ in range(queries):
        ns = "all" if one_namespace else f"tenant-{int(rng.integers(0, n_tenants)):06d}"
        ix.query(vector=rng.standard_normal(dim).tolist(), top_k=10, namespace=ns)
    gc.collect()
    woken = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    db.close()
    return opened - base, woken - opened


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--namespaces", type=int, default=100_000)
    ap.add_argument("--min-records", type=int, default=10)
    ap.add_argument("--max-records", type=int, default=100)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--exact-baseline", action="store_true", help="no HNSW graph in the baseline")
    ap.add_argument(
        "--baseline-queries",
        type=int,
        default=0,
        help="queries on the baseline (0: --queries; exact scans are slow)",
    )
    args = ap.parse_args()
    sizes = np.random.default_rng(1).integers(args.min_records, args.max_records + 1, size=args.namespaces)
    total = int(sizes.sum())
    log(f"{args.namespaces:,} namespaces, {total:,} records x {args.dim}")
    scratch = Path(tempfile.mkdtemp(prefix="spruce-ns-", dir=args.dir))
    rows = {}
    try:
        for label, one in (("many", False), ("one", True)):
            path = scratch / label
            cfg = config(one, args.exact_baseline, total)
            log(f"{label}: start (load average {os.getloadavg()[0]:.1f})")
            rows[label] = load(path, sizes, args.dim, one, seed=3, cfg=cfg)
            log(f"{label}: load {rows[label]}")
            queries = args.baseline_queries or args.queries if one else args.queries
            rows[label].update(query_phase(path, args.namespaces, args.dim, one, queries, cfg))
            rows[label]["disk_mib"] = sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20
            rows[label]["files"] = sum(1 for f in path.rglob("*") if f.is_file())
            log(f"{label}: {rows[label]}")
            shutil.rmtree(path, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    m, o = rows["many"], rows["one"]
    raw = total * args.dim * 4 / 2**20
    print(
        f"\nMany namespaces: {args.namespaces:,} namespaces, {total:,} records x {args.dim} "
        f"(raw {raw:.0f} MiB)"
    )
    print(f"{'':32} {'many':>12} {'one':>12} {'ratio':>8}")
    for key in (
        "records_per_s",
        "flush_s",
        "rss_after_flush_mib",
        "reopen_s",
        "rss_open_mib",
        "anon_open_mib",
        "heap_open_mib",
        "heap_per_queried_ns_kib",
        "query_p50_ms",
        "query_p99_ms",
        "stats_s",
        "list_all_s",
        "disk_mib",
        "files",
    ):
        ratio = m[key] / o[key] if o[key] else float("nan")
        print(f"{key:32} {m[key]:12,.3f} {o[key]:12,.3f} {ratio:8.2f}")
    print(
        "heap per namespace once open (tracemalloc): "
        f"{(m['heap_open_mib'] - o['heap_open_mib']) * 1024 / args.namespaces:.2f} KiB beyond one namespace "
        f"of the same records ({m['heap_open_mib'] * 1024 / args.namespaces:.2f} KiB all told); "
        f"a queried (built) small namespace: {m['heap_per_queried_ns_kib']:.2f} KiB more"
    )
    print(f"peak RSS of this process: {peak_mib():,.0f} MiB")
    if args.exact_baseline:
        print("baseline: one namespace without HNSW graphs (its queries scan every record exactly)")
    print(f"load average at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()

"""Engine benchmark: durable upsert, query QPS/recall vs raw faiss, filtered queries, fetch latency,
open time and peak RSS, on deterministic clustered synthetic data.

    python benchmarks/engine.py [--n 100000] [--dim 768] [--queries 500] [--quick] [--memory]
                                [--memtable-rows N] [--json out.json] [--keep] [--dir PARENT]

The machine is shared and noisy, so every figure that has a target is reported as a ratio against a
baseline measured in the same run: upserts against a raw fsync'd append of the same bytes, queries
against faiss IndexHNSWFlat built with the same M / efConstruction over the same vectors. All query
timings are single-threaded (faiss' OpenMP pool is pinned to one thread while timing) and one query per
call, as an application issues them.

`--memory` runs the engine without a directory (no WAL, no open-time figures): useful to debug the
script itself. `--probe-open DIR` is internal: the parent runs it in a fresh process so the open time
and RSS are not flattered by this process' warm Python state.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import N_BUCKETS, Dataset, clustered, exact_top_k, glove, recall_at_k

import spruce
from spruce.config import EngineConfig

INDEX = "bench"
BATCH = 1_000  # vectors per upsert call: the largest batch the API accepts
TOP_K = 10
RECALL_TARGET = 0.95
FILTER_RECALL_TARGET = 0.99
EF_SWEEP = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
SELECTIVITIES = (0.01, 0.10, 0.50)
FETCH_REPEATS = 2_000


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def hwm_rss_bytes() -> int:
    """This process' own peak RSS. getrusage's ru_maxrss would do in the parent, but a child inherits the
    high-water mark of the process it was forked from (Linux keeps it across exec), so it lies here."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def current_rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def mib(x: float) -> str:
    return f"{x / 2**20:,.0f} MiB"


# -- 1. durable upserts ---------------------------------------------------------------------------
def raw_append_rate(ds: Dataset, directory: Path) -> float:
    """Vectors/s of write + fsync of each batch's vector and id bytes to one file: the floor any WAL pays."""
    path = directory / "raw-append.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        t0 = time.perf_counter()
        for start in range(0, ds.n, BATCH):
            stop = min(ds.n, start + BATCH)
            payload = ds.vectors[start:stop].tobytes() + "".join(ds.ids(start, stop)).encode()
            os.write(fd, payload)
            os.fsync(fd)
        elapsed = time.perf_counter() - t0
    finally:
        os.close(fd)
        path.unlink()
    return ds.n / elapsed


def upsert_all(ix: Any, ds: Dataset) -> float:
    """Vectors/s over the upsert calls alone (building the request tuples is the caller's cost)."""
    busy = 0.0
    for start in range(0, ds.n, BATCH):
        stop = min(ds.n, start + BATCH)
        ids = ds.ids(start, stop)
        batch = [
            (ids[i], ds.vectors[start + i], {"bucket": int(ds.buckets[start + i])})
            for i in range(stop - start)
        ]
        t0 = time.perf_counter()
        ix.upsert(vectors=batch)
        busy += time.perf_counter() - t0
    return ds.n / busy


def timed_upsert(ix: Any, ds: Dataset) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_SELF)
    vps = upsert_all(ix, ds)
    after = resource.getrusage(resource.RUSAGE_SELF)
    return {"vps": vps, "user_s": after.ru_utime - before.ru_utime, "sys_s": after.ru_stime - before.ru_stime}


# -- 2-3. queries -----------------------------------------------------------------------------------
def run_spruce_queries(
    ix: Any, queries: np.ndarray, flt: dict[str, Any] | None
) -> tuple[float, list[list[int]]]:
    found: list[list[int]] = []
    busy = 0.0
    for q in queries:
        t0 = time.perf_counter()
        res = ix.query(vector=q, top_k=TOP_K, filter=flt)
        busy += time.perf_counter() - t0
        found.append([int(m.id) for m in res.matches])
    return len(queries) / busy, found


def run_faiss_queries(index: Any, queries: np.ndarray, ef: int) -> tuple[float, list[list[int]]]:
    params = faiss.SearchParametersHNSW()
    params.efSearch = max(ef, TOP_K)
    found: list[list[int]] = []
    busy = 0.0
    for q in queries:
        x = q.reshape(1, -1)
        t0 = time.perf_counter()
        _, labels = index.search(x, TOP_K, params=params)
        busy += time.perf_counter() - t0
        found.append([int(r) for r in labels[0] if r >= 0])
    return len(queries) / busy, found


class Engine:
    """The embedded client under test. The ef knob is read when an index is opened, so changing it means
    reopening (on disk that is cheap: segments and HNSW graphs are memory-mapped, not rebuilt)."""

    def __init__(self, path: Path | None, config: EngineConfig) -> None:
        self.path = path
        self.config = config
        self.db = spruce.Client(path=path, config=config)
        self.settle()

    def settle(self) -> None:
        """Wait for the background work a reopen starts (reading the saved graphs into RAM), so the
        timed queries see the steady state rather than a graph still paging in."""
        if self.path is not None and self.db.has_index(INDEX):
            self.ix._svc.store.wait_idle()

    @property
    def ix(self) -> Any:
        return self.db.Index(INDEX)

    def set_ef(self, ef: int) -> None:
        self.config = replace(self.config, hnsw_ef_search=ef)
        if self.path is None:
            # In memory a reopen would lose the data; the service reads its config per query, so swap it
            # there (benchmark-only reach into a private attribute).
            self.ix._svc.config = self.config
            return
        self.db.close()
        self.db = spruce.Client(path=self.path, config=self.config)
        self.settle()

    def close(self) -> None:
        self.db.close()


def head_to_head(
    ix: Any, index: Any, queries: np.ndarray, faiss_ef: int, rounds: int = 3
) -> tuple[float, float]:
    """(spruce q/s, faiss q/s) over alternating chunks of 50 queries, `rounds` passes over the queries."""
    s_time = f_time = 0.0
    total = 0
    for _ in range(rounds):
        for start in range(0, len(queries), 50):
            part = queries[start : start + 50]
            s_qps, _ = run_spruce_queries(ix, part, None)
            f_qps, _ = run_faiss_queries(index, part, faiss_ef)
            s_time += len(part) / s_qps
            f_time += len(part) / f_qps
            total += len(part)
    return total / s_time, total / f_time


def sweep(
    measure: Any, truth: np.ndarray, target: float, efs: tuple[int, ...] = EF_SWEEP
) -> list[tuple[int, float, float]]:
    """(ef, qps, recall) ascending in ef, stopping one step after the target recall is first reached."""
    rows: list[tuple[int, float, float]] = []
    reached = False
    for ef in efs:
        qps, found = measure(ef)
        rec = recall_at_k(found, truth)
        rows.append((ef, qps, rec))
        if reached:
            break
        reached = rec >= target
    return rows


def first_reaching(rows: list[tuple[int, float, float]], target: float) -> tuple[int, float, float] | None:
    return next((r for r in rows if r[2] >= target), None)


# -- 5. open time (child process) -------------------------------------------------------------------
def probe_open(path: Path, dim: int) -> None:
    q = np.random.default_rng(7).standard_normal(dim).astype(np.float32)
    rss_idle = current_rss_bytes()
    t0 = time.perf_counter()
    db = spruce.Client(path=path)
    t1 = time.perf_counter()
    ix = db.Index(INDEX)
    t2 = time.perf_counter()
    ix.query(vector=q, top_k=TOP_K)
    t3 = time.perf_counter()
    for _ in range(20):
        ix.query(vector=q, top_k=TOP_K)
    t4 = time.perf_counter()
    ix._svc.store.wait_idle()  # saved graphs read into RAM in the background
    t5 = time.perf_counter()
    out = {
        "client_s": t1 - t0,
        "index_s": t2 - t1,
        "first_query_s": t3 - t2,
        "warm_query_s": (t4 - t3) / 20,
        "graphs_in_ram_s": t5 - t0,
        "rss_idle": rss_idle,
        "rss_open": current_rss_bytes(),
        "peak_rss": hwm_rss_bytes(),
    }
    db.close()
    print(json.dumps(out))


def measure_open(path: Path, dim: int) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--probe-open", str(path), "--dim", str(dim)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- driver -----------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument(
        "--data",
        choices=["clustered", "glove"],
        default="clustered",
        help="synthetic clusters (default) or real GloVe 50-d (benchmarks/requirements-data.txt)",
    )
    ap.add_argument("--queries", type=int, default=500)
    ap.add_argument("--quick", action="store_true", help="20k x 128, 200 queries: a smoke run in ~1 min")
    ap.add_argument("--memory", action="store_true", help="no directory: skip durability and open time")
    ap.add_argument(
        "--dir", type=Path, default=None, help="parent of the scratch directory (default: TMPDIR)"
    )
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (for profiling)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument(
        "--memtable-rows", type=int, default=None, help="override memtable_max_rows (rows per segment)"
    )
    ap.add_argument(
        "--upsert-rounds", type=int, default=3, help="load the data this many times; report the median"
    )
    ap.add_argument(
        "--lean",
        action="store_true",
        help="only the query path: defaults vs numpy brute force, filtered vs numpy on the allowed rows",
    )
    ap.add_argument("--probe-open", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe_open is not None:
        probe_open(args.probe_open, args.dim)
        return
    if args.lean:
        from engine_lean import lean_main

        lean_main(args)
        return
    if args.quick:
        args.n, args.dim, args.queries = 20_000, 128, 200

    config = EngineConfig()
    if args.memtable_rows is not None:
        config = replace(config, memtable_max_rows=args.memtable_rows)
    m, efc = config.hnsw_m, config.hnsw_ef_construction
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "n": args.n,
        "dim": args.dim,
        "queries": args.queries,
        "hnsw_m": m,
        "hnsw_ef_construction": efc,
        "memtable_max_rows": config.memtable_max_rows,
    }

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    t0 = time.perf_counter()
    if args.data == "glove":
        ds = glove(args.n, args.queries)
        args.dim = ds.dim
    else:
        ds = clustered(args.n, args.dim, args.queries)
    results["dim"], results["data"] = ds.dim, args.data
    truth = exact_top_k(ds.vectors, ds.queries, TOP_K)
    log(f"data {args.n} x {args.dim} and ground truth in {time.perf_counter() - t0:.1f}s")
    raw_bytes = ds.vectors.nbytes
    rss_harness = current_rss_bytes()

    scratch = Path(tempfile.mkdtemp(prefix="spruce-bench-", dir=args.dir))
    path = None if args.memory else scratch / "db"
    try:
        # 1. durable upserts, with the raw fsync'd append right before as the baseline.
        if path is not None:
            results["raw_append_vps"] = raw_append_rate(ds, scratch)
            log(f"raw fsync'd append: {results['raw_append_vps']:,.0f} vectors/s")
        # Extra rounds load the same data into throw-away directories first (closed before their
        # graphs are built): on VMs whose host reclaims freed guest memory, the first pass over
        # fresh memory can cost several seconds of kernel time, so each round's CPU split is shown.
        rounds = []
        for r in range(args.upsert_rounds - 1):
            spare = Engine(None if path is None else scratch / f"round{r}", config)
            spare.db.create_index(INDEX, dimension=args.dim, metric="cosine")
            rounds.append(timed_upsert(spare.ix, ds))
            spare.close()
            shutil.rmtree(scratch / f"round{r}", ignore_errors=True)
            log(f"upsert round {r + 1}: {rounds[-1]['vps']:,.0f} vectors/s (sys {rounds[-1]['sys_s']:.1f} s)")
        eng = Engine(path, config)
        eng.db.create_index(INDEX, dimension=args.dim, metric="cosine")
        t0 = time.perf_counter()
        rounds.append(timed_upsert(eng.ix, ds))
        results["upsert_wall_s"] = time.perf_counter() - t0
        results["upsert_rounds"] = rounds
        results["upsert_vps"] = float(np.median([r["vps"] for r in rounds]))
        log(
            f"upsert: {rounds[-1]['vps']:,.0f} vectors/s (user {rounds[-1]['user_s']:.1f} s, "
            f"sys {rounds[-1]['sys_s']:.1f} s); median of {len(rounds)} rounds {results['upsert_vps']:,.0f}"
        )
        t0 = time.perf_counter()
        eng.ix.flush()
        results["flush_s"] = time.perf_counter() - t0
        results["ingest_to_searchable_s"] = results["upsert_wall_s"] + results["flush_s"]
        segs = eng.ix._svc.store.namespaces[""].sealed  # for the report only: how the rows were laid out
        results["segments"] = [b.n for b in segs]
        results["segments_with_hnsw"] = sum(b.ann is not None for b in segs)
        log(f"flush: {results['flush_s']:.1f}s, segments {results['segments']}")

        # 2. unfiltered queries, single thread: at the defaults (each graph's calibrated width), then
        # swept over a fixed ef.
        faiss.omp_set_num_threads(1)
        eng.set_ef(0)
        run_spruce_queries(eng.ix, ds.queries[:20], None)
        d_qps, d_found = run_spruce_queries(eng.ix, ds.queries, None)
        results["defaults"] = {"qps": d_qps, "recall": recall_at_k(d_found, truth)}
        results["calibrations"] = [
            b.ann.calibration.to_json() for b in segs if b.ann is not None and b.ann.calibration is not None
        ]
        log(f"spruce defaults: {d_qps:,.0f} q/s recall {results['defaults']['recall']:.4f}")
        log(f"calibrated: {results['calibrations']}")

        def spruce_at(ef: int) -> tuple[float, list[list[int]]]:
            eng.set_ef(ef)
            run_spruce_queries(eng.ix, ds.queries[:20], None)  # warm caches after the reopen
            return run_spruce_queries(eng.ix, ds.queries, None)

        results["spruce_sweep"] = sweep(spruce_at, truth, RECALL_TARGET)
        for ef, qps, rec in results["spruce_sweep"]:
            log(f"spruce ef={ef}: {qps:,.0f} q/s recall {rec:.4f}")

        # 3. filtered queries at the ef that met the unfiltered target (the engine widens it itself).
        best = first_reaching(results["spruce_sweep"], RECALL_TARGET)
        ef_chosen = best[0] if best else EF_SWEEP[-1]
        results["ef_chosen"] = ef_chosen
        eng.set_ef(ef_chosen)
        filtered = []
        for sel in SELECTIVITIES:
            k = round(sel * N_BUCKETS)
            allowed = ds.buckets < k
            ftruth = exact_top_k(ds.vectors, ds.queries, TOP_K, allowed)
            flt = {"bucket": {"$lt": k}}
            run_spruce_queries(eng.ix, ds.queries[:20], flt)
            qps, found = run_spruce_queries(eng.ix, ds.queries, flt)
            filtered.append((sel, int(allowed.sum()), qps, recall_at_k(found, ftruth)))
            log(f"filter {sel:.0%}: {qps:,.0f} q/s recall {filtered[-1][3]:.4f}")
        results["filtered"] = filtered
        results["unfiltered_at_chosen_qps"] = next(q for e, q, _ in results["spruce_sweep"] if e == ef_chosen)

        # 4. fetch of 10 ids.
        rng = np.random.default_rng(3)
        lat = np.empty(FETCH_REPEATS)
        for i in range(FETCH_REPEATS):
            ids = [str(int(r)) for r in rng.integers(0, ds.n, size=10)]
            t0 = time.perf_counter()
            got = eng.ix.fetch(ids=ids)
            lat[i] = time.perf_counter() - t0
            assert len(got.vectors) == len(set(ids))
        results["fetch_p50_ms"] = float(np.percentile(lat, 50) * 1e3)
        results["fetch_p99_ms"] = float(np.percentile(lat, 99) * 1e3)
        log(f"fetch 10: p50 {results['fetch_p50_ms']:.3f} ms p99 {results['fetch_p99_ms']:.3f} ms")

        # 6. memory: this process' peak so far includes the harness' own copy of the data.
        results["peak_rss"] = peak_rss_bytes()
        results["rss_harness"] = rss_harness
        results["raw_bytes"] = raw_bytes
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        if path is not None:
            eng.close()
            gc.collect()

        # 5. open time in a fresh process (page cache warm: this is a restart, not a cold boot).
        if path is not None:
            results["open"] = measure_open(path, args.dim)
            o = results["open"]
            log(
                f"open: client {o['client_s']:.3f}s index {o['index_s']:.3f}s "
                f"1st query {o['first_query_s']:.3f}s"
            )

        # Baseline: raw faiss over the same vectors, same M / efConstruction (built on all cores, as
        # spruce's builds were; searched on one).
        t0 = time.perf_counter()
        index = faiss.IndexHNSWFlat(args.dim, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = efc
        index.add(ds.vectors)
        results["faiss_build_s"] = time.perf_counter() - t0
        log(f"faiss build {results['faiss_build_s']:.1f}s")
        faiss.omp_set_num_threads(1)
        results["faiss_sweep"] = sweep(
            lambda ef: run_faiss_queries(index, ds.queries, ef), truth, RECALL_TARGET
        )
        for ef, qps, rec in results["faiss_sweep"]:
            log(f"faiss ef={ef}: {qps:,.0f} q/s recall {rec:.4f}")

        # Head to head at the settings that first reach the target: the sweeps ran minutes apart on a
        # shared machine, so interleave small chunks of both to expose them to the same noise.
        f_best = first_reaching(results["faiss_sweep"], RECALL_TARGET)
        if best is not None and f_best is not None:
            if path is not None:
                eng = Engine(path, replace(config, hnsw_ef_search=best[0]))
            else:
                eng.set_ef(best[0])
            s_qps, f_qps = head_to_head(eng.ix, index, ds.queries, f_best[0])
            results["head_to_head"] = {
                "spruce_ef": best[0],
                "spruce_qps": s_qps,
                "faiss_ef": f_best[0],
                "faiss_qps": f_qps,
            }
            log(f"head to head: spruce {s_qps:,.0f} q/s vs faiss {f_qps:,.0f} q/s = {s_qps / f_qps:.2f}")
        # Defaults against faiss at the smallest ef that reaches the recall Spruce's defaults gave.
        d_rec = results["defaults"]["recall"]
        same_sweep = sweep(lambda ef: run_faiss_queries(index, ds.queries, ef), truth, d_rec)
        f_same = first_reaching(same_sweep, d_rec) or same_sweep[-1]
        if f_same is not None:
            if path is not None:
                eng.close()
                eng = Engine(path, replace(config, hnsw_ef_search=0))
            else:
                eng.set_ef(0)
            s_qps, f_qps = head_to_head(eng.ix, index, ds.queries, f_same[0])
            results["defaults_vs_faiss"] = {
                "spruce_recall": d_rec,
                "spruce_qps": s_qps,
                "faiss_ef": f_same[0],
                "faiss_recall": f_same[2],
                "faiss_qps": f_qps,
            }
            log(
                f"defaults vs faiss at recall {d_rec:.4f}: spruce {s_qps:,.0f} q/s vs faiss "
                f"(ef {f_same[0]}) {f_qps:,.0f} q/s = {s_qps / f_qps:.2f}"
            )
        eng.close()
    finally:
        if args.keep:
            log(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)

    report(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))


def report(r: dict[str, Any]) -> None:
    rows: list[tuple[str, str, str]] = []

    def add(what: str, value: str, note: str = "") -> None:
        rows.append((what, value, note))

    if "raw_append_vps" in r:
        ratio = r["upsert_vps"] / r["raw_append_vps"]
        ok = "meets" if r["upsert_vps"] >= 50_000 else "MISSES"
        each = ", ".join(f"{u['vps']:,.0f} (sys {u['sys_s']:.1f} s)" for u in r.get("upsert_rounds", []))
        add(
            "upsert, durable, batches of 1,000",
            f"{r['upsert_vps']:,.0f} vec/s",
            f"{ok} target 50,000; median of rounds: {each}",
        )
        add("  raw fsync'd append, same bytes", f"{r['raw_append_vps']:,.0f} vec/s", f"ratio {ratio:.2f}")
    else:
        add("upsert, in memory, batches of 1,000", f"{r['upsert_vps']:,.0f} vec/s", "no WAL (--memory)")
    add("flush (segments + HNSW builds)", f"{r['flush_s']:.1f} s", f"segments {r['segments']}")
    add(
        "  upsert start -> all searchable by HNSW",
        f"{r['ingest_to_searchable_s']:.1f} s",
        f"{r['n'] / r['ingest_to_searchable_s']:,.0f} vec/s",
    )
    faiss_rate = r["n"] / r["faiss_build_s"]
    add("faiss HNSWFlat build, same data", f"{r['faiss_build_s']:.1f} s", f"{faiss_rate:,.0f} vec/s")
    d = r["defaults"]
    efs = ", ".join(
        f"k={k}: ef {e}" for c in r["calibrations"] for k, e in zip(c["ks"], c["efs"], strict=True)
    )
    add(
        "spruce query at defaults (calibrated)", f"{d['qps']:,.0f} q/s", f"recall@10 {d['recall']:.4f}; {efs}"
    )
    dv = r.get("defaults_vs_faiss")
    if dv:
        ratio = dv["spruce_qps"] / dv["faiss_qps"]
        ok = "meets" if ratio >= 0.9 else "MISSES"
        add(
            "QPS at defaults: spruce/faiss at the same recall",
            f"{ratio:.2f}",
            f"interleaved: spruce {dv['spruce_qps']:,.0f} q/s (recall {dv['spruce_recall']:.4f}) vs "
            f"faiss ef={dv['faiss_ef']} {dv['faiss_qps']:,.0f} q/s (recall {dv['faiss_recall']:.4f}); "
            f"{ok} target 0.9",
        )
    for ef, qps, rec in r["spruce_sweep"]:
        add(f"spruce query ef={ef}", f"{qps:,.0f} q/s", f"recall@10 {rec:.4f}")
    for ef, qps, rec in r["faiss_sweep"]:
        add(f"faiss query ef={ef}", f"{qps:,.0f} q/s", f"recall@10 {rec:.4f}")
    h = r.get("head_to_head")
    if h:
        ratio = h["spruce_qps"] / h["faiss_qps"]
        ok = "meets" if ratio >= 0.7 else "MISSES"
        add(
            f"QPS at recall >= {RECALL_TARGET}: spruce/faiss",
            f"{ratio:.2f}",
            f"interleaved: spruce ef={h['spruce_ef']} {h['spruce_qps']:,.0f} q/s vs "
            f"faiss ef={h['faiss_ef']} {h['faiss_qps']:,.0f} q/s; {ok} target 0.7",
        )
    for sel, count, qps, rec in r["filtered"]:
        ok = "" if sel > 0.01 else (" meets" if rec >= FILTER_RECALL_TARGET else " MISSES") + " recall 0.99"
        what = f"filtered {sel:.0%} ({count:,} rows), ef={r['ef_chosen']}"
        add(what, f"{qps:,.0f} q/s", f"recall@10 {rec:.4f}{ok}")
    ok = "meets" if r["fetch_p99_ms"] < 1.0 else "MISSES"
    add("fetch 10 ids p50 / p99", f"{r['fetch_p50_ms']:.3f} / {r['fetch_p99_ms']:.3f} ms", f"{ok} p99 < 1 ms")
    if "open" in r:
        o = r["open"]
        total = o["client_s"] + o["index_s"] + o["first_query_s"]
        add(
            "reopen: Client() + Index() + 1st query",
            f"{total * 1e3:,.0f} ms",
            f"{o['client_s'] * 1e3:.0f} + {o['index_s'] * 1e3:.0f} + {o['first_query_s'] * 1e3:.0f} ms "
            f"(warm query {o['warm_query_s'] * 1e3:.1f} ms; graphs read into RAM in the background "
            f"by {o.get('graphs_in_ram_s', 0) * 1e3:,.0f} ms)",
        )
        add(
            "  RSS of the reopened process",
            mib(o["rss_open"]),
            f"{o['rss_open'] / r['raw_bytes']:.2f}x raw; {mib(o['rss_open'] - o['rss_idle'])} above "
            f"interpreter+imports; peak {mib(o['peak_rss'])}",
        )
    engine_share = (r["peak_rss"] - r["rss_harness"]) / r["raw_bytes"]
    add(
        "peak RSS, ingest process",
        mib(r["peak_rss"]),
        f"{r['peak_rss'] / r['raw_bytes']:.2f}x raw {mib(r['raw_bytes'])}; "
        f"harness alone {mib(r['rss_harness'])}; engine share ~{engine_share:.2f}x raw",
    )

    print(
        f"\nSpruce engine benchmark, {r['n']:,} x {r['dim']} {r.get('data', 'clustered')} cosine, "
        f"{r['queries']} queries, "
        f"M={r['hnsw_m']} efC={r['hnsw_ef_construction']} -- {r['date']}, {r['machine']}"
    )
    w0 = max(len(a) for a, _, _ in rows)
    w1 = max(len(b) for _, b, _ in rows)
    for a, b, c in rows:
        print(f"{a:<{w0}}  {b:>{w1}}  {c}")


if __name__ == "__main__":
    main()

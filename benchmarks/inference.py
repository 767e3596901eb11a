"""Inference benchmark (model part): texts/s per model, per-call latency, batching across callers, and
resident memory per loaded model.

    python benchmarks/inference.py [--texts 256] [--calls 30] [--callers 8] [--json out.json]

* throughput: `registry.embed` on `--texts` short passages (about 25 words) in requests of 32, wall and
  CPU seconds (CPU-s per 100 texts holds up on a loaded machine far better than wall time);
* latency: one short query per call, p50 / p99 over `--calls` calls;
* batching: the same texts sent by `--callers` threads in requests of 12, as a ratio to one caller sending
  requests of 32 in the same run (>= ~0.8 means merging recovers the batch size);
* memory: RSS after loading the model and embedding one text, minus RSS before, each model measured in a
  fresh subprocess (`--probe NAME` is that subprocess).

The machine is shared: read the ratios, and the figures only with the load average printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from spruce.service.inference import get_registry

MODELS = [
    "all-MiniLM-L6-v2",
    "multilingual-e5-small",
    "pinecone-sparse-english-v0",
    "pinecone-sparse-multilingual-v0",
]
RERANK = "bge-reranker-v2-m3"
WORDS = [
    *("vector", "database", "search", "index", "query", "embedding", "model", "passage", "record"),
    *("namespace", "metadata", "filter", "cloud", "region", "server", "latency", "memory", "throughput"),
    *("batch", "token", "sparse", "dense", "cosine", "score", "rank"),
]


def passages(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(25)) + f" ({i})" for i in range(n)]


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def probe(name: str) -> None:
    """Runs in a fresh process: the RSS a model adds once loaded and warm."""
    registry = get_registry()
    before = rss_bytes()
    if registry.get_model(name).type == "rerank":
        registry.rerank(name, "warm up", ["one document"])
    else:
        registry.embed(name, ["warm up"])
    print(json.dumps({"model": name, "rss_delta_mb": (rss_bytes() - before) / 2**20}))


def memory(name: str) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "--probe", name], capture_output=True, text=True, check=True, timeout=300
    )
    return float(json.loads(out.stdout.strip().splitlines()[-1])["rss_delta_mb"])


def throughput(name: str, texts: list[str], batch: int) -> dict[str, float]:
    registry = get_registry()
    registry.embed(name, texts[:batch], input_type="passage")  # load and warm
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(texts), batch):
        registry.embed(name, texts[start : start + batch], input_type="passage")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"texts_per_s": len(texts) / wall, "cpu_s_per_100": 100 * cpu / len(texts)}


def latency(name: str, calls: int) -> dict[str, float]:
    registry = get_registry()
    times = []
    for i in range(calls):
        t = time.perf_counter()
        registry.embed(name, [f"how do I filter a vector search by metadata {i}"], input_type="query")
        times.append(time.perf_counter() - t)
    return {"p50_ms": 1e3 * float(np.percentile(times, 50)), "p99_ms": 1e3 * float(np.percentile(times, 99))}


def concurrent(name: str, texts: list[str], callers: int, per_request: int) -> float:
    """texts/s when `callers` threads each send their share in requests of `per_request` texts."""
    registry = get_registry()
    shares = [texts[i::callers] for i in range(callers)]

    def run(share: list[str]) -> None:
        for start in range(0, len(share), per_request):
            registry.embed(name, share[start : start + per_request], input_type="passage")

    threads = [threading.Thread(target=run, args=(s,)) for s in shares]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return len(texts) / (time.perf_counter() - t)


def rerank_latency(docs: list[str], calls: int) -> dict[str, float]:
    registry = get_registry()
    registry.rerank(RERANK, "warm up", docs)
    cold, warm = [], []
    for i in range(calls):
        fresh = [f"{d} [{i}]" for d in docs]  # new texts: no cached passage embeddings
        t = time.perf_counter()
        registry.rerank(RERANK, f"search latency {i}", fresh)
        cold.append(time.perf_counter() - t)
        t = time.perf_counter()
        registry.rerank(RERANK, f"search latency {i}", fresh)
        warm.append(time.perf_counter() - t)
    return {
        "docs": len(docs),
        "p50_ms_new_docs": 1e3 * float(np.median(cold)),
        "p50_ms_cached_docs": 1e3 * float(np.median(warm)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--callers", type=int, default=8)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        probe(args.probe)
        return
    registry = get_registry()
    texts = passages(args.texts)
    print(f"load average {os.getloadavg()}, {os.cpu_count()} cores, model threads {registry.threads}")
    report: dict[str, Any] = {"load_average": os.getloadavg(), "threads": registry.threads, "models": {}}
    for name in MODELS:
        row: dict[str, Any] = {}
        row.update(throughput(name, texts, 32))
        row.update(latency(name, args.calls))
        single = concurrent(name, texts, 1, 32)
        merged = concurrent(name, texts, args.callers, 12)
        row["batching_ratio"] = merged / single
        row["rss_delta_mb"] = memory(name)
        report["models"][name] = row
        print(
            f"{name:32s} {row['texts_per_s']:7.1f} texts/s  {row['cpu_s_per_100']:5.2f} CPU-s/100  "
            f"query p50 {row['p50_ms']:6.1f} ms p99 {row['p99_ms']:6.1f} ms  "
            f"{args.callers} callers x12 / 1 caller x32: {row['batching_ratio']:.2f}  "
            f"RSS +{row['rss_delta_mb']:.0f} MB"
        )
    rr = rerank_latency(texts[:20], max(3, args.calls // 5))
    rr["rss_delta_mb"] = memory(RERANK)
    report["rerank"] = rr
    print(
        f"{RERANK} (e5 bi-encoder) on {rr['docs']} docs: p50 {rr['p50_ms_new_docs']:.0f} ms new docs, "
        f"{rr['p50_ms_cached_docs']:.0f} ms cached; RSS +{rr['rss_delta_mb']:.0f} MB"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

"""The embedded `query_namespaces` (concurrent, client/fan_out.py) against the same queries issued one
namespace after another and merged, in interleaved rounds.

    python benchmarks/fan_out.py [--namespaces 4] [--rows 20000] [--dim 768] [--queries 300]

Each namespace is flushed and its graph built before timing (rows at or above the graph threshold),
so the figure is about graph searches, whose math runs without the GIL; `--rows 3000` measures exact
scans instead. Prints each round's q/s of both and the median wall ratio fan-out / serial (the pinecone
SDK's own test of its REST fan-out wants < 0.75). Both use one process on the same cores: the ratio
is what concurrency buys within a call, no other load is added.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import clustered

import spruce


def serial(ix: Any, q: np.ndarray, names: list[str], k: int) -> list[str]:
    merged = []
    for ns in names:
        merged += [(m.score, m.id) for m in ix.query(vector=q, top_k=k, namespace=ns).matches]
    merged.sort(key=lambda m: m[0], reverse=True)
    return [i for _, i in merged[:k]]


def fanned(ix: Any, q: np.ndarray, names: list[str], k: int) -> list[str]:
    return [m.id for m in ix.query_namespaces(vector=q, namespaces=names, metric="cosine", top_k=k).matches]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--namespaces", type=int, default=4)
    ap.add_argument("--rows", type=int, default=20_000, help="rows per namespace")
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    names = [f"ns{i}" for i in range(args.namespaces)]
    data = clustered(args.rows * args.namespaces, args.dim, args.queries)
    root = Path(tempfile.mkdtemp(prefix="spruce-fan-out-"))
    try:
        db = spruce.Client(path=root / "data")
        db.create_index(name="f", dimension=args.dim, metric="cosine")
        ix = db.Index("f")
        t = time.perf_counter()
        for j, ns in enumerate(names):
            base = j * args.rows
            for s in range(0, args.rows, 1000):
                rows = range(base + s, base + min(s + 1000, args.rows))
                ix.upsert(vectors=[{"id": str(i), "values": data.vectors[i]} for i in rows], namespace=ns)
        ix.flush()
        ix._svc.store.wait_idle()
        print(
            f"loaded {len(names)} x {args.rows} x {args.dim} in {time.perf_counter() - t:.1f} s", flush=True
        )
        queries = list(data.queries)
        for q in queries[:20]:
            assert serial(ix, q, names, args.top_k) == fanned(ix, q, names, args.top_k)
        ratios = []
        for r in range(args.rounds):
            rates = {}
            for name, fn in (
                (("serial", serial), ("fan-out", fanned))
                if r % 2 == 0
                else (
                    ("fan-out", fanned),
                    ("serial", serial),
                )
            ):
                t = time.perf_counter()
                for q in queries:
                    fn(ix, q, names, args.top_k)
                rates[name] = len(queries) / (time.perf_counter() - t)
            ratios.append(rates["serial"] / rates["fan-out"])
            print(
                f"round {r + 1}: serial {rates['serial']:,.0f} q/s, fan-out {rates['fan-out']:,.0f} q/s, "
                f"wall ratio fan-out / serial {ratios[-1]:.2f}",
                flush=True,
            )
        load = os.getloadavg()
        print(
            f"\nmedian wall ratio fan-out / serial: {statistics.median(ratios):.2f} (target < 0.75); "
            f"{os.cpu_count()} cores, load {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}"
        )
        db.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

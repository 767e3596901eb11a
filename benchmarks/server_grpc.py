"""gRPC vs REST through the official pinecone 10.2.0 SDK against one `spruce serve`, same data, same run.

    python benchmarks/server_grpc.py [--n 50000] [--dim 768] [--queries 300] [--fetches 300]

Reuses the harness of benchmarks/server.py (server process, dataset, timing helpers). Phases:
  1. one server; two identical indexes `rest` and `grpc`; the same vectors upserted into each through
     the SDK's own parallel batching (1,000-record batches, 8 concurrent requests), REST into `rest`
     and gRPC into `grpc`, in rounds of --round vectors that alternate which transport goes first;
  2. server stopped, both indexes flushed by the embedded engine (sealed, ANN built), server restarted,
     so both query identical settled data;
  3. queries (top 10, 1 and 8 concurrent clients) and 10-id fetches, the same queries for both, again
     in alternating rounds: on a shared machine, background load then hits both sides alike.
gRPC reaches the index through the per-index port's HTTP/2 pipe (spruce.api.grpc.backend), so the
figures include that hop.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from pinecone import Pinecone, ServerlessSpec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import clustered
from server import BATCH, CONCURRENCY, Server, percentiles, print_table, run_concurrent, timed_calls

import spruce

NAMES = ("rest", "grpc")


def index_for(kind: str, host: str) -> Any:
    if kind == "grpc":
        return Pinecone(api_key="k", grpc_scheme="http").index(host=host, grpc=True)
    return Pinecone(api_key="k").Index(host=host)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--queries", type=int, default=300, help="queries per client")
    ap.add_argument("--fetches", type=int, default=300)
    ap.add_argument("--round", type=int, default=10_000, help="vectors per alternating upsert round")
    ap.add_argument("--rounds", type=int, default=4, help="alternating rounds of queries and fetches")
    args = ap.parse_args()
    # SIGTERM unwinds through the finally blocks, so the server subprocess and temp dir go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    print(f"generating {args.n} x {args.dim} clustered vectors ...", flush=True)
    ds = clustered(args.n, args.dim, max(args.queries, 50))
    ids = ds.ids(0, ds.n)
    items = [(ids[i], ds.vectors[i].tolist()) for i in range(ds.n)]
    rows: list[tuple[str, str, str]] = []
    root = Path(tempfile.mkdtemp(prefix="spruce-bench-grpc-"))
    data = root / "server"
    try:
        # 1. upserts
        server = Server(data)
        try:
            pc = Pinecone(api_key="k", host=server.url)
            for name in NAMES:
                pc.create_index(
                    name=name,
                    dimension=ds.dim,
                    metric="cosine",
                    spec=ServerlessSpec(cloud="aws", region="us-east-1"),
                )
            indexes = {kind: index_for(kind, pc.describe_index(kind).host) for kind in NAMES}
            upsert_s = dict.fromkeys(NAMES, 0.0)
            for r, start in enumerate(range(0, ds.n, args.round)):
                chunk = items[start : start + args.round]
                for kind in NAMES if r % 2 == 0 else NAMES[::-1]:
                    t = time.perf_counter()
                    res = indexes[kind].upsert(
                        vectors=chunk,
                        batch_size=BATCH,
                        max_concurrency=CONCURRENCY,
                        show_progress=False,
                        timeout=300,
                    )
                    upsert_s[kind] += time.perf_counter() - t
                    assert res.upserted_count == len(chunk), res
            for index in indexes.values():
                index.close()
        finally:
            server.stop()
        del items
        rows.append(
            (
                f"upsert {BATCH}/batch x{CONCURRENCY} (vectors/s)",
                f"{ds.n / upsert_s['rest']:,.0f}",
                f"{ds.n / upsert_s['grpc']:,.0f}",
            )
        )

        # 2. settle both indexes identically
        with spruce.Client(path=data) as client:
            for name in NAMES:
                client.Index(name).flush()

        # 3. reads
        queries = [q.tolist() for q in ds.queries]
        rng = np.random.default_rng(7)
        fetch_ids = [[ids[j] for j in rng.integers(0, ds.n, 10)] for _ in range(args.fetches)]
        server = Server(data)
        try:
            with Pinecone(api_key="k", host=server.url) as pc:
                hosts = {name: pc.describe_index(name).host for name in NAMES}
            samples: dict[str, dict[str, list[float]]] = {k: {} for k in NAMES}
            per_round = max(args.queries // args.rounds, 1)
            fetch_round = max(args.fetches // args.rounds, 1)
            for r in range(args.rounds):
                for kind in NAMES if r % 2 == 0 else NAMES[::-1]:
                    for clients in (1, 8):

                        def worker(w: int, kind: str = kind, r: int = r) -> list[float]:
                            index = index_for(kind, hosts[kind])
                            try:
                                index.query(top_k=10, vector=queries[0])  # connect outside the timing
                                return timed_calls(
                                    per_round,
                                    lambda i: index.query(
                                        top_k=10, vector=queries[(r * per_round + i + w) % len(queries)]
                                    ),
                                )
                            finally:
                                index.close()

                        name = f"query top10 x{clients}"
                        samples[kind].setdefault(name, []).extend(run_concurrent(clients, worker))
                    index = index_for(kind, hosts[kind])
                    index.fetch(ids=fetch_ids[0])
                    offset = r * fetch_round
                    samples[kind].setdefault("fetch 10 ids x1", []).extend(
                        timed_calls(
                            fetch_round,
                            lambda i, index=index, o=offset: index.fetch(
                                ids=fetch_ids[(o + i) % len(fetch_ids)]
                            ),
                        )
                    )
                    index.close()
            got = {kind: {name: percentiles(v) for name, v in samples[kind].items()} for kind in NAMES}
        finally:
            server.stop()
        for name in got["rest"]:
            r50, r99 = got["rest"][name]
            g50, g99 = got["grpc"][name]
            rows.append((f"{name} p50 / p99 (ms)", f"{r50:.2f} / {r99:.2f}", f"{g50:.2f} / {g99:.2f}"))
    except BaseException:
        log = root / "server.log"
        if log.exists():
            print(log.read_text()[-5000:], file=sys.stderr)
        raise
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print_table(args, rows, "SDK REST", "SDK gRPC")


if __name__ == "__main__":
    main()

"""Parallel reads over real sockets: the pinecone SDK against `spruce serve`, concurrent vs serial.

    python benchmarks/parallel_reads.py [--namespaces 4] [--rows 5000] [--dim 768] [--queries 60]
        [--top-k 10] [--metadata]

Two figures, each a ratio of wall times measured in the same run, rounds interleaved:
- `query_namespaces` (the SDK fans out over its own thread pool) against the same queries issued one
  namespace after another: the SDK's own test wants < 0.75;
- `--clients` SDK clients querying at once from threads against the same total number of queries issued
  by one client: below 1.0 means both cores did work at once.
The client runs on the same 2 cores as the server, so the ratios include the client's own CPU: each
side's CPU per query (client: this process, from os.times; server: /proc) is printed too, and the load
average. `--metadata` gives every record four metadata fields and asks for them back.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pinecone import Pinecone

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import clustered
from server import BATCH, Server, create_index, process_cpu_seconds, wait_until_quiet

ROUNDS = 3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--namespaces", type=int, default=4)
    ap.add_argument("--rows", type=int, default=5_000, help="rows per namespace")
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--metadata", action="store_true")
    args = ap.parse_args()
    k, meta = args.top_k, args.metadata

    ds = clustered(args.rows * args.namespaces, args.dim, args.queries)
    names = [f"ns{i}" for i in range(args.namespaces)]
    scratch = Path(tempfile.mkdtemp(prefix="spruce-par-"))
    server = Server(scratch / "data")
    try:
        host = create_index(server.url, args.dim)
        pc = Pinecone(api_key="k", host=server.url)
        ix = pc.Index(host=host)
        for i, ns in enumerate(names):
            part = ds.vectors[i * args.rows : (i + 1) * args.rows]
            items: list[Any] = [
                (f"{ns}-{j}", part[j].tolist(), _metadata(j)) if meta else (f"{ns}-{j}", part[j].tolist())
                for j in range(len(part))
            ]
            ix.upsert(vectors=items, namespace=ns, batch_size=BATCH, show_progress=False)
        settled = wait_until_quiet(server.proc.pid, timeout=600)
        print(
            f"loaded {args.namespaces} x {args.rows} x {args.dim}; server quiet after {settled:.0f}s",
            file=sys.stderr,
        )
        queries = [q.tolist() for q in ds.queries]

        def serial_ns() -> float:
            t0 = time.perf_counter()
            for q in queries:
                for ns in names:
                    ix.query(vector=q, top_k=k, namespace=ns, include_metadata=meta)
            return time.perf_counter() - t0

        def fanout() -> float:
            t0 = time.perf_counter()
            for q in queries:
                ix.query_namespaces(
                    vector=q, namespaces=names, metric="cosine", top_k=k, include_metadata=meta
                )
            return time.perf_counter() - t0

        clients = [Pinecone(api_key="k", host=server.url).Index(host=host) for _ in range(args.clients)]

        def one_client(c: Any, qs: list[list[float]]) -> None:
            for q in qs:
                c.query(vector=q, top_k=k, namespace=names[0], include_metadata=meta)

        def serial_clients() -> float:
            t0 = time.perf_counter()
            for _ in range(args.clients):
                one_client(clients[0], queries)
            return time.perf_counter() - t0

        def concurrent_clients() -> float:
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(lambda c: one_client(c, queries), clients))
            return time.perf_counter() - t0

        phases = {
            "serial_ns": serial_ns,
            "fanout": fanout,
            "serial_clients": serial_clients,
            "concurrent_clients": concurrent_clients,
        }
        for run in phases.values():  # warm connections and pages
            run()
        t = dict.fromkeys(phases, 0.0)
        cpu = {name: [0.0, 0.0] for name in phases}  # client, server CPU seconds
        loads = [os.getloadavg()[0]]
        for _ in range(ROUNDS):
            for name, run in phases.items():
                c0, s0 = _own_cpu(), process_cpu_seconds(server.proc.pid)
                t[name] += run()
                cpu[name][0] += _own_cpu() - c0
                cpu[name][1] += process_cpu_seconds(server.proc.pid) - s0
            loads.append(os.getloadavg()[0])
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    n_q = ROUNDS * args.queries
    fan = t["fanout"] / t["serial_ns"]
    conc = t["concurrent_clients"] / t["serial_clients"]
    per = {"serial_ns": args.namespaces, "fanout": args.namespaces}
    print(
        f"\nParallel reads, {args.namespaces} namespaces x {args.rows:,} x {args.dim}, top_k {k}, "
        f"metadata {'yes' if meta else 'no'}, {n_q} query vectors per phase; "
        f"load {min(loads):.1f}-{max(loads):.1f}"
    )
    labels = {
        "serial_ns": "serial, one namespace after another",
        "fanout": "query_namespaces fan-out",
        "serial_clients": "1 client, serial",
        "concurrent_clients": f"{args.clients} concurrent clients",
    }
    for name, label in labels.items():
        calls = n_q * per.get(name, args.clients)
        client_ms, server_ms = (c / calls * 1000 for c in cpu[name])
        print(
            f"{label:<38}{calls / t[name]:8,.0f} q/s   CPU per query: client {client_ms:.2f} ms, "
            f"server {server_ms:.2f} ms"
        )
    print(f"fan-out / serial wall ratio {fan:.2f} ({'meets' if fan < 0.75 else 'MISSES'} < 0.75)")
    print(f"{args.clients} concurrent clients / 1 client serial wall ratio {conc:.2f}")


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _metadata(j: int) -> dict[str, Any]:
    return {"genre": ("drama", "comedy", "news")[j % 3], "year": 1990 + j % 30, "n": j, "title": f"doc {j}"}


if __name__ == "__main__":
    main()

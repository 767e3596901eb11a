"""Parallel reads over real sockets: the pinecone SDK against `spruce serve`, concurrent vs serial.

    python benchmarks/parallel_reads.py [--namespaces 4] [--rows 5000] [--dim 768] [--queries 60]

Two figures, each a ratio of wall times measured in the same run, rounds interleaved:
- `query_namespaces` (the SDK fans out over its own thread pool) against the same queries issued one
  namespace after another: the SDK's own test wants < 0.75;
- `--clients` SDK clients querying at once from threads against the same total number of queries issued
  by one client: below 1.0 means both cores did work at once.
The client runs on the same 2 cores as the server, so the ratios include the client's own CPU.
"""

from __future__ import annotations

import argparse
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
from server import BATCH, Server, create_index, wait_until_quiet

ROUNDS = 3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--namespaces", type=int, default=4)
    ap.add_argument("--rows", type=int, default=5_000, help="rows per namespace")
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()

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
            items = [(f"{ns}-{j}", part[j].tolist()) for j in range(len(part))]
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
                    ix.query(vector=q, top_k=10, namespace=ns)
            return time.perf_counter() - t0

        def fanout() -> float:
            t0 = time.perf_counter()
            for q in queries:
                ix.query_namespaces(vector=q, namespaces=names, metric="cosine", top_k=10)
            return time.perf_counter() - t0

        clients = [Pinecone(api_key="k", host=server.url).Index(host=host) for _ in range(args.clients)]

        def one_client(c: Any, qs: list[list[float]]) -> None:
            for q in qs:
                c.query(vector=q, top_k=10, namespace=names[0])

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

        serial_ns(), fanout(), serial_clients(), concurrent_clients()  # warm connections and pages
        t = {"serial_ns": 0.0, "fanout": 0.0, "serial_clients": 0.0, "concurrent_clients": 0.0}
        for _ in range(ROUNDS):
            t["serial_ns"] += serial_ns()
            t["fanout"] += fanout()
            t["serial_clients"] += serial_clients()
            t["concurrent_clients"] += concurrent_clients()
    finally:
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    n_q = ROUNDS * args.queries
    fan = t["fanout"] / t["serial_ns"]
    conc = t["concurrent_clients"] / t["serial_clients"]
    print(
        f"\nParallel reads, {args.namespaces} namespaces x {args.rows:,} x {args.dim}, {n_q} queries per side"
    )
    print(f"serial, one namespace after another  {n_q * args.namespaces / t['serial_ns']:8,.0f} q/s")
    print(
        f"query_namespaces fan-out              {n_q * args.namespaces / t['fanout']:8,.0f} q/s  "
        f"wall ratio {fan:.2f} ({'meets' if fan < 0.75 else 'MISSES'} < 0.75)"
    )
    print(f"1 client, serial                      {n_q * args.clients / t['serial_clients']:8,.0f} q/s")
    print(
        f"{args.clients} concurrent clients                  "
        f"{n_q * args.clients / t['concurrent_clients']:8,.0f} q/s  wall ratio {conc:.2f}"
    )


if __name__ == "__main__":
    main()

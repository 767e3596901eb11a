"""Server benchmark: the official pinecone 10.2.0 SDK over REST against `spruce serve`, vs the embedded
`spruce.Client` doing the same work in the same run.

    python benchmarks/server.py [--n 100000] [--dim 768] [--queries 300] [--fetches 300]

Phases run one at a time so the server and the embedded engine never compete for the CPU:
  0. the SDK upsert against `http_sink.py`, a server that reads bodies and does nothing else: the most
     this SDK can send from this machine, i.e. the ceiling for phase 1;
  1. server on dir A: SDK upsert, 1,000-record batches, 8 concurrent requests;
  2. embedded on dir B: the same upsert (8 threads, 1,000-record batches); then the SDK's gRPC
     transport into a server on dir B' (the bulk-load path), for comparison;
  3. embedded on dir A: flush (seal, build ANN indexes) so both sides query identical, settled data;
  4. server on dir A: SDK query at 1 and 8 concurrent clients, fetch of 10 ids;
  5. embedded on dir A: the same queries and fetches.
A 768-d vector is ~14 KB of JSON, so 1,000-record batches exceed the 2 MiB default body limit (which
matches Pinecone's); the server is started with --max-body-bytes 64 MiB for this benchmark.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from pinecone import Pinecone, ServerlessSpec

sys.path.insert(0, str(Path(__file__).resolve().parent))
from datasets import clustered, exact_top_k, recall_at_k

import spruce
from spruce.config import EngineConfig

INDEX = "bench"
BATCH = 1000
CONCURRENCY = 8


class Server:
    def __init__(self, data: Path, ef: int | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [sys.executable, "-m", "spruce.cli", "serve", "--data", str(data), "--port", str(self.port)]
        cmd += ["--max-body-bytes", str(64 * 1024 * 1024), "--log-level", "warning"]
        self.log = data.parent / "server.log"
        env = dict(os.environ)
        if ef is not None:
            env["SPRUCE_ENGINE_HNSW_EF_SEARCH"] = str(ef)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(120)


class Sink:
    """`http_sink.py` in a subprocess."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        script = Path(__file__).resolve().parent / "http_sink.py"
        self.proc = subprocess.Popen([sys.executable, str(script), str(self.port)])
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("sink did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(30)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of another process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_quiet(pid: int, timeout: float = 120.0) -> float:
    """Seconds until process `pid` has used under 5% of a core for a whole second (a server reading
    its saved graphs into RAM after opening, say), so that work does not land in the timings."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        before = process_cpu_seconds(pid)
        time.sleep(1.0)
        if process_cpu_seconds(pid) - before < 0.05:
            break
    return time.monotonic() - start


def create_index(url: str, dim: int) -> str:
    """Create the benchmark's index through the SDK; returns its host."""
    with Pinecone(api_key="k", host=url) as pc:
        pc.create_index(
            name=INDEX, dimension=dim, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
        )
        return str(pc.describe_index(INDEX).host)


def sdk_upsert(
    url: str, items: list[tuple[str, list[float]]], server_pid: int, grpc: bool = False
) -> tuple[float, float, float]:
    """(seconds, client CPU seconds, server CPU seconds) of the SDK's batched upsert of `items`, over
    REST or, with `grpc`, over the SDK's gRPC transport to the same host."""
    with Pinecone(api_key="k", host=url, grpc_scheme="http") as pc:
        idx = pc.index(host=url, grpc=True) if grpc else pc.Index(host=url)
        # Connections and first-touch memory outside the timing; the same ids again later, so no extra rows.
        idx.upsert(vectors=items[: 2 * BATCH], batch_size=BATCH, max_concurrency=CONCURRENCY, timeout=300)
        cpu0, server0, t = os.times(), process_cpu_seconds(server_pid), time.perf_counter()
        res = idx.upsert(
            vectors=items, batch_size=BATCH, max_concurrency=CONCURRENCY, show_progress=False, timeout=300
        )
        elapsed = time.perf_counter() - t
        cpu1, server1 = os.times(), process_cpu_seconds(server_pid)
    if res.failed_items:
        raise RuntimeError(f"{len(res.failed_items)} records failed: {res.errors[:1]}")
    client_cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return elapsed, client_cpu, server1 - server0


def progress(message: str) -> None:
    # Each figure is printed as soon as it exists, so a long run that is cut short still reports.
    print(message, file=sys.stderr, flush=True)


def server_seconds(url: str, operation: str) -> tuple[float, int]:
    """(total seconds, requests) the server spent in `operation`, from its Prometheus histogram: the
    time from the request's arrival at the ASGI app to its response, i.e. without the client's side."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    total, count = 0.0, 0
    for line in text.splitlines():
        if line.startswith(f'spruce_request_seconds_sum{{operation="{operation}"}}'):
            total = float(line.split()[-1])
        elif line.startswith(f'spruce_request_seconds_count{{operation="{operation}"}}'):
            count = int(float(line.split()[-1]))
    return total, count


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray(samples) * 1000.0
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 99))


def run_concurrent(n_workers: int, per_worker: Callable[[int], list[float]]) -> list[float]:
    with ThreadPoolExecutor(n_workers) as pool:
        results = list(pool.map(per_worker, range(n_workers)))
    return [x for r in results for x in r]


def timed_calls(calls: int, fn: Callable[[int], Any]) -> list[float]:
    out = []
    for i in range(calls):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


def upsert_embedded(path: Path, vectors: Sequence[Any], ids: list[str], dim: int) -> float:
    """Seconds for the embedded client to upsert `vectors` (numpy rows, or Python lists as the SDK is
    given them) with 8 threads and 1,000-record batches."""
    with spruce.Client(path=path) as client:
        client.create_index(INDEX, dimension=dim, metric="cosine")
        idx = client.Index(INDEX)
        chunks = [(ids[i : i + BATCH], vectors[i : i + BATCH]) for i in range(0, len(ids), BATCH)]
        lock = threading.Lock()
        todo = list(range(len(chunks)))

        def worker(_: int) -> list[float]:
            while True:
                with lock:
                    if not todo:
                        return []
                    c = todo.pop()
                cid, cvec = chunks[c]
                idx.upsert(vectors=list(zip(cid, cvec, strict=True)))

        t = time.perf_counter()
        run_concurrent(CONCURRENCY, worker)
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--queries", type=int, default=300, help="queries per client")
    ap.add_argument("--fetches", type=int, default=300)
    ap.add_argument("--ef", type=int, default=None, help="hnsw_ef_search for both sides (default: engine's)")
    args = ap.parse_args()
    config = EngineConfig() if args.ef is None else EngineConfig(hnsw_ef_search=args.ef)

    print(f"generating {args.n} x {args.dim} clustered vectors ...", flush=True)
    ds = clustered(args.n, args.dim, max(args.queries, 50))
    ids = ds.ids(0, ds.n)
    rows: list[tuple[str, str, str]] = []
    root = Path(tempfile.mkdtemp(prefix="spruce-bench-"))
    try:
        server_dir, embedded_dir = root / "server", root / "embedded"

        items = [(ids[i], ds.vectors[i].tolist()) for i in range(ds.n)]
        batches = ds.n / BATCH

        # 0. the SDK's ceiling: the same upsert against a server that does nothing
        sink = Sink()
        try:
            sink_s, sink_client_cpu, _ = sdk_upsert(sink.url, items, sink.proc.pid)
        finally:
            sink.stop()
        progress(f"SDK upsert into a do-nothing sink: {ds.n / sink_s:,.0f} vectors/s")

        # 1. SDK upsert
        server = Server(server_dir)
        try:
            host = create_index(server.url, ds.dim)
            sdk_s, client_cpu, server_cpu = sdk_upsert(host, items, server.proc.pid)
            with Pinecone(api_key="k", host=server.url) as check:
                stored = check.Index(host=host).describe_index_stats().total_vector_count
            assert stored == ds.n, stored
            progress(f"SDK upsert: {ds.n / sdk_s:,.0f} vectors/s")
        finally:
            server.stop()
        del items

        # 2. embedded upsert
        emb_upsert = upsert_embedded(embedded_dir, ds.vectors, ids, ds.dim)
        progress(f"embedded upsert: {ds.n / emb_upsert:,.0f} vectors/s")
        shutil.rmtree(embedded_dir)
        lists = [ds.vectors[i].tolist() for i in range(ds.n)]
        emb_lists_upsert = upsert_embedded(embedded_dir, lists, ids, ds.dim)
        progress(f"embedded upsert from Python lists: {ds.n / emb_lists_upsert:,.0f} vectors/s")
        del lists
        shutil.rmtree(embedded_dir)

        # 2b. the same upsert over the SDK's gRPC transport, into a fresh directory
        items = [(ids[i], ds.vectors[i].tolist()) for i in range(ds.n)]
        grpc_dir = root / "grpc"
        server = Server(grpc_dir)
        try:
            grpc_s, grpc_client_cpu, grpc_server_cpu = sdk_upsert(
                create_index(server.url, ds.dim), items, server.proc.pid, grpc=True
            )
            progress(f"SDK gRPC upsert: {ds.n / grpc_s:,.0f} vectors/s")
        finally:
            server.stop()
        del items
        shutil.rmtree(grpc_dir)
        rows.append(
            (
                f"upsert {BATCH}/batch x{CONCURRENCY} (vectors/s)",
                f"{ds.n / sdk_s:,.0f}",
                f"{ds.n / emb_upsert:,.0f}",
            )
        )
        rows.append(("  ratio to embedded", f"{emb_upsert / sdk_s:.2f}", ""))
        rows.append(
            (
                "  embedded given the SDK's input, Python lists (vectors/s; ratio)",
                "",
                f"{ds.n / emb_lists_upsert:,.0f}; {emb_lists_upsert / sdk_s:.2f}",
            )
        )
        rows.append(
            (
                "  CPU per batch: SDK client / server (ms)",
                f"{client_cpu / batches * 1e3:.0f} / {server_cpu / batches * 1e3:.0f}",
                "",
            )
        )
        rows.append(
            (
                "  same upsert over the SDK's gRPC transport (vectors/s; ratio)",
                f"{ds.n / grpc_s:,.0f}; {emb_upsert / grpc_s:.2f}",
                "",
            )
        )
        rows.append(
            (
                "  gRPC CPU per batch: SDK client / server (ms)",
                f"{grpc_client_cpu / batches * 1e3:.0f} / {grpc_server_cpu / batches * 1e3:.0f}",
                "",
            )
        )
        rows.append(
            (
                "  the SDK into a do-nothing sink (vectors/s; SDK CPU ms/batch)",
                f"{ds.n / sink_s:,.0f}; {sink_client_cpu / batches * 1e3:.0f}",
                f"(sink / embedded {emb_upsert / sink_s:.2f})",
            )
        )

        # 3. settle the server's data with the embedded engine
        with spruce.Client(path=server_dir) as client:
            client.Index(INDEX).flush()

        queries = [q.tolist() for q in ds.queries]
        rng = np.random.default_rng(7)
        fetch_ids = [[ids[j] for j in rng.integers(0, ds.n, 10)] for _ in range(args.fetches)]

        truth = exact_top_k(ds.vectors, ds.queries, 10)
        with spruce.Client(path=server_dir, config=config) as client:
            eidx = client.Index(INDEX)
            found = [[int(m.id) for m in eidx.query(top_k=10, vector=q).matches] for q in ds.queries]
        rows.append(("recall@10 of these queries (embedded)", "", f"{recall_at_k(found, truth):.4f}"))
        progress(f"ef {config.hnsw_ef_search}: recall@10 {rows[-1][2]}")

        # 4. SDK queries and fetches
        server = Server(server_dir, args.ef)
        settle = wait_until_quiet(server.proc.pid)
        progress(f"server quiet {settle:.1f} s after start")
        sdk: dict[str, tuple[float, float]] = {}
        in_server: dict[str, float] = {}
        try:
            for clients in (1, 8):
                before = server_seconds(server.url, "query")

                def sdk_worker(w: int) -> list[float]:
                    with Pinecone(api_key="k", host=server.url) as p:
                        index = p.Index(host=host)
                        index.query(top_k=10, vector=queries[0])  # connect outside the timing
                        return timed_calls(
                            args.queries,
                            lambda i: index.query(top_k=10, vector=queries[(i + w) % len(queries)]),
                        )

                sdk[f"query top10 x{clients}"] = percentiles(run_concurrent(clients, sdk_worker))
                after = server_seconds(server.url, "query")
                in_server[f"query top10 x{clients}"] = (after[0] - before[0]) / max(1, after[1] - before[1])
                progress(f"SDK query x{clients}: p50/p99 {sdk[f'query top10 x{clients}']}")
            with Pinecone(api_key="k", host=server.url) as p:
                index = p.Index(host=host)
                index.fetch(ids=fetch_ids[0])
                before = server_seconds(server.url, "fetch")
                sdk["fetch 10 ids x1"] = percentiles(
                    timed_calls(args.fetches, lambda i: index.fetch(ids=fetch_ids[i]))
                )
                after = server_seconds(server.url, "fetch")
                in_server["fetch 10 ids x1"] = (after[0] - before[0]) / max(1, after[1] - before[1])
        finally:
            server.stop()

        # 5. embedded queries and fetches
        emb: dict[str, tuple[float, float]] = {}
        with spruce.Client(path=server_dir, config=config) as client:
            eidx = client.Index(INDEX)
            eidx._svc.store.wait_idle()  # graphs read into RAM, as the server had time to do
            qarr = ds.queries
            for clients in (1, 8):

                def emb_worker(w: int) -> list[float]:
                    return timed_calls(
                        args.queries, lambda i: eidx.query(top_k=10, vector=qarr[(i + w) % len(qarr)])
                    )

                emb_worker(0)
                emb[f"query top10 x{clients}"] = percentiles(run_concurrent(clients, emb_worker))
                progress(f"embedded query x{clients}: p50/p99 {emb[f'query top10 x{clients}']}")
            emb["fetch 10 ids x1"] = percentiles(
                timed_calls(args.fetches, lambda i: eidx.fetch(ids=fetch_ids[i]))
            )

        for name in sdk:
            s50, s99 = sdk[name]
            e50, e99 = emb[name]
            rows.append((f"{name} p50 / p99 (ms)", f"{s50:.2f} / {s99:.2f}", f"{e50:.2f} / {e99:.2f}"))
            rows.append(
                (
                    f"  {name}: mean time inside the server (ms)",
                    f"{in_server[name] * 1e3:.2f}",
                    f"(embedded p50 {e50:.2f})",
                )
            )
    except BaseException:
        log = root / "server.log"
        if log.exists():
            print(log.read_text()[-5000:], file=sys.stderr)
        raise
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print_table(args, rows, "SDK -> server (REST)", "embedded")


def print_table(args: argparse.Namespace, rows: list[tuple[str, str, str]], left: str, right: str) -> None:
    print()
    print(f"n={args.n} dim={args.dim} cpus={os.cpu_count()} (client and server share the machine)")
    width = max(len(r[0]) for r in rows)
    lw, rw = max(len(left), 16), max(len(right), 16)
    print(f"{'measure'.ljust(width)} | {left:>{lw}} | {right:>{rw}}")
    print(f"{'-' * width}-+-{'-' * lw}-+-{'-' * rw}")
    for name, a, b in rows:
        print(f"{name.ljust(width)} | {a:>{lw}} | {b:>{rw}}")


if __name__ == "__main__":
    main()

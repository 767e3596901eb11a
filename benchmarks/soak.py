"""Soak test: writers, deleters and readers against a real `spruce serve` for N minutes, then a check of
every record against a client-side model, before and after a kill -9 and restart.

    python benchmarks/soak.py [--minutes 10] [--writers 3] [--deleters 1] [--readers 2] [--ids 20000]

Loopback only; the server runs on a fresh temporary data directory. The id space is bounded, so the data
stops growing once every id has been written: from then on the server's RSS must stay flat (it is
sampled every `--sample-seconds` and printed as a table, with the growth over the second half).

The model is exact: ids are split into ranges, each with a lock held around every request that touches
the range (upsert, delete, or a checked fetch/query), so at any moment the model says what the server
must answer. Printed at the end: lost (acknowledged, never deleted, missing), phantom (deleted, still
served), wrong (served with other values or metadata), read errors seen during the run.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from pinecone import Pinecone, ServerlessSpec

DIM = 16
RANGES = 64
BATCH = 50


@dataclass
class Counters:
    upserts: int = 0
    deletes: int = 0
    fetches: int = 0
    queries: int = 0
    errors: int = 0
    live_wrong: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)


class Model:
    """What the server must hold: id -> (values, version) for live ids."""

    def __init__(self, n_ids: int) -> None:
        self.n_ids = n_ids
        self.locks = [threading.Lock() for _ in range(RANGES)]
        self.live: dict[str, tuple[list[float], int]] = {}
        self.deleted: set[str] = set()

    def range_of(self, i: int) -> int:
        return i * RANGES // self.n_ids

    def ids_in(self, r: int) -> range:
        lo = -(-r * self.n_ids // RANGES)
        hi = -(-(r + 1) * self.n_ids // RANGES)
        return range(lo, hi)


def rid(i: int) -> str:
    return f"id-{i:07d}"


def free_port() -> int:
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 60000:
            return port


class Server:
    def __init__(self, data: Path, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        cmd = [sys.executable, "-m", "spruce.cli", "serve", "--data", str(data), "--port", str(port)]
        cmd += ["--log-level", "warning"]
        self.log = data.parent / "server.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPRUCE_")}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self, kill: bool = False) -> None:
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        self.proc.wait(120)


def vector(rng: random.Random) -> list[float]:
    # Rounded to float32 so the model compares equal to what the server returns.
    return [float(x) for x in np.asarray([rng.uniform(-1, 1) for _ in range(DIM)], dtype=np.float32)]


def writer(index: Any, model: Model, stats: Counters, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        r = rng.randrange(RANGES)
        ids = list(model.ids_in(r))
        chosen = rng.sample(ids, min(BATCH, len(ids)))
        with model.locks[r]:
            batch = []
            for i in chosen:
                version = model.live.get(rid(i), ([], 0))[1] + 1
                batch.append((rid(i), vector(rng), {"v": version, "r": r}))
            try:
                index.upsert(vectors=batch)
            except Exception:
                stats.add("errors")
                continue
            for key, values, meta in batch:
                model.live[key] = (values, meta["v"])
                model.deleted.discard(key)
        stats.add("upserts", len(batch))


def deleter(index: Any, model: Model, stats: Counters, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        r = rng.randrange(RANGES)
        with model.locks[r]:
            live = [i for i in model.ids_in(r) if rid(i) in model.live]
            doomed = [rid(i) for i in rng.sample(live, min(10, len(live)))]
            if not doomed:
                continue
            try:
                index.delete(ids=doomed)
            except Exception:
                stats.add("errors")
                continue
            for key in doomed:
                model.live.pop(key, None)
                model.deleted.add(key)
        stats.add("deletes", len(doomed))
        stop.wait(0.02)  # deletes trail writes, so the data grows until the id space is full


def reader(index: Any, model: Model, stats: Counters, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        r = rng.randrange(RANGES)
        with model.locks[r]:
            keys = [rid(i) for i in rng.sample(list(model.ids_in(r)), 10)]
            try:
                got = index.fetch(ids=keys).vectors
                stats.add("fetches")
                stats.add("live_wrong", len(diff(model, keys, got)))
                probe = next((k for k in keys if k in model.live), None)
                if probe is not None:
                    res = index.query(vector=model.live[probe][0], top_k=3, include_metadata=True)
                    stats.add("queries")
                    if not res.matches or res.matches[0].id != probe:
                        stats.add("live_wrong")
            except Exception:
                stats.add("errors")


def diff(model: Model, keys: list[str], got: dict[str, Any]) -> list[tuple[str, str]]:
    problems = []
    for key in keys:
        want = model.live.get(key)
        have = got.get(key)
        if want is None:
            if have is not None:
                problems.append((key, "phantom"))
        elif have is None:
            problems.append((key, "lost"))
        elif not same_vector(have.values, want[0]) or int(have.metadata["v"]) != want[1]:
            problems.append((key, "wrong"))
    return problems


def same_vector(got: list[float], want: list[float]) -> bool:
    # Both sides as float32: JSON carries the shortest float32 repr, not the float64 one.
    return bool(np.array_equal(np.asarray(got, dtype=np.float32), np.asarray(want, dtype=np.float32)))


def full_check(index: Any, model: Model) -> dict[str, int]:
    counts = {"lost": 0, "phantom": 0, "wrong": 0}
    keys = [rid(i) for i in range(model.n_ids)]
    for start in range(0, len(keys), 100):
        chunk = keys[start : start + 100]
        got = index.fetch(ids=chunk).vectors
        for _, kind in diff(model, chunk, got):
            counts[kind] += 1
    stats = index.describe_index_stats()
    counts["count_mismatch"] = abs(int(stats.total_vector_count) - len(model.live))
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--writers", type=int, default=3)
    ap.add_argument("--deleters", type=int, default=1)
    ap.add_argument("--readers", type=int, default=2)
    ap.add_argument("--ids", type=int, default=20_000)
    ap.add_argument("--sample-seconds", type=float, default=15.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="spruce-soak-"))
    data = tmp / "data"
    port = free_port()
    server = Server(data, port)
    try:
        pc = Pinecone(api_key="soak", host=server.url)
        pc.create_index(
            "soak", dimension=DIM, metric="euclidean", spec=ServerlessSpec(cloud="aws", region="us-east-1")
        )
        index = pc.Index(host=pc.describe_index("soak").host)
        model = Model(args.ids)
        stats = Counters()
        stop = threading.Event()
        roles = [(writer, args.writers), (deleter, args.deleters), (reader, args.readers)]
        threads = [
            threading.Thread(target=fn, args=(index, model, stats, stop, args.seed * 1000 + k * 100 + j))
            for k, (fn, n) in enumerate(roles)
            for j in range(n)
        ]
        for t in threads:
            t.start()
        started = time.monotonic()
        end = started + args.minutes * 60
        samples: list[tuple[float, float, int]] = []
        print(f"soak: {args.minutes} min, {args.writers}w/{args.deleters}d/{args.readers}r, {args.ids} ids")
        print(
            f"{'t (s)':>7} {'RSS MB':>8} {'live':>7} {'upserted':>9} {'deleted':>8} {'fetches':>8} {'err':>4}"
        )
        while True:
            now = time.monotonic()
            samples.append((now - started, server.rss_mb(), len(model.live)))
            t, rss, live = samples[-1]
            print(
                f"{t:7.0f} {rss:8.1f} {live:7d} {stats.upserts:9d} {stats.deletes:8d} "
                f"{stats.fetches:8d} {stats.errors:4d}",
                flush=True,
            )
            if now >= end:
                break
            time.sleep(min(args.sample_seconds, max(0.0, end - now)))
        stop.set()
        for t in threads:
            t.join()
        before = full_check(index, model)
        server.stop(kill=True)
        server = Server(data, port)
        pc = Pinecone(api_key="soak", host=server.url)
        index = pc.Index(host=pc.describe_index("soak").host)
        after = full_check(index, model)
        half = [s for s in samples if s[0] >= samples[-1][0] / 2]
        growth = half[-1][1] - half[0][1] if len(half) > 1 else 0.0
        print()
        print(
            f"operations: {stats.upserts} records upserted, {stats.deletes} deleted, "
            f"{stats.fetches} fetches, {stats.queries} queries, {stats.errors} request errors"
        )
        print(f"live checks during the run: {stats.live_wrong} wrong answers")
        print(f"final check before kill -9: {before}")
        print(f"final check after kill -9 + restart: {after}")
        print(
            f"RSS: first {samples[0][1]:.1f} MB, max {max(s[1] for s in samples):.1f} MB, "
            f"last {samples[-1][1]:.1f} MB; growth over the second half {growth:+.1f} MB"
        )
        bad = sum(before.values()) + sum(after.values()) + stats.live_wrong
        print("RESULT:", "OK" if bad == 0 and stats.errors == 0 else "PROBLEMS FOUND")
    finally:
        if server.proc.poll() is None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

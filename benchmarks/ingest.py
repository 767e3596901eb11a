"""Durable embedded ingest against writing the same bytes with one fsync per batch, interleaved.

    python benchmarks/ingest.py [--n 20000] [--rounds 3] [--dims 384,768]

Each round, for each dimension: Spruce's embedded client upserts N records in batches of 1,000 (dicts
with a small metadata field, as `peers_runner.py` sends them; fsync on, the default), then a raw
baseline appends the batch's float32 rows and ids to a file and fsyncs once per batch, the least any
durable store must do. The figure is Spruce / raw per round and the median; it also prints Spruce's
CPU per batch (this process, so the engine's background threads count) to say what bounds it: with
the raw writer at R vec/s, fsync latency alone costs 1,000 / R seconds per batch.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import spruce

BATCH = 1000


def spruce_ingest(path: Path, vectors: np.ndarray) -> tuple[float, float]:
    """(vectors/s, CPU ms per batch) of the embedded upsert of `vectors` into a new index."""
    with spruce.Client(path=path) as db:
        db.create_index(name="ingest", dimension=vectors.shape[1], metric="cosine")
        ix = db.Index("ingest")
        cpu0, t0 = os.times(), time.perf_counter()
        for s in range(0, len(vectors), BATCH):
            ix.upsert(
                vectors=[
                    {"id": str(i), "values": vectors[i], "metadata": {"bucket": i % 100}}
                    for i in range(s, min(s + BATCH, len(vectors)))
                ]
            )
        elapsed = time.perf_counter() - t0
        cpu1 = os.times()
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return len(vectors) / elapsed, cpu / (len(vectors) / BATCH) * 1000


def raw_ingest(path: Path, vectors: np.ndarray) -> float:
    """vectors/s of appending each batch's rows and ids to one file, one fsync per batch."""
    fd = os.open(path / "raw.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        t0 = time.perf_counter()
        for s in range(0, len(vectors), BATCH):
            e = min(s + BATCH, len(vectors))
            ids = ",".join(map(str, range(s, e))).encode()
            os.write(fd, vectors[s:e].tobytes() + ids)
            os.fsync(fd)
        return len(vectors) / (time.perf_counter() - t0)
    finally:
        os.close(fd)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dims", default="384,768")
    ap.add_argument("--dir", default=None, help="where to write (default: a temporary directory)")
    args = ap.parse_args()
    dims = [int(d) for d in args.dims.split(",")]
    print("load at start:", [f"{x:.2f}" for x in os.getloadavg()])
    rng = np.random.default_rng(0)
    data = {d: rng.standard_normal((args.n, d), dtype=np.float32) for d in dims}
    ratios: dict[int, list[float]] = {d: [] for d in dims}
    for r in range(1, args.rounds + 1):
        for d in dims:
            work = Path(tempfile.mkdtemp(prefix="ingest-", dir=args.dir))
            try:
                raw1 = raw_ingest(work, data[d])
                rate, cpu_ms = spruce_ingest(work / "db", data[d])
                raw2 = raw_ingest(work, data[d])
            finally:
                shutil.rmtree(work, ignore_errors=True)
            raw = (raw1 + raw2) / 2
            ratios[d].append(rate / raw)
            print(
                f"round {r} {d}-d: spruce {rate:,.0f} vec/s (CPU {cpu_ms:.1f} ms/batch, wall "
                f"{BATCH / rate * 1000:.1f} ms/batch)  raw write+fsync {raw:,.0f} vec/s "
                f"({BATCH / raw * 1000:.1f} ms/batch)  ratio {rate / raw:.2f}",
                flush=True,
            )
    for d in dims:
        print(f"{d}-d median spruce / raw: {statistics.median(ratios[d]):.2f}")
    print("load at end:", [f"{x:.2f}" for x in os.getloadavg()])


if __name__ == "__main__":
    main()

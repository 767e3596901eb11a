"""Disk given back after dropping most of many small namespaces (mostly-empty packs, engine/repack.py).

    python benchmarks/repack.py --namespaces 20000 --records 50 --dim 64 --keep 0.25

Writes the namespaces (packed by the checkpoint), reopens (they are dormant), drops all but `--keep`
of them and deletes a quarter of the rows of those left, then flushes: that checkpoint rewrites the
mostly-empty packs. The baseline, in the same run: a fresh index holding only the surviving records,
written the same way. Printed: disk before and after, the ratio of the repacked index's disk to the
baseline's (1.0 = nothing dead left on disk), the repacking flush's time against the baseline's
flush, and reopen times of both.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import spruce
from spruce.config import EngineConfig

INDEX = "tenants"


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def write(root: Path, names: list[str], rows: dict[str, int], dim: int, seed: int) -> float:
    """Upsert every namespace's records, then flush; returns the flush's seconds."""
    rng = np.random.default_rng(seed)
    with spruce.Client(path=root, config=EngineConfig()) as client:
        client.create_index(INDEX, dimension=dim, metric="cosine")
        index = client.Index(INDEX)
        for name in names:
            n = rows[name]
            vecs = rng.standard_normal((n, dim), dtype=np.float32)
            index.upsert(vectors=[(f"{name}-{i}", vecs[i]) for i in range(n)], namespace=name)
        t0 = time.perf_counter()
        index.flush()
        return time.perf_counter() - t0


def reopen_seconds(root: Path) -> float:
    t0 = time.perf_counter()
    with spruce.Client(path=root, config=EngineConfig()) as client:
        client.Index(INDEX).describe_index_stats()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--namespaces", type=int, default=20_000)
    ap.add_argument("--records", type=int, default=50)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--keep", type=float, default=0.25, help="fraction of namespaces kept")
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    base = Path(args.dir or tempfile.mkdtemp(prefix="spruce-repack-"))
    shutil.rmtree(base, ignore_errors=True)
    names = [f"t{k:06d}" for k in range(args.namespaces)]
    rows = dict.fromkeys(names, args.records)
    step = round(1 / args.keep)
    kept = names[::step]

    thinned = base / "thinned"
    write(thinned, names, rows, args.dim, seed=1)
    before = disk_bytes(thinned)
    with spruce.Client(path=thinned, config=EngineConfig()) as client:
        index = client.Index(INDEX)
        keep = set(kept)
        for name in names:
            if name not in keep:
                index.delete(delete_all=True, namespace=name)
        survivors = {}
        for name in kept:
            doomed = [f"{name}-{i}" for i in range(0, args.records, 4)]
            index.delete(ids=doomed, namespace=name)
            survivors[name] = args.records - len(doomed)
        t0 = time.perf_counter()
        index.flush()
        repack_s = time.perf_counter() - t0
        total = index.describe_index_stats().total_vector_count
    after = disk_bytes(thinned)

    fresh = base / "fresh"
    fresh_s = write(fresh, kept, survivors, args.dim, seed=2)
    fresh_bytes = disk_bytes(fresh)
    shape = f"{args.namespaces:,} namespaces x {args.records} x {args.dim}-d"
    print(f"{shape}, kept {len(kept):,} ({total:,} records)")
    print(f"disk: {before / 2**20:,.1f} MiB written, {after / 2**20:,.1f} MiB after drops + flush")
    print(f"baseline (fresh index, survivors only): {fresh_bytes / 2**20:,.1f} MiB")
    print(f"ratio repacked / fresh disk: {after / fresh_bytes:.2f} (1.00 = no dead rows left)")
    print(f"flush: repacking {repack_s:.2f} s, fresh survivors {fresh_s:.2f} s ({repack_s / fresh_s:.2f}x)")
    print(f"reopen: repacked {reopen_seconds(thinned):.2f} s, fresh {reopen_seconds(fresh):.2f} s")
    if args.dir is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Backup benchmark: time and new bytes to back up an index of N records, against `shutil.copytree` of
the same index directory in the same run, plus the time to restore (verify + link) and reopen.

    python benchmarks/backup.py [--n 200000] [--dim 768] [--rounds 3] [--graphs] [--tail N] [--dir PARENT]

The index is loaded through the engine, flushed into segments, then given a WAL tail of `--tail`
records (what a live index has). A backup hard-links the segments, copies the bitmaps and the WAL tail,
and checksums every file (CRC32, so restore finds any damage); copytree reads and writes every byte.
Both run on files that were just written, i.e. from the page cache, alternating, `--rounds` times;
medians are reported. HNSW graphs are skipped unless `--graphs` (a graph adds ~n*M*8 bytes and minutes
of build time, and is linked like the other segment files).

The machine is shared: absolute times move between runs; the ratio is the figure to read.
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

import numpy as np

from spruce.config import EngineConfig
from spruce.engine import snapshot
from spruce.engine.fsutil import fsync_dir
from spruce.engine.store import Store
from spruce.types import Record

BATCH = 1_000


def _config(n: int, graphs: bool) -> EngineConfig:
    return EngineConfig(ann_min_rows=1 if graphs else n + 1, ingest_quiet_ms=0)


def _load(path: Path, n: int, dim: int, tail: int, graphs: bool) -> Store:
    store = Store(path, dim, "cosine", _config(n + tail, graphs))
    rng = np.random.default_rng(0)
    for start in range(0, n, BATCH):
        rows = min(BATCH, n - start)
        dense = rng.standard_normal((rows, dim), dtype=np.float32)
        records = [Record(f"id-{start + i}", dense[i], None, {"n": start + i}) for i in range(rows)]
        store.put("", records, dense)
    store.flush()
    for start in range(0, tail, BATCH):
        rows = min(BATCH, tail - start)
        dense = rng.standard_normal((rows, dim), dtype=np.float32)
        store.put("tail", [Record(f"t-{start + i}", dense[i]) for i in range(rows)], dense)
    return store


def _copy_durably(src: Path, dst: Path) -> None:
    """copytree, then fsync every file and directory: what a backup must do to be one."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("wal.lock"))
    for p in sorted(dst.rglob("*"), key=lambda p: -len(p.parts)):
        if p.is_file():
            with open(p, "rb+") as f:
                os.fsync(f.fileno())
        else:
            fsync_dir(p)
    fsync_dir(dst)


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tail", type=int, default=5_000, help="records left in the WAL after the flush")
    parser.add_argument("--graphs", action="store_true", help="build HNSW graphs before backing up")
    parser.add_argument("--dir", type=Path, default=None, help="parent directory for the data")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="spruce-backup-bench-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        store = _load(root / "index", args.n, args.dim, args.tail, args.graphs)
        load_s = time.perf_counter() - t0
        index_bytes = _tree_bytes(root / "index")
        print(
            f"loaded {args.n:,} x {args.dim} (+{args.tail:,} in the WAL) in {load_s:.1f} s; "
            f"{index_bytes:,} bytes"
        )

        backup_s: list[float] = []
        copy_s: list[float] = []
        durable_s: list[float] = []
        restore_s: list[float] = []
        info = None
        crcs: snapshot.CrcCache = {}
        for r in range(args.rounds):
            dest = root / f"copy-{r}"
            t0 = time.perf_counter()
            shutil.copytree(root / "index", dest, ignore=shutil.ignore_patterns("wal.lock"))
            copy_s.append(time.perf_counter() - t0)
            copy_bytes = _tree_bytes(dest)
            shutil.rmtree(dest)
            t0 = time.perf_counter()
            _copy_durably(root / "index", dest)
            durable_s.append(time.perf_counter() - t0)
            shutil.rmtree(dest)

            dest = root / f"backup-{r}"
            t0 = time.perf_counter()
            info = snapshot.take(store, dest, crcs)
            backup_s.append(time.perf_counter() - t0)

            t0 = time.perf_counter()
            snapshot.restore(dest, root / f"restored-{r}")
            reopened = Store(
                root / f"restored-{r}", args.dim, "cosine", _config(args.n + args.tail, args.graphs)
            )
            restore_s.append(time.perf_counter() - t0)
            assert reopened.namespace_counts() == info.namespaces, "restore lost records"
            reopened.close()
            shutil.rmtree(root / f"restored-{r}")
            if r < args.rounds - 1:
                shutil.rmtree(dest)
        store.close()
        assert info is not None
        cold = backup_s[0]  # checksums every file
        warm = statistics.median(backup_s[1:]) if len(backup_s) > 1 else cold  # cached checksums
        c, cd, rs = statistics.median(copy_s), statistics.median(durable_s), statistics.median(restore_s)
        new_bytes = info.size_bytes - info.linked_bytes
        times = ", ".join(f"{x:.3f}" for x in backup_s)
        print(
            f"backup   : first {cold:.3f} s (checksums every file), later {warm:.3f} s median "
            f"(segment checksums cached) [{times}]"
        )
        print(
            f"           {info.size_bytes:,} bytes in {info.files} files, {new_bytes:,} newly written "
            f"({info.linked_bytes:,} hard-linked)"
        )
        print(f"copytree : {c:.3f} s median [{', '.join(f'{x:.3f}' for x in copy_s)}]; {copy_bytes:,} bytes")
        print(
            f"copytree + fsync of every file: {cd:.3f} s median [{', '.join(f'{x:.3f}' for x in durable_s)}]"
        )
        print(f"restore  : {rs:.3f} s median (verify every checksum + link + reopen with WAL replay)")
        print(
            f"ratio    : copytree / first backup = {c / cold:.2f}, copytree / later backup = {c / warm:.2f}, "
            f"durable copytree / first backup = {cd / cold:.2f}; "
            f"a backup writes {new_bytes / max(copy_bytes, 1):.4f} of copytree's bytes"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""Bulk import benchmark: local Parquet and loopback S3 (moto), against pyarrow merely reading the files.

    python benchmarks/import.py [--n 1000000] [--dim 768] [--namespaces 4] [--moto-n 100000]
                                [--skip-hnsw] [--skip-moto] [--dir PARENT] [--json out.json]

Makes `n` dense records with metadata as Parquet in the import layout (`<dir>/src/ns-K/part-J.parquet`),
then reports, all measured in this run on this (shared, loaded) machine:

- the baseline: pyarrow reading the same files (row group batches, values flattened to a float32
  matrix, metadata column materialised), records/s;
- the import (embedded client, fresh process): records/s from `start_import` until every namespace is
  published and queryable, and its ratio to the baseline; then the time until the HNSW graphs are
  built (unless --skip-hnsw); the importing process' peak RSS;
- the same from moto in server mode over loopback for `--moto-n` records, as a ratio to the local
  figure; and pyarrow's S3 filesystem against boto3 (GET the object, then parse) reading those files.

The import runs in a child process so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

ROW_GROUP = 20_000
GENRES = ["drama", "comedy", "action", "documentary", "thriller"]


def make_files(root: Path, n: int, dim: int, namespaces: int, files_per_ns: int = 2) -> list[Path]:
    rng = np.random.default_rng(7)
    per_ns = n // namespaces
    paths = []
    start = 0
    for k in range(namespaces):
        per_file = per_ns // files_per_ns
        for j in range(files_per_ns):
            count = per_file if j < files_per_ns - 1 else per_ns - per_file * (files_per_ns - 1)
            d = root / f"ns-{k}"
            d.mkdir(parents=True, exist_ok=True)
            path = d / f"part-{j}.parquet"
            with pq.ParquetWriter(path, _schema(), compression="none") as w:
                for off in range(0, count, ROW_GROUP):
                    m = min(ROW_GROUP, count - off)
                    ids = pa.array([f"r{start + off + i}" for i in range(m)])
                    vals = rng.standard_normal((m, dim), dtype=np.float32)
                    offsets = pa.array(np.arange(0, (m + 1) * dim, dim, dtype=np.int32))
                    values = pa.ListArray.from_arrays(offsets, pa.array(vals.reshape(-1)))
                    meta = pa.array(
                        [
                            f'{{"genre":"{GENRES[r % 5]}","year":{1950 + r % 70}}}'
                            for r in range(start + off, start + off + m)
                        ]
                    )
                    w.write_table(pa.table({"id": ids, "values": values, "metadata": meta}, schema=_schema()))
            start += count
            paths.append(path)
    return paths


def _schema() -> pa.Schema:
    return pa.schema([("id", pa.string()), ("values", pa.list_(pa.float32())), ("metadata", pa.string())])


def read_baseline(paths: list[str], fs: pafs.FileSystem) -> tuple[int, float, int]:
    """pyarrow alone, at its fastest here: every batch read (local files memory-mapped), values flattened
    to a float32 matrix, metadata materialised. Returns rows, seconds and the id + metadata bytes."""
    t = time.perf_counter()
    rows = strings = 0
    local = isinstance(fs, pafs.LocalFileSystem)
    for path in paths:
        with pa.memory_map(path) if local else fs.open_input_file(path) as f:
            for batch in pq.ParquetFile(f, pre_buffer=True).iter_batches(batch_size=8192):
                flat = pc.list_flatten(batch.column("values")).to_numpy(zero_copy_only=False)
                np.asarray(flat, dtype=np.float32)
                meta = batch.column("metadata").cast(pa.string())
                rows += batch.num_rows
                strings += meta.nbytes + batch.column("id").nbytes
    return rows, time.perf_counter() - t, strings


def disk_ceiling(directory: Path, nbytes: int, files: int, chunk: int) -> float:
    """Seconds to write `nbytes` durably the way the import does, in the same filesystem: `files` files
    written `chunk` bytes at a time through unbuffered descriptors, writeback started every
    WRITEBACK_BYTES, then one syncfs. No checksums, no decoding: the disk (and page cache) alone."""
    from spruce.engine.bulk import WRITEBACK_BYTES, start_writeback
    from spruce.engine.fsutil import one_sync_for

    directory.mkdir(parents=True, exist_ok=True)
    block = np.random.default_rng(3).integers(0, 255, chunk, dtype=np.uint8).data
    per_file = nbytes // files
    t = time.perf_counter()
    with one_sync_for(directory):
        for k in range(files):
            fd = os.open(directory / f"ceiling-{k}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            written = flushed = 0
            while written < per_file:
                written += os.write(fd, block[: min(chunk, per_file - written)])
                if written - flushed >= WRITEBACK_BYTES:
                    start_writeback(fd, flushed, written - flushed)
                    flushed = written
            os.close(fd)
    elapsed = time.perf_counter() - t
    shutil.rmtree(directory)
    return elapsed


def rss_now() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _profile(manager: Any) -> list[tuple[str, cProfile.Profile]]:
    """cProfile the import worker and publishing threads (the reader and writer threads run C code
    that releases the GIL: their cost shows as waits here, and in the read / ceiling baselines)."""
    out: list[tuple[str, cProfile.Profile]] = []
    for name in ("_run", "_publish"):
        original = getattr(manager, name)
        prof = cProfile.Profile()
        out.append((name, prof))

        def wrapped(*args: Any, _f: Any = original, _p: cProfile.Profile = prof) -> Any:
            _p.enable()
            try:
                return _f(*args)
            finally:
                _p.disable()

        setattr(manager, name, wrapped)
    return out


def probe_open(data: str) -> None:
    """Child process: open the imported index again; its RSS is the engine's state for the data."""
    import spruce

    before = rss_now()
    with spruce.Client(data) as db:
        db.Index("bench").describe_index_stats()
        print("PROBE " + json.dumps({"rss_before_bytes": before, "rss_open_bytes": rss_now()}), flush=True)
        os._exit(0)


def probe(data: str, uri: str, dim: int, skip_hnsw: bool, profile: bool = False) -> None:
    """Child process: import `uri` into a fresh index, print figures as JSON."""
    import spruce
    from spruce.config import Settings

    with spruce.Client(data, config=Settings.from_env().engine) as db:
        db.create_index("bench", dimension=dim, metric="cosine")
        index = db.Index("bench")
        manager = db.catalog.imports
        profiles = _profile(manager) if profile else []
        rss_before = rss_now()
        t0 = time.perf_counter()
        job = manager.start("bench", uri, "abort")
        while len(job.done) < len(job.plan) and job.status not in ("Failed", "Cancelled"):
            time.sleep(0.01)
        t_queryable = time.perf_counter() - t0
        if job.status == "Failed":
            raise SystemExit(f"import failed: {job.error}")
        rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        rss_published = rss_now()
        index_dir = Path(data) / "indexes" / "bench"
        written = sum(p.stat().st_size for p in index_dir.rglob("*") if p.is_file())
        segment_files = sum(1 for p in (index_dir / "segments").rglob("*") if p.is_file())
        for name, prof in profiles:
            print(f"--- profile of the {name} thread (by own time)", file=sys.stderr)
            pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(22)
        first = index.fetch(["r0"], namespace="ns-0").vectors["r0"]
        top = index.query(vector=first.values, top_k=1, namespace="ns-0").matches[0].id
        t_graphs = None
        if not skip_hnsw:
            db.catalog.index("bench").store.wait_idle(timeout=24 * 3600)
            manager.wait("bench", job.id)
            t_graphs = time.perf_counter() - t0
        out = {
            "records": job.records_imported,
            "queryable_s": t_queryable,
            "graphs_s": t_graphs,
            "self_match": top == "r0",
            "peak_rss_bytes": rss_import,
            "rss_before_bytes": rss_before,
            "rss_published_bytes": rss_published,
            "bytes_written": written,
            "segment_files": segment_files,
            "peak_rss_end_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }
        print("PROBE " + json.dumps(out), flush=True)
        os._exit(0)  # skip the graph builds' teardown when skipped


def run_probe(
    data: Path,
    uri: str,
    dim: int,
    skip_hnsw: bool,
    env: dict[str, str] | None = None,
    profile: bool = False,
    open_only: bool = False,
) -> dict[str, Any]:
    if open_only:
        cmd = [sys.executable, __file__, "--probe-open", str(data)]
    else:
        cmd = [sys.executable, __file__, "--probe", str(data), uri, "--dim", str(dim)]
    if skip_hnsw:
        cmd.append("--skip-hnsw")
    if profile:
        cmd.append("--profile")
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    if profile:
        print(proc.stderr)
    for line in proc.stdout.splitlines():
        if line.startswith("PROBE "):
            return dict(json.loads(line[6:]))
    raise SystemExit(f"probe failed:\n{proc.stdout}\n{proc.stderr}")


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def moto_section(
    paths: list[Path], src: Path, moto_n: int, dim: int, local_rate: float, work: Path
) -> dict[str, Any]:
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_REGION": "us-east-1",
    }
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="x",
            aws_secret_access_key="x",
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket="bench")
        uploaded, keys = 0, []
        for path in paths:
            if uploaded >= moto_n:
                break
            key = f"moto/{path.relative_to(src)}"
            s3.upload_file(str(path), "bench", key)
            keys.append(key)
            uploaded += pq.read_metadata(path).num_rows
        fs = pafs.S3FileSystem(
            access_key="x",
            secret_key="x",
            region="us-east-1",
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
        )
        rows, t_arrow, _ = read_baseline([f"bench/{k}" for k in keys], fs)
        t = time.perf_counter()
        for key in keys:
            body = s3.get_object(Bucket="bench", Key=key)["Body"].read()
            table = pq.read_table(pa.BufferReader(body))
            np.asarray(pc.list_flatten(table.column("values")).to_numpy(), dtype=np.float32)
        t_boto = time.perf_counter() - t
        probe_out = run_probe(work / "moto-data", "s3://bench/moto/", dim, skip_hnsw=True, env=env)
        rate = probe_out["records"] / probe_out["queryable_s"]
        return {
            "records": rows,
            "pyarrow_s3_read_rps": rows / t_arrow,
            "boto3_get_then_parse_rps": rows / t_boto,
            "import_rps": rate,
            "import_ratio_to_local": rate / local_rate,
            "import_ratio_to_s3_read": rate / (rows / t_arrow),
        }
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--namespaces", type=int, default=4)
    ap.add_argument("--moto-n", type=int, default=100_000)
    ap.add_argument("--skip-hnsw", action="store_true")
    ap.add_argument("--skip-moto", action="store_true")
    ap.add_argument("--profile", action="store_true", help="cProfile the import's Python threads")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--probe", nargs=2, metavar=("DATA", "URI"))
    ap.add_argument("--probe-open", metavar="DATA")
    args = ap.parse_args()
    if args.probe:
        probe(args.probe[0], args.probe[1], args.dim, args.skip_hnsw, args.profile)
        return
    if args.probe_open:
        probe_open(args.probe_open)
        return
    work = Path(tempfile.mkdtemp(prefix="spruce-import-bench-", dir=args.dir))
    try:
        src = work / "src"
        t = time.perf_counter()
        paths = make_files(src, args.n, args.dim, args.namespaces)
        size = sum(p.stat().st_size for p in paths)
        print(
            f"made {args.n:,} x {args.dim} records in {len(paths)} files ({size / 1e9:.2f} GB)"
            f" in {time.perf_counter() - t:.1f}s ({load()})"
        )
        rows, t_read, strings = read_baseline([str(p) for p in paths], pafs.LocalFileSystem())
        read_rps = rows / t_read
        print(f"baseline  pyarrow reads the files:  {read_rps:12,.0f} records/s ({t_read:.1f}s, {load()})")
        # What the import will write: vectors, norms, indptr, ids + metadata (+ Arrow offsets).
        estimate = args.n * (4 * args.dim + 4 + 8 + 8) + strings
        chunk = 4096 * args.dim * 4  # one batch's vectors, as the import writes them
        files = 6 * args.namespaces
        t_disk1 = disk_ceiling(work / "ceiling", estimate, files, chunk)
        res = run_probe(work / "data", str(src), args.dim, args.skip_hnsw, profile=args.profile)
        written = res["bytes_written"]
        t_disk2 = disk_ceiling(work / "ceiling", written, files, chunk)
        disk_rps = args.n / ((t_disk1 * written / estimate + t_disk2) / 2)
        print(
            f"baseline  disk, {written / 1e9:.2f} GB + syncfs: {disk_rps:12,.0f} records/s"
            f" ({written / t_disk2 / 1e6:,.0f} / {estimate / t_disk1 / 1e6:,.0f} MB/s after / before)"
        )
        rps = res["records"] / res["queryable_s"]
        ceiling = min(read_rps, disk_rps)
        print(
            f"import    until all queryable:        {rps:12,.0f} records/s ({res['queryable_s']:.1f}s,"
            f" {load()})\n          ratio to pyarrow read {rps / read_rps:.2f},"
            f" to the disk {rps / disk_rps:.2f},"
            f" to the lower of both {rps / ceiling:.2f}  (target >= 100,000/s)"
        )
        print(f"          exact self-match after publish: {res['self_match']}")
        opened = run_probe(work / "data", "", args.dim, True, open_only=True)
        engine = opened["rss_open_bytes"] - opened["rss_before_bytes"]
        base = res["rss_before_bytes"]
        mib = 2**20
        print(
            f"          peak RSS while importing: {res['peak_rss_bytes'] / mib:,.0f} MiB = process before"
            f" {base / mib:,.0f} + engine state after publish"
            f" {(res['rss_published_bytes'] - base) / mib:,.0f}"
            f" (the same index reopened: {engine / mib:,.0f}) + the rest (import buffers, allocator)"
            f" {(res['peak_rss_bytes'] - res['rss_published_bytes']) / mib:,.0f}"
        )
        if res["graphs_s"] is not None:
            print(
                f"          HNSW graphs ready after {res['graphs_s']:.1f}s"
                f" (peak RSS then {res['peak_rss_end_bytes'] / mib:,.0f} MiB, {load()})"
            )
        out: dict[str, Any] = {
            "n": args.n,
            "dim": args.dim,
            "read_rps": read_rps,
            "disk_rps": disk_rps,
            "import": res,
            "import_rps": rps,
            "reopened": opened,
        }
        if not args.skip_moto:
            m = moto_section(paths, src, args.moto_n, args.dim, rps, work)
            out["moto"] = m
            print(f"moto      {m['records']:,} records over loopback S3 ({load()}):")
            print(
                f"          pyarrow S3 read {m['pyarrow_s3_read_rps']:,.0f}/s,"
                f" boto3 GET+parse {m['boto3_get_then_parse_rps']:,.0f}/s"
            )
            print(
                f"          import {m['import_rps']:,.0f}/s = {m['import_ratio_to_local']:.2f} x local,"
                f" {m['import_ratio_to_s3_read']:.2f} x pyarrow's S3 read"
            )
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

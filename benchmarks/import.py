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
import json
import os
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


def read_baseline(paths: list[str], fs: pafs.FileSystem) -> tuple[int, float]:
    """pyarrow alone: every batch read, values flattened to a matrix, metadata materialised."""
    t = time.perf_counter()
    rows = 0
    for path in paths:
        with fs.open_input_file(path) as f:
            for batch in pq.ParquetFile(f, pre_buffer=True).iter_batches(batch_size=8192):
                flat = pc.list_flatten(batch.column("values")).to_numpy(zero_copy_only=False)
                np.asarray(flat, dtype=np.float32)
                batch.column("metadata").cast(pa.string())
                rows += batch.num_rows
    return rows, time.perf_counter() - t


def probe(data: str, uri: str, dim: int, skip_hnsw: bool) -> None:
    """Child process: import `uri` into a fresh index, print figures as JSON."""
    import spruce
    from spruce.config import Settings

    with spruce.Client(data, config=Settings.from_env().engine) as db:
        db.create_index("bench", dimension=dim, metric="cosine")
        index = db.Index("bench")
        manager = db.catalog.imports
        t0 = time.perf_counter()
        job = manager.start("bench", uri, "abort")
        while len(job.done) < len(job.plan) and job.status not in ("Failed", "Cancelled"):
            time.sleep(0.01)
        t_queryable = time.perf_counter() - t0
        if job.status == "Failed":
            raise SystemExit(f"import failed: {job.error}")
        rss_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
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
            "peak_rss_end_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        }
        print("PROBE " + json.dumps(out), flush=True)
        os._exit(0)  # skip the graph builds' teardown when skipped


def run_probe(
    data: Path, uri: str, dim: int, skip_hnsw: bool, env: dict[str, str] | None = None
) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--probe", str(data), uri, "--dim", str(dim)]
    if skip_hnsw:
        cmd.append("--skip-hnsw")
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("PROBE "):
            return dict(json.loads(line[6:]))
    raise SystemExit(f"probe failed:\n{proc.stdout}\n{proc.stderr}")


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
        rows, t_arrow = read_baseline([f"bench/{k}" for k in keys], fs)
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
    ap.add_argument("--dir", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--probe", nargs=2, metavar=("DATA", "URI"))
    args = ap.parse_args()
    if args.probe:
        probe(args.probe[0], args.probe[1], args.dim, args.skip_hnsw)
        return
    work = Path(tempfile.mkdtemp(prefix="spruce-import-bench-", dir=args.dir))
    try:
        src = work / "src"
        t = time.perf_counter()
        paths = make_files(src, args.n, args.dim, args.namespaces)
        size = sum(p.stat().st_size for p in paths)
        print(
            f"made {args.n:,} x {args.dim} records in {len(paths)} files ({size / 1e9:.2f} GB)"
            f" in {time.perf_counter() - t:.1f}s"
        )
        rows, t_read = read_baseline([str(p) for p in paths], pafs.LocalFileSystem())
        read_rps = rows / t_read
        print(f"baseline  pyarrow reads the files:          {read_rps:12,.0f} records/s ({t_read:.1f}s)")
        res = run_probe(work / "data", str(src), args.dim, args.skip_hnsw)
        rps = res["records"] / res["queryable_s"]
        print(
            f"import    until every namespace queryable:  {rps:12,.0f} records/s ({res['queryable_s']:.1f}s)"
            f"  ratio to pyarrow read {rps / read_rps:.2f}  (target >= 100,000/s)"
        )
        print(f"          exact self-match after publish: {res['self_match']}")
        print(
            f"          peak RSS while importing: {res['peak_rss_bytes'] / 2**20:,.0f} MiB"
            f" (data {size / 2**20:,.0f} MiB; {ROW_GROUP:,}-row groups of"
            f" {ROW_GROUP * args.dim * 4 / 2**20:,.0f} MiB)"
        )
        if res["graphs_s"] is not None:
            print(
                f"          HNSW graphs ready after {res['graphs_s']:.1f}s"
                f" (peak RSS then {res['peak_rss_end_bytes'] / 2**20:,.0f} MiB)"
            )
        out: dict[str, Any] = {
            "n": args.n,
            "dim": args.dim,
            "read_rps": read_rps,
            "import": res,
            "import_rps": rps,
        }
        if not args.skip_moto:
            m = moto_section(paths, src, args.moto_n, args.dim, rps, work)
            out["moto"] = m
            print(f"moto      {m['records']:,} records over loopback S3:")
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

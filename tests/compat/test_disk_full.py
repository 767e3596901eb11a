"""A full disk, for real: the data directory on a small tmpfs, filled up. Embedded and through the server
with the pinecone SDK: the failing write gets a clear "disk is full" error (507 over REST), is not
acknowledged and not applied, reads keep working, nothing acknowledged is lost, and once space is freed
writes (and checkpoints) work again, also after a restart.

Needs `mount -t tmpfs` (root); skipped with the reason where mounting is not permitted.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pinecone import Pinecone, ServerlessSpec
from pinecone.errors import ApiError

import spruce
from spruce.config import EngineConfig
from spruce.errors import DiskFullError

DIM = 64


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root): {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(path: Path, leave: int = 0) -> int:
    """Write `path` until the disk is full (then give back `leave` bytes); return its size."""
    chunk = b"\xff" * 65536
    with open(path, "wb", buffering=0) as f:
        try:
            while True:
                f.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    size = path.stat().st_size
    if leave:
        os.truncate(path, max(0, size - leave))
    return size


def batch(start: int, n: int = 20) -> list[tuple[str, list[float], dict[str, Any]]]:
    return [(f"r{i}", [float(i % 97)] * DIM, {"i": i}) for i in range(start, start + n)]


def test_embedded_disk_full_then_freed(tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", "3m") as disk:
        config = EngineConfig(memtable_max_rows=100_000, background=False, ann_min_rows=100_000)
        db = spruce.Client(path=disk / "db", config=config)
        db.create_index("full", dimension=DIM, metric="euclidean")
        index = db.Index("full")
        index.upsert(vectors=batch(0, 100))
        index.flush(optimize=False)  # a segment, so a later checkpoint has a bitmap to rewrite
        index.delete(ids=[f"r{i}" for i in range(0, 100, 10)])
        acked = {f"r{i}" for i in range(100) if i % 10}
        fill(disk / "filler", leave=64 * 1024)
        start = 100
        with pytest.raises(DiskFullError, match="disk is full") as info:
            while True:
                index.upsert(vectors=batch(start))
                acked |= {f"r{i}" for i in range(start, start + 20)}
                start += 20
        failed = [f"r{i}" for i in range(start, start + 20)]
        assert "free space" in str(info.value)
        # Not acknowledged, not applied; everything acknowledged reads back; queries work.
        assert index.fetch(ids=failed).vectors == {}
        assert set(index.fetch(ids=sorted(acked)).vectors) == acked
        assert index.query(vector=[1.0] * DIM, top_k=3).matches
        # A checkpoint cannot write its segment either: a clear error, the WAL keeps everything.
        with pytest.raises(DiskFullError):
            index.flush(optimize=False)
        assert set(index.fetch(ids=sorted(acked)).vectors) == acked

        os.unlink(disk / "filler")
        index.upsert(vectors=batch(start))
        acked |= {f"r{i}" for i in range(start, start + 20)}
        index.flush(optimize=False)  # the checkpoint that failed now lands, bitmaps included
        db.close()

        with spruce.Client(path=disk / "db") as again:
            got = again.Index("full").fetch(ids=[f"r{i}" for i in range(start + 20)]).vectors
            assert set(got) == acked  # deleted rows stayed deleted, acknowledged ones are all here
            assert again.catalog.index("full").store.recovery.torn_bytes == 0  # type: ignore[union-attr]


def test_server_disk_full_answers_507_and_recovers(tmp_path: Path, launcher: Any) -> None:
    with small_disk(tmp_path / "disk", "4m") as disk:
        server = launcher.start(disk / "data")
        with Pinecone(api_key="k", host=server.url) as pc:
            pc.create_index(
                "full",
                dimension=DIM,
                metric="euclidean",
                spec=ServerlessSpec(cloud="aws", region="us-east-1"),
            )
            index_host = pc.describe_index("full").host
            index = pc.Index(host=index_host)
            fill(disk / "filler", leave=64 * 1024)
            acked: set[str] = set()
            start = 0
            with pytest.raises(ApiError) as info:
                while True:
                    index.upsert(vectors=batch(start))
                    acked |= {f"r{i}" for i in range(start, start + 20)}
                    start += 20
            assert info.value.status_code == 507
            assert "disk is full" in str(info.value)
            # gRPC (the SDK's bulk-load path): RESOURCE_EXHAUSTED with the same message.
            grpc_index = Pinecone(api_key="k", grpc_scheme="http").index(host=index_host, grpc=True)
            try:
                with pytest.raises(ApiError) as grpc_info:
                    grpc_index.upsert(vectors=batch(start), show_progress=False)
                assert grpc_info.value.error_code == "RESOURCE_EXHAUSTED"
                assert "disk is full" in str(grpc_info.value)
            finally:
                grpc_index.close()
            assert set(index.fetch(ids=sorted(acked)).vectors) == acked
            assert index.query(vector=[1.0] * DIM, top_k=3).matches
            os.unlink(disk / "filler")
            index.upsert(vectors=batch(start))
            acked |= {f"r{i}" for i in range(start, start + 20)}
        assert launcher.stop(server) == 0
        server = launcher.start(disk / "data", port=server.port)
        with Pinecone(api_key="k", host=server.url) as pc:
            index = pc.Index(host=pc.describe_index("full").host)
            got = set()
            ids = [f"r{i}" for i in range(start + 20)]
            for k in range(0, len(ids), 100):
                got |= set(index.fetch(ids=ids[k : k + 100]).vectors)
            assert got == acked
        assert launcher.stop(server) == 0

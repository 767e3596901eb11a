"""One damaged index must not take the server down: a real `spruce serve` with three indexes, one with a
damaged WAL header and one with a damaged segment. The server starts, reports both as failed with the
reason (describe, list, /metrics), answers their data ports with 503 and the standard error body, and
serves the healthy index through the pinecone SDK. `spruce repair` then brings them back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from pinecone import Pinecone, ServerlessSpec

import spruce

DIM = 4


def _vec(i: int) -> list[float]:
    return [float(i), 1.0, 0.0, float(i % 3)]


def _fill(pc: Pinecone, name: str, n: int) -> str:
    pc.create_index(
        name, dimension=DIM, metric="euclidean", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    host = pc.describe_index(name).host
    pc.Index(host=host).upsert(vectors=[(f"{name}-{i}", _vec(i)) for i in range(n)])
    return host


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "spruce.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_damaged_indexes_fail_alone_and_repair(tmp_path: Path, launcher: Any) -> None:
    data = tmp_path / "data"
    server = launcher.start(data)
    with Pinecone(api_key="k", host=server.url) as pc:
        hosts = {name: _fill(pc, name, 30) for name in ("walhdr", "segment", "healthy")}
    assert launcher.stop(server) == 0
    # A checkpoint for "segment", so it has a segment to damage (SIGTERM closes without one).
    with spruce.Client(path=data) as db:
        db.Index("segment").flush(optimize=False)
    wal = sorted((data / "indexes" / "walhdr" / "wal").glob("wal-*.log"))[0]
    raw = bytearray(wal.read_bytes())
    raw[0] ^= 0xFF  # the file header's magic
    wal.write_bytes(bytes(raw))
    seg = next(p for p in (data / "indexes" / "segment" / "segments").iterdir() if not p.name.startswith("."))
    vectors = seg / "vectors.npy"
    raw = bytearray(vectors.read_bytes())
    raw[-1] ^= 0x01
    vectors.write_bytes(bytes(raw))

    server = launcher.start(data, port=server.port)
    try:
        with Pinecone(api_key="k", host=server.url) as pc:
            for name, what in (
                ("walhdr", "bad file header"),
                ("segment", "checksum mismatch in vectors.npy"),
            ):
                status = pc.describe_index(name).status
                assert (status.ready, status.state) == (False, "InitializationFailed")
                resp = httpx.get(f"{server.url}/indexes/{name}")
                assert what in resp.json()["status"]["reason"]
                # Its data port answers 503 with the standard error body, naming the problem.
                resp = httpx.post(f"{hosts[name]}/query", json={"vector": _vec(1), "topK": 1})
                assert resp.status_code == 503
                body = resp.json()
                assert body["error"]["code"] == "UNAVAILABLE" and what in body["error"]["message"]
            listed = {i["name"]: i["status"] for i in httpx.get(f"{server.url}/indexes").json()["indexes"]}
            assert listed["healthy"]["ready"] is True and listed["walhdr"]["ready"] is False
            healthy = pc.Index(host=hosts["healthy"])
            res = healthy.query(vector=_vec(7), top_k=1)
            assert res.matches[0].id == "healthy-7"
            healthy.upsert(vectors=[("new", _vec(99))])
            assert "new" in healthy.fetch(ids=["new"]).vectors
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'spruce_index_up{index="walhdr"} 0.0' in metrics
        assert 'spruce_index_up{index="healthy"} 1.0' in metrics
    finally:
        assert launcher.stop(server) == 0

    checked = _cli("check", str(data))
    assert checked.returncode == 1, checked.stdout
    assert "2 damaged index(es)" in checked.stdout
    repaired = _cli("repair", str(data))
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "LOST segment" in repaired.stdout
    assert _cli("check", str(data)).returncode == 0

    server = launcher.start(data, port=server.port)
    try:
        with Pinecone(api_key="k", host=server.url) as pc:
            assert pc.describe_index("walhdr").status.ready
            # A bad header loses no frame: every record is back.
            got = pc.Index(host=hosts["walhdr"]).fetch(ids=[f"walhdr-{i}" for i in range(30)]).vectors
            assert len(got) == 30
            # The damaged segment's rows are gone (reported by repair), never served wrong.
            assert pc.Index(host=hosts["segment"]).fetch(ids=["segment-1"]).vectors == {}
            assert pc.Index(host=hosts["segment"]).describe_index_stats().total_vector_count == 0
    finally:
        assert launcher.stop(server) == 0

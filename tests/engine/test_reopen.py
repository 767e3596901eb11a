"""Closing and reopening a data directory: checkpointed state, saved HNSW graphs, WAL tail, locking."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import spruce
from spruce.config import EngineConfig
from spruce.engine import ann
from spruce.errors import SpruceError

DIM = 16
CONFIG = EngineConfig(memtable_max_rows=300, ann_min_rows=200)
SRC = Path(__file__).resolve().parents[2] / "src"


def records(start: int, stop: int, version: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(start, stop):
        rng = np.random.default_rng([i, version])
        rec: dict[str, Any] = {
            "id": f"id{i:05d}",
            "values": rng.standard_normal(DIM).astype(np.float32),
            "metadata": {"i": i, "even": i % 2 == 0, "tags": [f"t{i % 3}"], "v": version},
        }
        if i % 4 == 0:
            rec["sparse_values"] = {"indices": [i % 50, 1000 + i], "values": [1.0, float(version) + 0.5]}
        out.append(rec)
    return out


def state(index: spruce.Index) -> dict[str, Any]:
    ids = [i for page in index.list() for i in page]
    out: dict[str, Any] = {}
    for start in range(0, len(ids), 1000):
        for rid, v in index.fetch(ids=ids[start : start + 1000]).vectors.items():
            out[rid] = (v["values"], v.sparse_values, v.metadata)
    return out


def answers(index: spruce.Index) -> list[Any]:
    rng = np.random.default_rng(99)
    out = []
    for _ in range(10):
        q = rng.standard_normal(DIM).astype(np.float32)
        for flt in (None, {"even": True}, {"i": {"$lt": 40}}):
            out.append([(m.id, m.score) for m in index.query(vector=q, top_k=7, filter=flt).matches])
    return out


def store_of(index: spruce.Index) -> Any:
    return index._svc.store


def hnsw_files(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("hnsw.faiss")}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "db"


@pytest.fixture
def count_builds(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Counts HNSW builds in this process (the store keeps a reference to the class, not the method)."""
    calls: list[int] = []
    real = ann.AnnIndex.build.__func__  # type: ignore[attr-defined]

    def counting(cls: type[ann.AnnIndex], /, vectors: Any, metric: str, **kw: Any) -> ann.AnnIndex:
        calls.append(len(vectors))
        return real(cls, vectors, metric, **kw)  # type: ignore[no-any-return]

    monkeypatch.setattr(ann.AnnIndex, "build", classmethod(counting))
    yield calls


def test_reopen_after_checkpoint_keeps_everything_and_reuses_hnsw(db: Path, count_builds: list[int]) -> None:
    with spruce.Client(path=db, config=CONFIG) as client:
        client.create_index("r", dimension=DIM, metric="cosine")
        index = client.Index("r")
        for start in range(0, 1_200, 200):
            index.upsert(vectors=records(start, start + 200))
        index.upsert(vectors=records(0, 50, version=1), namespace="other")
        index.delete(ids=[f"id{i:05d}" for i in range(100, 130)])
        index.update(id="id00007", set_metadata={"note": "updated"})
        index.flush()
        before, before_answers = state(index), answers(index)
        other = index.fetch(ids=[f"id{i:05d}" for i in range(50)], namespace="other").vectors
        assert count_builds, "no HNSW was built: the test would not check reuse"
    graphs = hnsw_files(db)
    assert graphs, "no saved HNSW graph: reuse would not be checked"  # compaction may merge to one
    builds_before = len(count_builds)

    with spruce.Client(path=db, config=CONFIG) as client:
        index = client.Index("r")
        store = store_of(index)
        indexed = [b for b in store.namespaces[""].sealed if b.ann is not None]
        # Right after open: the saved graphs are attached, not queued for a rebuild.
        assert len(indexed) == len(graphs)
        assert all(b.n >= CONFIG.ann_min_rows for b in indexed)
        assert state(index) == before
        assert answers(index) == before_answers
        assert index.fetch(ids=[f"id{i:05d}" for i in range(50)], namespace="other").vectors == other
        stats = index.describe_index_stats()
        assert {ns: s.vector_count for ns, s in stats.namespaces.items()} == {"": 1_170, "other": 50}
        store.wait_idle()
        assert len(count_builds) == builds_before, "reopening rebuilt an HNSW graph"
    assert hnsw_files(db) == graphs, "a saved hnsw.faiss was rewritten"


def test_wal_tail_is_replayed(db: Path) -> None:
    with spruce.Client(path=db, config=CONFIG) as client:
        client.create_index("r", dimension=DIM, metric="euclidean")
        index = client.Index("r")
        index.upsert(vectors=records(0, 250))
        index.flush()
        manifest_before = (db / "indexes" / "r" / "manifest.json").read_bytes()
        # Below the memtable limit: these live only in the WAL (and memory) when the client closes.
        index.upsert(vectors=records(250, 400))
        index.upsert(vectors=records(0, 20, version=2))  # overwrites rows inside a segment
        index.delete(ids=["id00021", "id00300"])
        index.update(id="id00022", values=np.ones(DIM, dtype=np.float32), set_metadata={"v": 9})
        index.update(filter={"i": {"$gte": 390}}, set_metadata={"late": True})
        index.delete(filter={"i": {"$gte": 395}})
        index.upsert(vectors=records(0, 5), namespace="tail-only")
        index.delete(delete_all=True, namespace="tail-only")
        expected = state(index)
        expected_answers = answers(index)
    assert (db / "indexes" / "r" / "manifest.json").read_bytes() == manifest_before, (
        "a checkpoint ran after the flush, so this would not test WAL replay"
    )
    with spruce.Client(path=db, config=CONFIG) as client:
        index = client.Index("r")
        assert state(index) == expected
        assert answers(index) == expected_answers
        assert index.fetch(ids=["id00022"]).vectors["id00022"].metadata["v"] == 9
        assert "tail-only" not in index.describe_index_stats().namespaces
        assert index.describe_index_stats().total_vector_count == len(expected) == 400 - 2 - 5


def test_second_client_on_open_directory_fails_clearly(db: Path) -> None:
    with spruce.Client(path=db, config=CONFIG) as first:
        first.create_index("r", dimension=DIM, metric="cosine")
        first.Index("r").upsert(vectors=records(0, 10))
        with pytest.raises(SpruceError, match="already open") as info:
            spruce.Client(path=db, config=CONFIG)
        assert str(db) in str(info.value)
        # From another process too (the lock must be an OS lock, not a per-process registry).
        env = {**os.environ, "PYTHONPATH": str(SRC)}
        probe = (
            "import sys, spruce\n"
            "try:\n    spruce.Client(path=sys.argv[1])\n"
            "except spruce.errors.SpruceError as e:\n    print('REFUSED', e); sys.exit(0)\n"
            "sys.exit(3)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", probe, str(db)], env=env, capture_output=True, timeout=60
        )
        assert proc.returncode == 0 and b"REFUSED" in proc.stdout and b"already open" in proc.stdout, proc
        # The failed attempts did not disturb the owner.
        first.Index("r").upsert(vectors=records(10, 20))
        assert first.Index("r").describe_index_stats().total_vector_count == 20
    with spruce.Client(path=db, config=CONFIG) as again:  # released on close
        assert again.Index("r").describe_index_stats().total_vector_count == 20


def _wal_files(db: Path) -> list[Path]:
    return sorted((db / "indexes" / "r" / "wal").glob("wal-*.log"))


@pytest.mark.parametrize("damage", ["cut-last-frame", "garbage-after-last-frame"])
def test_torn_wal_tail_is_cut(db: Path, damage: str) -> None:
    with spruce.Client(path=db, config=CONFIG) as client:
        client.create_index("r", dimension=DIM, metric="dotproduct")
        index = client.Index("r")
        for start in range(0, 100, 10):
            index.upsert(vectors=records(start, start + 10))
    last = _wal_files(db)[-1]
    size = last.stat().st_size
    with open(last, "r+b") as f:
        if damage == "cut-last-frame":
            f.truncate(size - 7)  # as if the machine died while the final write was half on disk
        else:
            f.seek(0, os.SEEK_END)
            f.write(os.urandom(300))
    survivors = 90 if damage == "cut-last-frame" else 100
    with spruce.Client(path=db, config=CONFIG) as client:
        index = client.Index("r")
        got = state(index)
        assert sorted(got) == [f"id{i:05d}" for i in range(survivors)]
        assert last.stat().st_size <= size - (7 if damage == "cut-last-frame" else 0)
        assert list(last.parent.glob("*.torn-*")), "the cut tail should be kept aside"
        # Writes after recovery append to a clean log: they survive the next reopen.
        index.upsert(vectors=records(500, 510))
    with spruce.Client(path=db, config=CONFIG) as client:
        got = state(client.Index("r"))
        assert sorted(got) == [f"id{i:05d}" for i in [*range(survivors), *range(500, 510)]]


def test_segment_without_saved_hnsw_is_indexed_after_reopen(db: Path, count_builds: list[int]) -> None:
    """A crash (or close) between a segment's commit and its background HNSW build must not leave the
    segment without a graph for ever: reopening should schedule the missing build."""
    with spruce.Client(path=db, config=CONFIG) as client:
        client.create_index("r", dimension=DIM, metric="cosine")
        index = client.Index("r")
        index.upsert(vectors=records(0, 400))
        index.flush()
    for graph in (db / "indexes" / "r" / "segments").rglob("hnsw.faiss"):
        graph.unlink()  # the state a kill leaves when it lands before the build finished
    with spruce.Client(path=db, config=CONFIG) as client:
        index = client.Index("r")
        store = store_of(index)
        store.wait_idle()
        index.flush()
        big = [b for b in store.namespaces[""].sealed if b.n >= CONFIG.ann_min_rows]
        assert big, "no segment is big enough for HNSW: the test checks nothing"
        assert all(b.ann is not None for b in big), "a reopened segment never got its HNSW graph"

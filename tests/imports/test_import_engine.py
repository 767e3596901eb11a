"""Bulk segments and `Store.publish_namespace`: atomic publication, duplicates, WAL replay after a publish,
garbage collection of unpublished segments, and export -> import round trips (embedded client)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import spruce
from spruce.config import EngineConfig, ImportConfig
from spruce.engine.bulk import SparseColumns
from spruce.engine.store import Store
from spruce.errors import AlreadyExistsError, InvalidArgumentError
from spruce.service.export import export_index
from spruce.types import Record
from tests.imports.conftest import dense_table

CFG = EngineConfig(background=False)


def _write(store: Store, ids: list[str], dim: int = 4):  # type: ignore[no-untyped-def]
    writer = store.bulk_writer()
    dense = np.arange(len(ids) * dim, dtype=np.float32).reshape(len(ids), dim)
    writer.write(pa.array(ids), dense, None, pa.array(['{"k":1}'] * len(ids)))
    return writer.finish()


def test_wal_ops_before_publish_are_not_replayed_onto_the_imported_namespace(tmp_path: Path) -> None:
    store = Store(tmp_path, 4, "cosine", CFG)
    store.put("ns", [Record("old", np.ones(4, np.float32))])
    store.drop_namespace("ns")  # WAL tail: PUT ns, DROP ns (no checkpoint since)
    assert store.publish_namespace("ns", _write(store, ["a", "b", "a"])) == 2  # duplicate: last wins
    store.put("ns", [Record("c", np.ones(4, np.float32))])  # after the publish: must be replayed
    store.close()
    reopened = Store(tmp_path, 4, "cosine", CFG)
    assert reopened.namespace_counts() == {"ns": 3}
    assert np.array_equal(reopened.fetch("ns", ["a"])["a"].values, np.arange(8, 12, dtype=np.float32))
    reopened.close()


def test_publish_refuses_an_existing_namespace_and_removes_its_segments(tmp_path: Path) -> None:
    store = Store(tmp_path, 4, "cosine", CFG)
    store.put("ns", [Record("x", np.ones(4, np.float32))])
    segments = _write(store, ["a"])
    with pytest.raises(AlreadyExistsError):
        store.publish_namespace("ns", segments)
    assert [p.name for p in (tmp_path / "segments").iterdir()] == []
    store.close()


def test_unpublished_segments_are_garbage_at_open(tmp_path: Path) -> None:
    store = Store(tmp_path, 4, "cosine", CFG)
    writer = store.bulk_writer()
    writer.write(pa.array(["a"]), np.ones((1, 4), np.float32), None, pa.nulls(1, pa.string()))
    writer.finish()
    store.close()  # a crash before publish_namespace: the directory is left behind
    assert any(p.name.startswith(".bulk-") for p in (tmp_path / "segments").iterdir())
    Store(tmp_path, 4, "cosine", CFG).close()
    assert list((tmp_path / "segments").iterdir()) == []


def test_sparse_segment_round_trips(tmp_path: Path) -> None:
    store = Store(tmp_path, 0, "dotproduct", CFG)
    writer = store.bulk_writer()
    sparse = SparseColumns(
        np.array([0, 2, 3]), np.array([1, 7, 3], np.uint32), np.array([1, 2, 3], np.float32)
    )
    writer.write(pa.array(["p", "q"]), None, sparse, pa.nulls(2, pa.string()))
    store.publish_namespace("", writer.finish())
    store.close()
    reopened = Store(tmp_path, 0, "dotproduct", CFG)
    got = reopened.fetch("", ["p", "q"])
    assert got["p"].sparse_values is not None and got["p"].sparse_values.indices.tolist() == [1, 7]
    assert got["q"].sparse_values is not None and got["q"].sparse_values.values.tolist() == [3.0]
    reopened.close()


def test_export_then_import_round_trips_hybrid_records(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "ns1").mkdir(parents=True)
    (src / "__default__").mkdir()
    pq.write_table(dense_table("h", 120, 8, 1, sparse=True), src / "ns1" / "a.parquet", row_group_size=50)
    pq.write_table(dense_table("d", 30, 8, 2), src / "__default__" / "a.parquet")
    with spruce.Client(tmp_path / "db") as db:
        db.create_index("one", dimension=8, metric="dotproduct")
        one = db.Index("one")
        assert one.wait_import(one.start_import(uri=f"file://{src}").id, 60).status == "Completed"
        one.upsert([("late", [0.5] * 8, {"x": "y"})], namespace="ns1")
        report = export_index(db.catalog.index("one"), str(tmp_path / "out"))
        assert report.namespaces == {"": 30, "ns1": 121}
        db.create_index("two", dimension=8, metric="dotproduct")
        two = db.Index("two")
        assert two.wait_import(two.start_import(uri=str(tmp_path / "out")).id, 60).status == "Completed"
        for ns, ids in (("ns1", ["h0", "h1", "h77", "late"]), ("", ["d3", "d5"])):
            a = one.fetch(ids, namespace=ns).vectors
            b = two.fetch(ids, namespace=ns).vectors
            assert set(a) == set(b) == set(ids)
            for rid in ids:
                assert a[rid].values == b[rid].values
                assert a[rid].metadata == b[rid].metadata
                assert (a[rid].sparse_values is None) == (b[rid].sparse_values is None)
                if a[rid].sparse_values is not None:
                    assert a[rid].sparse_values == b[rid].sparse_values
        assert two.describe_index_stats().total_vector_count == 151


def test_limits_and_in_memory_client(tmp_path: Path) -> None:
    src = tmp_path / "src"
    for ns in ("a", "b"):
        (src / ns).mkdir(parents=True)
        pq.write_table(dense_table(ns, 5, 4, 1), src / ns / "p.parquet")
    with spruce.Client(tmp_path / "db", imports=ImportConfig(max_namespaces=1, max_records=100)) as db:
        db.create_index("i", dimension=4)
        with pytest.raises(InvalidArgumentError, match="at most 1"):
            db.Index("i").start_import(uri=str(src))
    with spruce.Client(tmp_path / "db2", imports=ImportConfig(max_records=9)) as db:
        db.create_index("i", dimension=4)
        with pytest.raises(InvalidArgumentError, match="holds 10 records"):
            db.Index("i").start_import(uri=str(src))
    with spruce.Client() as db:
        db.create_index("i", dimension=4)
        with pytest.raises(InvalidArgumentError, match="on disk"):
            db.Index("i").start_import(uri=str(src))


def test_completed_only_once_hnsw_graphs_exist(tmp_path: Path) -> None:
    src = tmp_path / "src" / "ns"
    src.mkdir(parents=True)
    pq.write_table(dense_table("g", 300, 8, 1), src / "p.parquet")
    config = EngineConfig(ann_min_rows=100, ingest_quiet_ms=0)
    with spruce.Client(tmp_path / "db", config=config) as db:
        db.create_index("i", dimension=8)
        index = db.Index("i")
        job = index.wait_import(index.start_import(uri=str(tmp_path / "src")).id, 120)
        assert job.status == "Completed" and job.percent_complete == 100.0
        blocks = db.catalog.index("i").store.namespaces["ns"].sealed
        assert blocks and all(b.ann is not None for b in blocks)

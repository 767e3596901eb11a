"""The backups catalogue and restore jobs (service/backups.py) through the embedded client.

Persistence across reopen, damaged backups failing their job with the file named, jobs cut short by a
crash settled at start-up, and keyset pages that neither skip nor repeat while backups come and go.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import spruce
from spruce.errors import (
    AlreadyExistsError,
    BackupCorruptionError,
    IndexNotFoundError,
    InvalidArgumentError,
    NotFoundError,
)
from spruce.service import backup_files
from spruce.service import backups as svc
from spruce.service.paging import page

DIM = 4


def _fill(db: spruce.Client, name: str, n: int = 30) -> dict[str, list[float]]:
    db.create_index(name=name, dimension=DIM, metric="euclidean", tags={"team": "search"})
    rng = np.random.default_rng(1)
    rows = {f"v{i}": rng.standard_normal(DIM).astype(np.float32).tolist() for i in range(n)}
    db.Index(name).upsert(vectors=[(k, v, {"k": k}) for k, v in rows.items()], namespace="ns")
    return rows


def test_backup_outlives_its_index_and_a_restart(tmp_path: Path) -> None:
    with spruce.Client(path=tmp_path) as db:
        rows = _fill(db, "src")
        backup = db.create_backup(index_name="src", backup_name="b", description="first")
        assert (backup.status, backup.record_count, backup.namespace_count) == ("Ready", 30, 1)
        db.Index("src").delete(ids=["v0"], namespace="ns")  # after the backup
        db.delete_index("src")
        with pytest.raises(IndexNotFoundError):
            db.list_backups(index_name="src")
        assert [b.backup_id for b in db.list_backups(index_name="src", include_deleted=True)] == [
            backup.backup_id
        ]
        restored = db.create_index_from_backup(
            backup_id=backup.backup_id, name="dst", deletion_protection="enabled", tags={"env": "prod"}
        )
        assert restored.deletion_protection == "enabled" and restored.tags == {"env": "prod"}
        assert restored.dimension == DIM and restored.metric == "euclidean"
    with spruce.Client(path=tmp_path) as db:
        index = db.Index("dst")
        fetched = index.fetch(ids=list(rows), namespace="ns").vectors
        assert sorted(fetched) == sorted(rows)
        for rid, vec in rows.items():
            np.testing.assert_allclose(fetched[rid].values, vec, rtol=0, atol=0)
            assert fetched[rid].metadata == {"k": rid}
        (job,) = list(db.list_restore_jobs())
        assert job.status == "Completed" and job.percent_complete == 100.0
        assert db.describe_restore_job(job_id=job.restore_job_id).target_index_name == "dst"
        assert db.describe_backup(backup_id=backup.backup_id).description == "first"
        ids = db.create_index_from_backup(backup_id=backup.backup_id, name="dst2", timeout=-1)
        assert ids.index_id == db.describe_restore_job(job_id=ids.restore_job_id).target_index_id
        assert db.describe_index("dst2").tags == {"team": "search"}  # the backup's tags by default
        db.delete_backup(backup_id=backup.backup_id)
        with pytest.raises(NotFoundError):
            db.describe_backup(backup_id=backup.backup_id)
        assert index.describe_index_stats().total_vector_count == 30


def test_damaged_backup_fails_its_job_and_creates_nothing(tmp_path: Path) -> None:
    with spruce.Client(path=tmp_path) as db:
        _fill(db, "src")
        backup = db.create_backup(index_name="src")
        (wal,) = (tmp_path / "backups" / backup.backup_id / "data" / "wal").glob("wal-*.log")
        data = bytearray(wal.read_bytes())
        data[-3] ^= 0xFF
        wal.write_bytes(bytes(data))
        with pytest.raises(BackupCorruptionError) as err:
            db.create_index_from_backup(backup_id=backup.backup_id, name="dst")
        assert wal.name in err.value.message and "damaged" in err.value.message
        assert not db.has_index("dst")
        assert [p.name for p in (tmp_path / "indexes").iterdir()] == ["src"]
        (job,) = list(db.list_restore_jobs())
        assert job.status == "Failed" and job.completed_at is not None
        assert wal.name in svc.backups_of(db.catalog).describe_restore_job(job.restore_job_id).error  # type: ignore[operator]


def test_interrupted_work_is_settled_at_start(tmp_path: Path) -> None:
    with spruce.Client(path=tmp_path) as db:
        _fill(db, "src")
        backup = db.create_backup(index_name="src")
        done = db.create_index_from_backup(backup_id=backup.backup_id, name="dst", timeout=-1)
    # What a crash can leave: jobs still Pending (one whose index was adopted, one whose was not),
    # a half-written backup and a half-built index directory.
    jobs_file = tmp_path / "backups" / backup_files.JOBS_FILE
    jobs = orjson.loads(jobs_file.read_bytes())["jobs"]
    jobs[0]["status"] = "Pending"
    jobs.append({**jobs[0], "restore_job_id": "lost", "target_index_name": "never", "created_at": "z"})
    jobs_file.write_bytes(backup_files.encode_doc(backup_files.JOBS_FORMAT, {"jobs": jobs}))
    (tmp_path / "backups" / ".tmp-half").mkdir()
    (tmp_path / "indexes" / ".restore-lost").mkdir()
    with spruce.Client(path=tmp_path) as db:
        assert db.describe_restore_job(job_id=done.restore_job_id).status == "Completed"
        lost = db.describe_restore_job(job_id="lost")
        assert lost.status == "Failed" and not db.has_index("never")
        assert [b.backup_id for b in db.list_backups()] == [backup.backup_id]
    assert not (tmp_path / "backups" / ".tmp-half").exists()
    assert not (tmp_path / "indexes" / ".restore-lost").exists()


def test_a_damaged_backup_record_is_reported_not_fatal(tmp_path: Path) -> None:
    with spruce.Client(path=tmp_path) as db:
        _fill(db, "src")
        bad = db.create_backup(index_name="src", backup_name="bad")
        good = db.create_backup(index_name="src", backup_name="good")
    meta = tmp_path / "backups" / bad.backup_id / backup_files.BACKUP_FILE
    meta.write_bytes(meta.read_bytes().replace(b'"bad"', b'"bax"'))
    with spruce.Client(path=tmp_path) as db:
        assert [b.backup_id for b in db.list_backups()] == [good.backup_id]
        with pytest.raises(BackupCorruptionError, match="checksum"):
            db.describe_backup(backup_id=bad.backup_id)
        with pytest.raises(BackupCorruptionError):
            db.create_index_from_backup(backup_id=bad.backup_id, name="dst")
        db.delete_backup(backup_id=bad.backup_id)
        with pytest.raises(NotFoundError):
            db.describe_backup(backup_id=bad.backup_id)


def test_bad_inputs_change_nothing(tmp_path: Path) -> None:
    with spruce.Client(path=tmp_path) as db:
        _fill(db, "src")
        backup = db.create_backup(index_name="src")
        with pytest.raises(IndexNotFoundError):
            db.create_backup(index_name="nope")
        with pytest.raises(InvalidArgumentError, match="name"):
            db.create_backup(index_name="src", backup_name="x" * 101)
        with pytest.raises(InvalidArgumentError, match="index name"):
            db.create_index_from_backup(backup_id=backup.backup_id, name="Not Valid")
        with pytest.raises(AlreadyExistsError):
            db.create_index_from_backup(backup_id=backup.backup_id, name="src")
        with pytest.raises(InvalidArgumentError, match="deletion_protection"):
            db.create_index_from_backup(backup_id=backup.backup_id, name="ok", deletion_protection="on")
        with pytest.raises(NotFoundError):
            db.create_index_from_backup(backup_id="missing", name="ok")
        with pytest.raises(InvalidArgumentError, match="limit"):
            db.list_backups(limit=0)
        with pytest.raises(InvalidArgumentError, match="paginationToken"):
            db.list_backups(pagination_token="garbage!")
        assert len(db.list_backups()) == 1 and not list(db.list_restore_jobs())
        assert [i.name for i in db.list_indexes()] == ["src"]
    with spruce.Client() as memory:
        memory.create_index(name="m", dimension=DIM)
        with pytest.raises(InvalidArgumentError, match=r"data directory|in-memory"):
            memory.create_backup(index_name="m")


@settings(max_examples=60, deadline=None)
@given(
    keys=st.lists(st.text("abcdef", min_size=1, max_size=4), unique=True, max_size=40),
    limit=st.integers(1, 7),
    removals=st.lists(st.integers(0, 39), max_size=10),
)
def test_pages_neither_skip_nor_repeat(keys: list[str], limit: int, removals: list[int]) -> None:
    """Walking with tokens alone (as the SDK does) yields every item that was never removed, once, in
    order, even when items are removed between pages."""
    items = sorted(keys)
    removed: set[str] = set()
    seen: list[str] = []
    found, token = page(items, str, limit, None)
    step = 0
    while True:
        assert len(found) <= limit
        seen += found
        if token is None:
            break
        if step < len(removals) and items:
            removed.add(items.pop(removals[step] % len(items)))
        step += 1
        found, token = page(items, str, None, token)
    assert seen == sorted(seen) and len(seen) == len(set(seen))
    assert set(items) - removed <= set(seen)


def test_sparse_index_with_segments_round_trips(tmp_path: Path) -> None:
    """Sparse segments store no dense values; a restore (and any reopen) must still read them."""
    from spruce.config import EngineConfig

    config = EngineConfig(memtable_max_rows=10, background=False)
    rows = {f"x{i}": ([i, i + 5], [1.0, 0.5 + i / 100]) for i in range(35)}
    query = {"sparse_vector": {"indices": [1, 6, 9], "values": [1.0, 1.0, 0.5]}, "top_k": 5}
    with spruce.Client(path=tmp_path, config=config) as db:
        db.create_index(name="sp", vector_type="sparse", metric="dotproduct")
        index = db.Index("sp")
        index.upsert(
            vectors=[{"id": k, "sparse_values": {"indices": i, "values": v}} for k, (i, v) in rows.items()]
        )
        backup = db.create_backup(index_name="sp")
        db.create_index_from_backup(backup_id=backup.backup_id, name="sp2")
        want = [(m.id, m.score) for m in index.query(**query).matches]
        assert [(m.id, m.score) for m in db.Index("sp2").query(**query).matches] == want
    with spruce.Client(path=tmp_path, config=config) as db:
        assert [(m.id, m.score) for m in db.Index("sp2").query(**query).matches] == want
        assert db.describe_index("sp2").vector_type == "sparse"

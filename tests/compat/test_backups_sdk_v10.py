"""Backups and restore through the official pinecone==10.2.0 SDK against `spruce serve` over sockets."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest
from pinecone import Pinecone, ServerlessSpec
from pinecone.errors import ApiError, ConflictError, NotFoundError

pytestmark = pytest.mark.compat

DIM = 8


def _vec(rng: random.Random) -> list[float]:
    return [rng.uniform(-1, 1) for _ in range(DIM)]


@pytest.fixture(scope="module")
def pc(base_url: str) -> Iterator[Pinecone]:
    with Pinecone(api_key="k", host=base_url) as client:
        yield client


def _create(pc: Pinecone, name: str, **kwargs: object) -> None:
    pc.create_index(
        name=name,
        dimension=DIM,
        metric="cosine",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
        **kwargs,  # type: ignore[arg-type]
    )


def test_backup_restore_flow(pc: Pinecone) -> None:
    _create(pc, "bk-src", tags={"env": "dev"})
    src = pc.Index(name="bk-src")
    rng = random.Random(7)
    vectors = {ns: [(f"{ns}-{i}", _vec(rng), {"i": i}) for i in range(40)] for ns in ("a", "b")}
    for ns, batch in vectors.items():
        src.upsert(vectors=batch, namespace=ns)
    src.delete(ids=["a-0", "a-1"], namespace="a")

    backup = pc.create_backup(index_name="bk-src", backup_name="nightly", description="before the change")
    assert backup.status == "Ready"
    assert backup.source_index_name == "bk-src" and backup.name == "nightly"
    assert backup.description == "before the change"
    assert backup.record_count == 78 and backup.namespace_count == 2
    assert backup.size_bytes and backup.size_bytes > 0
    assert backup.dense_dimension == DIM
    assert backup.tags == {"env": "dev"}
    assert backup.cloud == "aws" and backup.region == "us-east-1"

    # Writes after the backup are not in it.
    src.upsert(vectors=[("late", _vec(rng))], namespace="a")

    described = pc.describe_backup(backup_id=backup.backup_id)
    assert described.backup_id == backup.backup_id and described.created_at == backup.created_at
    assert [b.backup_id for b in pc.list_backups(index_name="bk-src")] == [backup.backup_id]
    assert backup.backup_id in [b.backup_id for b in pc.list_backups()]

    created = pc.create_index_from_backup(
        backup_id=backup.backup_id, name="bk-dst", deletion_protection="enabled", timeout=-1
    )
    job_id = created.restore_job_id
    # A restore finishes before create_index_from_backup returns (docs/service-contract.md).
    job = pc.describe_restore_job(job_id=job_id)
    assert job.status == "Completed", job
    assert job.backup_id == backup.backup_id and job.target_index_name == "bk-dst"
    assert job.target_index_id == created.index_id and job.percent_complete == 100
    assert job_id in [j.restore_job_id for j in pc.list_restore_jobs()]

    desc = pc.describe_index("bk-dst")
    assert desc.deletion_protection == "enabled" and dict(desc.tags or {}) == {"env": "dev"}
    assert desc.dimension == DIM and desc.host != pc.describe_index("bk-src").host
    dst = pc.Index(host=desc.host)
    with Pinecone(api_key="k", host=desc.host) as via_index_port:  # index ports serve the control plane too
        assert backup.backup_id in [b.backup_id for b in via_index_port.list_backups()]
        assert via_index_port.describe_restore_job(job_id=job_id).status == "Completed"
    stats = dst.describe_index_stats()
    assert stats.total_vector_count == 78
    assert {ns: s.vector_count for ns, s in stats.namespaces.items()} == {"a": 38, "b": 40}
    assert dst.fetch(ids=["late"], namespace="a").vectors == {}
    q = _vec(rng)
    for ns in ("a", "b"):
        want = src.query(vector=q, top_k=10, namespace=ns, include_metadata=True)
        got = dst.query(vector=q, top_k=10, namespace=ns, include_metadata=True)
        want_ids = [m.id for m in want.matches if m.id != "late"]
        assert [m.id for m in got.matches][: len(want_ids)] == want_ids
        fetched = dst.fetch(ids=["b-3", "a-5"], namespace=ns).vectors
        for rid, rec in fetched.items():
            assert rec.metadata == {"i": int(rid.split("-")[1])}

    # The backup outlives its source index.
    pc.delete_index("bk-src")
    assert pc.describe_backup(backup_id=backup.backup_id).source_index_name == "bk-src"
    with pytest.raises(NotFoundError):
        pc.list_backups(index_name="bk-src")
    assert [b.backup_id for b in pc.list_backups(index_name="bk-src", include_deleted=True)] == [
        backup.backup_id
    ]
    pc.create_index_from_backup(backup_id=backup.backup_id, name="bk-again")
    assert pc.Index(host=pc.describe_index("bk-again").host).describe_index_stats().total_vector_count == 78

    pc.delete_backup(backup_id=backup.backup_id)
    with pytest.raises(NotFoundError):
        pc.describe_backup(backup_id=backup.backup_id)
    # Indexes restored from it keep their data.
    assert dst.describe_index_stats().total_vector_count == 78


def test_backup_bad_inputs(pc: Pinecone) -> None:
    _create(pc, "bk-bad")
    backup = pc.create_backup(index_name="bk-bad")
    with pytest.raises(NotFoundError):
        pc.describe_backup(backup_id="no-such-backup")
    with pytest.raises(NotFoundError):
        pc.create_index_from_backup(backup_id="no-such-backup", name="bk-x", timeout=-1)
    with pytest.raises(NotFoundError):
        pc.create_backup(index_name="no-such-index")
    with pytest.raises(NotFoundError):
        pc.describe_restore_job(job_id="no-such-job")
    with pytest.raises(ConflictError):
        pc.create_index_from_backup(backup_id=backup.backup_id, name="bk-bad", timeout=-1)
    with pytest.raises(ApiError) as bad_name:
        pc.create_index_from_backup(backup_id=backup.backup_id, name="Bad_Name!", timeout=-1)
    assert bad_name.value.status_code == 400 and "index name" in str(bad_name.value)
    with pytest.raises(ApiError) as bad_limit:
        pc.list_backups(limit=1000)
    assert bad_limit.value.status_code == 400
    assert not pc.has_index("bk-x")


def test_backup_listing_pages(pc: Pinecone) -> None:
    _create(pc, "bk-pages")
    made = [pc.create_backup(index_name="bk-pages", backup_name=f"p{i}").backup_id for i in range(5)]
    seen: list[str] = []
    page = pc.list_backups(index_name="bk-pages", limit=2)
    while True:
        seen += [b.backup_id for b in page]
        assert len(page) <= 2
        if not (page.pagination and page.pagination.next):
            break
        page = pc.list_backups(index_name="bk-pages", pagination_token=page.pagination.next)
    assert seen == made
    walked = [b.backup_id for b in pc.indexes.list_backups("bk-pages")]
    assert walked == made

"""Backups and restore through `pinecone==7.3.0` (generated OpenAPI client, API 2025-04).

Run with the pinecone7 virtualenv's python (7.x and 10.x cannot share an environment):

    python backups7_scenario.py CONTROL_URL

Exits 0 when every check passes; a failure raises (non-zero exit, traceback on stderr).
"""

from __future__ import annotations

import random
import sys

DIM = 8


def main(url: str) -> None:
    from pinecone import Pinecone, ServerlessSpec
    from pinecone.exceptions import NotFoundException, PineconeApiException

    pc = Pinecone(api_key="k", host=url)
    pc.create_index(
        name="b7-src", dimension=DIM, metric="dotproduct", spec=ServerlessSpec("aws", "us-east-1")
    )
    index = pc.Index(host=pc.describe_index("b7-src").host)
    rng = random.Random(5)
    index.upsert(
        vectors=[(f"r{i}", [rng.uniform(-1, 1) for _ in range(DIM)]) for i in range(25)], namespace="n"
    )

    backup = pc.create_backup(index_name="b7-src", backup_name="seven", description="from 7.3")
    assert backup.status == "Ready" and backup.record_count == 25, backup
    assert backup.dimension == DIM and backup.metric == "dotproduct", backup
    print("ok: create_backup", flush=True)
    assert pc.describe_backup(backup_id=backup.backup_id).name == "seven"
    listed = pc.list_backups(index_name="b7-src")
    assert [b.backup_id for b in listed] == [backup.backup_id], listed
    assert backup.backup_id in [b.backup_id for b in pc.list_backups()]
    print("ok: list/describe", flush=True)

    restored = pc.create_index_from_backup(backup_id=backup.backup_id, name="b7-dst", tags={"from": "backup"})
    assert restored.name == "b7-dst" and restored.dimension == DIM, restored
    jobs = pc.list_restore_jobs()
    (job,) = [j for j in jobs if j.target_index_name == "b7-dst"]
    assert pc.describe_restore_job(job_id=job.restore_job_id).status == "Completed"
    dst = pc.Index(host=pc.describe_index("b7-dst").host)
    assert dst.describe_index_stats().total_vector_count == 25
    print("ok: restore", flush=True)

    try:
        pc.describe_backup(backup_id="missing")
        raise AssertionError("describe of a missing backup did not raise")
    except NotFoundException:
        pass
    try:
        pc.create_index_from_backup(backup_id=backup.backup_id, name="b7-dst")
        raise AssertionError("restore onto an existing name did not raise")
    except PineconeApiException as exc:
        assert exc.status == 409, exc
    pc.delete_backup(backup_id=backup.backup_id)
    print("backups7 scenario passed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

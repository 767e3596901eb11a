"""Bulk import through `pinecone==7.3.0` (API 2025-04) against `spruce serve` and moto S3.

Run with the pinecone7 virtualenv's python (7.x and 10.x cannot share an environment):

    python import7_scenario.py CONTROL_URL BUCKET

The Parquet files are written by the test beforehand: BUCKET/v7/ns-a (dense, 2 files), BUCKET/v7/__default__,
BUCKET/v7b/ns-b, and BUCKET/v7bad/ns-bad (one bad row). Exits 0 when every check passes.
"""

from __future__ import annotations

import sys
import time

from pinecone import ImportErrorMode, Pinecone, ServerlessSpec


def finished(index, import_id):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        op = index.describe_import(id=import_id)
        if op.status in ("Completed", "Failed", "Cancelled"):
            return op
        time.sleep(0.05)
    raise AssertionError(f"import {import_id} did not finish")


def main(url: str, bucket: str) -> None:
    pc = Pinecone(api_key="k", host=url)
    pc.create_index(
        name="v7", dimension=8, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    host = pc.describe_index("v7").host
    index = pc.Index(host=host)
    first = index.start_import(uri=f"s3://{bucket}/v7/", error_mode=ImportErrorMode.CONTINUE)
    second = index.start_import(uri=f"s3://{bucket}/v7b/")
    op = finished(index, first.id)
    assert op.status == "Completed", op
    assert op.records_imported == 60 and op.percent_complete == 100.0, op
    assert op.finished_at is not None and op.created_at is not None
    assert finished(index, second.id).status == "Completed"
    print("ok: start and describe", flush=True)
    page = index.list_imports_paginated(limit=1)
    assert [o.id for o in page.data] == [first.id] and page.pagination is not None
    page2 = index.list_imports_paginated(limit=1, pagination_token=page.pagination.next)
    assert [o.id for o in page2.data] == [second.id] and not page2.pagination
    assert [o.id for o in index.list_imports(limit=1)] == [first.id, second.id]
    print("ok: list paging", flush=True)
    stats = index.describe_index_stats()
    assert {k: v.vector_count for k, v in stats.namespaces.items()} == {"ns-a": 40, "": 20, "ns-b": 10}, stats
    rec = index.fetch(ids=["a3"], namespace="ns-a").vectors["a3"]
    assert len(rec.values) == 8 and rec.metadata["i"] == 3
    print("ok: counts and records", flush=True)
    bad = finished(index, index.start_import(uri=f"s3://{bucket}/v7bad/", error_mode="abort").id)
    assert bad.status == "Failed" and "dimensions" in bad.error, bad
    assert "ns-bad" not in index.describe_index_stats().namespaces
    index.cancel_import(id=bad.id)  # cancelling a finished import changes nothing
    assert index.describe_import(id=bad.id).status == "Failed"
    print("ok: abort and cancel", flush=True)
    print("import7 scenario passed")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

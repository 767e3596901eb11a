"""kill -9 during an import, then restart: every namespace is whole or absent, and the job resumes.

Fault hooks make the crash point deterministic: the importer holds (until cancelled or the process ends)
right after publishing its first namespace, or right after reading its first file of a namespace
whose segments are then half written.
"""

from __future__ import annotations

import pytest
from pinecone import Pinecone

from tests.imports.conftest import DIM_DEFAULT, S3, Servers, dense_table, wait_for

pytestmark = [pytest.mark.crash, pytest.mark.slow]


@pytest.mark.parametrize("hook", ["SPRUCE_IMPORT_HOLD_AFTER_NAMESPACES", "SPRUCE_IMPORT_HOLD_AFTER_FILES"])
def test_kill9_mid_import_then_resume(servers: Servers, s3: S3, hook: str) -> None:
    prefix = f"crash-{hook[-5:].lower()}"
    for ns in ("n1", "n2"):
        for part in range(2):
            s3.write(
                f"{prefix}/{ns}/part-{part}.parquet", dense_table(f"{ns}-{part}-", 25, DIM_DEFAULT, part)
            )
    server = servers.start("crash", **{hook: "1"})
    pc = Pinecone(api_key="k", host=server.url)
    pc.create_index(
        name="c",
        dimension=DIM_DEFAULT,
        metric="cosine",
        spec={"serverless": {"cloud": "aws", "region": "us-east-1"}},
    )
    index = pc.index(host=server.index_host("c"))
    op = index.start_import(uri=f"s3://{s3.bucket}/{prefix}/")
    if hook.endswith("NAMESPACES"):
        wait_for(lambda: "n1" in index.describe_index_stats().namespaces, "namespace n1 to be published")
    else:
        segments = server.data / "indexes" / "c" / "segments"
        wait_for(
            lambda: any(p.name.startswith(".bulk-") for p in segments.iterdir()), "a half-written segment"
        )
    assert index.describe_import(op.id).status == "InProgress"
    servers.kill(server)

    again = servers.start("crash")  # same data directory, no hook
    index = Pinecone(api_key="k", host=again.url).index(host=again.index_host("c"))
    counts = {k: v.vector_count for k, v in index.describe_index_stats().namespaces.items()}
    assert all(counts[ns] == 50 for ns in counts), counts  # whole namespaces only, right after restart
    done = wait_for(
        lambda: (d := index.describe_import(op.id)).status in ("Completed", "Failed") and d,
        "the resumed import",
    )
    assert done.status == "Completed", done.error
    assert done.records_imported == 100
    counts = {k: v.vector_count for k, v in index.describe_index_stats().namespaces.items()}
    assert counts == {"n1": 50, "n2": 50}
    assert index.fetch(ids=["n2-1-24"], namespace="n2").vectors["n2-1-24"].metadata["i"] == 24

"""Pinecone's import guide through the official pinecone 10.2.0 SDK against `spruce serve` and moto S3."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import orjson
import pyarrow as pa
import pytest
from pinecone import Pinecone

from tests.imports.conftest import (
    S3,
    Server,
    Servers,
    dense_table,
    sparse_column,
    start_server,
    stop_server,
    wait_for,
)

pytestmark = pytest.mark.compat

DIM = 8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, s3: S3) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("imp") / "data", s3.env)
    try:
        yield srv
    finally:
        assert stop_server(srv) == 0, srv.log.read_text()


def finished(index, import_id: str):  # type: ignore[no-untyped-def]
    def done():  # type: ignore[no-untyped-def]
        op = index.describe_import(import_id)
        return op if op.status in ("Completed", "Failed", "Cancelled") else None

    return wait_for(done, f"import {import_id} to finish")


def test_guide_flow_dense_two_namespaces_and_paging(server: Server, s3: S3) -> None:
    pc = Pinecone(api_key="k", host=server.url)
    pc.create_index(
        name="guide",
        dimension=DIM,
        metric="cosine",
        spec={"serverless": {"cloud": "aws", "region": "us-east-1"}},
    )
    index = pc.index(host=server.index_host("guide"))
    a0, a1 = dense_table("a", 150, DIM, 1), dense_table("a1-", 70, DIM, 2)
    s3.write("guide/ns-a/part-0.parquet", a0)
    s3.write("guide/ns-a/sub/part-1.parquet", a1)
    s3.put_bytes("guide/ns-a/_SUCCESS", b"")
    s3.put_bytes("guide/ns-a/notes.txt", b"ignored")
    s3.write("guide/__default__/part-0.parquet", dense_table("d", 40, DIM, 3))
    s3.write("guide2/ns-b/part-0.parquet", dense_table("b", 30, DIM, 4))

    first = index.start_import(uri=f"s3://{s3.bucket}/guide/", error_mode="continue")
    second = index.start_import(uri=f"s3://{s3.bucket}/guide2")
    assert finished(index, first.id).status == "Completed"
    op = finished(index, second.id)
    assert op.status == "Completed" and op.records_imported == 30 and op.percent_complete == 100.0
    assert op.finished_at is not None and op.created_at and op.error is None

    page = index.list_imports_paginated(limit=1)
    assert [i.id for i in page] == [first.id] and page.pagination is not None
    page2 = index.list_imports_paginated(limit=1, pagination_token=page.pagination.next)
    assert [i.id for i in page2] == [second.id] and page2.pagination is None
    assert [i.id for i in index.list_imports(limit=1)] == [first.id, second.id]

    stats = index.describe_index_stats()
    assert {k: v.vector_count for k, v in stats.namespaces.items()} == {"ns-a": 220, "": 40, "ns-b": 30}
    got = index.fetch(ids=["a7", "a1-3", "a5"], namespace="ns-a").vectors
    assert np.allclose(got["a7"].values, a0.column("values")[7].as_py())
    assert got["a7"].metadata == orjson.loads(a0.column("metadata")[7].as_py())
    assert got["a5"].metadata is None  # NULL metadata: omitted
    assert np.allclose(got["a1-3"].values, a1.column("values")[3].as_py())
    # Exact search over the published segment: a stored vector is its own nearest neighbour.
    q = a0.column("values")[42].as_py()
    assert index.query(vector=q, top_k=1, namespace="ns-a").matches[0].id == "a42"
    flt = index.query(vector=q, top_k=3, namespace="ns-a", filter={"tag": "t1"}, include_metadata=True)
    assert flt.matches and all(m.metadata["tag"] == "t1" for m in flt.matches)


def test_sparse_index_import(server: Server, s3: S3) -> None:
    pc = Pinecone(api_key="k", host=server.url)
    pc.create_index(
        name="sparse",
        metric="dotproduct",
        vector_type="sparse",
        spec={"serverless": {"cloud": "aws", "region": "us-east-1"}},
    )
    index = pc.index(host=server.index_host("sparse"))
    col = sparse_column(60, 9)
    table = pa.table({"id": [f"s{i}" for i in range(60)], "sparse_values": col, "metadata": [None] * 60})
    s3.write("sparse/words/part-0.parquet", table)
    op = finished(index, index.start_import(uri=f"s3://{s3.bucket}/sparse/").id)
    assert op.status == "Completed" and op.records_imported == 60
    rec = index.fetch(ids=["s11"], namespace="words").vectors["s11"]
    want = col[11].as_py()
    assert rec.sparse_values.indices == want["indices"]
    assert np.allclose(rec.sparse_values.values, want["values"])


def _bad_file() -> pa.Table:
    good = dense_table("g", 20, DIM, 5)
    bad_values = pa.array([[0.5] * 3, [0.5] * DIM], pa.list_(pa.float32()))
    bad = pa.table({"id": ["short", "badjson"], "values": bad_values, "metadata": [None, "{not json"]})
    return pa.concat_tables([good, bad])


def test_error_mode_continue_skips_and_abort_imports_nothing(server: Server, s3: S3) -> None:
    pc = Pinecone(api_key="k", host=server.url)
    pc.create_index(
        name="errs",
        dimension=DIM,
        metric="euclidean",
        spec={"serverless": {"cloud": "aws", "region": "us-east-1"}},
    )
    index = pc.index(host=server.index_host("errs"))
    s3.write("errs-abort/ns/part-0.parquet", _bad_file())
    s3.write("errs-continue/ns2/part-0.parquet", _bad_file())
    aborted = finished(index, index.start_import(uri=f"s3://{s3.bucket}/errs-abort/", error_mode="abort").id)
    assert aborted.status == "Failed"
    assert "row 20 (id 'short'): values has 3 dimensions" in aborted.error
    assert "ns" not in index.describe_index_stats().namespaces
    kept = finished(
        index, index.start_import(uri=f"s3://{s3.bucket}/errs-continue/", error_mode="continue").id
    )
    assert kept.status == "Completed" and kept.records_imported == 20
    assert index.describe_index_stats().namespaces["ns2"].vector_count == 20
    assert index.fetch(ids=["short", "badjson"], namespace="ns2").vectors == {}


def test_bad_inputs_are_clear_400s(server: Server, s3: S3) -> None:
    pc = Pinecone(api_key="k", host=server.url)
    pc.create_index(
        name="bad",
        dimension=DIM,
        metric="cosine",
        spec={"serverless": {"cloud": "aws", "region": "us-east-1"}},
    )
    host = server.index_host("bad")
    extra = dense_table("x", 5, DIM, 6).append_column("extra", pa.array([1] * 5))
    s3.write("bad-extra/ns/part-0.parquet", extra)
    s3.write(
        "bad-type/ns/part-0.parquet", pa.table({"id": ["a"], "values": pa.array(["x"]), "metadata": [None]})
    )
    s3.write("bad-exists/taken/part-0.parquet", dense_table("t", 5, DIM, 7))
    httpx.post(
        f"{host}/vectors/upsert", json={"vectors": [{"id": "z", "values": [0.1] * DIM}], "namespace": "taken"}
    )
    cases = {
        "missing uri": ({}, "uri"),
        "bad scheme": ({"uri": "ftp://x/y"}, "scheme"),
        "bad error mode": (
            {"uri": f"s3://{s3.bucket}/bad-extra/", "errorMode": {"onError": "skip"}},
            "onError",
        ),
        "unknown integration": (
            {"uri": f"s3://{s3.bucket}/bad-extra/", "integrationId": "nope"},
            "integrationId",
        ),
        "no files": ({"uri": f"s3://{s3.bucket}/nothing-here/"}, "no .parquet files"),
        "extra column": ({"uri": f"s3://{s3.bucket}/bad-extra/"}, "additional columns ['extra']"),
        "wrong type": ({"uri": f"s3://{s3.bucket}/bad-type/"}, "LIST<FLOAT>"),
        "namespace exists": ({"uri": f"s3://{s3.bucket}/bad-exists/"}, "already exists"),
    }
    for name, (body, needle) in cases.items():
        r = httpx.post(f"{host}/bulk/imports", json=body, timeout=30)
        assert r.status_code == 400, (name, r.text)
        assert needle in r.json()["error"]["message"], (name, r.text)
    assert httpx.get(f"{host}/bulk/imports/999").status_code == 404
    assert httpx.get(f"{host}/bulk/imports", params={"limit": 0}).status_code == 400
    pc.create_index_for_model(
        name="embedded",
        cloud="aws",
        region="us-east-1",
        embed={"model": "multilingual-e5-large", "field_map": {"text": "chunk_text"}},
    )
    r = httpx.post(
        f"{server.index_host('embedded')}/bulk/imports", json={"uri": f"s3://{s3.bucket}/bad-exists/"}
    )
    assert r.status_code == 400 and "integrated embedding" in r.json()["error"]["message"]


def test_cancel_running_import(servers: Servers, s3: S3) -> None:
    # The hook holds the import after its first file until it is cancelled: it cannot finish first.
    server = servers.start("cancel", SPRUCE_IMPORT_HOLD_AFTER_FILES="1")
    pc = Pinecone(api_key="k", host=server.url)
    pc.create_index(
        name="c", dimension=DIM, metric="cosine", spec={"serverless": {"cloud": "aws", "region": "us-east-1"}}
    )
    index = pc.index(host=server.index_host("c"))
    for part in range(3):
        s3.write(f"cancel/ns/part-{part}.parquet", dense_table(f"p{part}-", 20, DIM, part))
    s3.write("cancel-b/nsb/part-0.parquet", dense_table("b", 5, DIM, 9))
    op = index.start_import(uri=f"s3://{s3.bucket}/cancel/")
    queued = index.start_import(uri=f"s3://{s3.bucket}/cancel-b/")  # waits behind the held one
    wait_for(lambda: index.describe_import(op.id).status == "InProgress", "import to start")
    assert index.describe_import(queued.id).status == "Pending"
    index.cancel_import(queued.id)
    assert index.describe_import(queued.id).status == "Cancelled"
    index.cancel_import(op.id)
    done = finished(index, op.id)
    assert done.status == "Cancelled" and done.finished_at is not None
    assert "ns" not in index.describe_index_stats().namespaces
    assert not [p for p in (server.data / "indexes" / "c" / "segments").iterdir()]


def test_integration_credentials_and_endpoint_from_config(tmp_path: Path, servers: Servers, s3: S3) -> None:
    config = tmp_path / "integrations.json"
    config.write_text(
        orjson.dumps(
            [
                {
                    "id": "moto",
                    "access_key_id": "testing",
                    "secret_access_key": "testing",
                    "endpoint_url": s3.endpoint,
                }
            ]
        ).decode()
    )
    server = servers.start(
        "integ", SPRUCE_IMPORT_INTEGRATIONS=str(config), AWS_ENDPOINT_URL="http://127.0.0.1:9"
    )
    pc = Pinecone(api_key="k", host=server.url)
    pc.create_index(
        name="i", dimension=DIM, metric="cosine", spec={"serverless": {"cloud": "aws", "region": "us-east-1"}}
    )
    index = pc.index(host=server.index_host("i"))
    s3.write("integ/ns/part-0.parquet", dense_table("q", 10, DIM, 8))
    op = finished(index, index.start_import(uri=f"s3://{s3.bucket}/integ/", integration_id="moto").id)
    assert op.status == "Completed" and op.records_imported == 10

"""pinecone==10.2.0's gRPC index (Rust tonic client) against `spruce serve` over sockets.

The index is created over REST; its host from describe_index is then dialed over gRPC on the same port
(plaintext, `grpc_scheme="http"`), which is how the SDK is pointed at a local server.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest
from pinecone import Pinecone, ServerlessSpec
from pinecone.errors import ApiError, ConflictError, NotFoundError, UnauthorizedError
from pinecone.grpc import GrpcIndex

pytestmark = pytest.mark.compat

DIM = 8


def _vec(seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(-1, 1) for _ in range(DIM)]


@pytest.fixture(scope="module")
def pc(base_url: str) -> Iterator[Pinecone]:
    with Pinecone(api_key="k", host=base_url) as client:
        yield client


@pytest.fixture(scope="module")
def host(pc: Pinecone) -> str:
    pc.create_index(
        name="grpc10",
        dimension=DIM,
        metric="dotproduct",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
    )
    desc_host: str = pc.describe_index("grpc10").host
    assert desc_host.startswith("http://127.0.0.1:")
    return desc_host


@pytest.fixture(scope="module")
def idx(host: str) -> Iterator[Any]:
    index = Pinecone(api_key="k", grpc_scheme="http").index(host=host, grpc=True)
    assert isinstance(index, GrpcIndex)
    yield index
    index.close()


def test_upsert_fetch_query(idx: Any) -> None:
    resp = idx.upsert(
        vectors=[
            ("a", _vec(1), {"year": 2020, "genre": ["drama", "comedy"], "ok": True, "title": "A"}),
            {"id": "b", "values": _vec(2), "metadata": {"year": 2021}},
            {"id": "c", "values": _vec(3), "sparse_values": {"indices": [7, 2], "values": [0.5, 1.5]}},
        ],
        namespace="main",
        show_progress=False,
    )
    assert resp.upserted_count == 3

    fetched = idx.fetch(ids=["a", "c", "missing"], namespace="main")
    assert set(fetched.vectors) == {"a", "c"}
    a = fetched.vectors["a"]
    # Documented: gRPC metadata numbers are doubles, so 2020 comes back as 2020.0 (as from Pinecone).
    assert a.metadata == {"year": 2020.0, "genre": ["drama", "comedy"], "ok": True, "title": "A"}
    assert a.values == pytest.approx(_vec(1), abs=1e-6)
    assert fetched.vectors["c"].sparse_values.indices == [2, 7]
    assert fetched.vectors["c"].sparse_values.values == [1.5, 0.5]

    q = idx.query(vector=_vec(1), top_k=2, namespace="main", include_metadata=True, include_values=True)
    assert q.matches[0].id == "a"
    assert q.matches[0].metadata["year"] == 2020.0
    assert q.namespace == "main"
    hybrid = idx.query(
        vector=[0.0] * DIM, sparse_vector={"indices": [2], "values": [2.0]}, top_k=1, namespace="main"
    )
    assert hybrid.matches[0].id == "c" and hybrid.matches[0].score == pytest.approx(3.0)
    filtered = idx.query(vector=_vec(1), top_k=5, namespace="main", filter={"genre": {"$in": ["comedy"]}})
    assert [m.id for m in filtered.matches] == ["a"]
    by_id = idx.query(id="b", top_k=3, namespace="main")
    assert by_id.matches and {m.id for m in by_id.matches} <= {"a", "b", "c"}
    assert idx.query_async(vector=_vec(2), top_k=1, namespace="main").result().matches[0].id == "b"
    assert set(idx.fetch_async(ids=["b"], namespace="main").result().vectors) == {"b"}

    # query_namespaces fans out one Query per namespace and merges client-side.
    idx.upsert(vectors=[("other-a", _vec(1))], namespace="main2", show_progress=False)
    merged = idx.query_namespaces(vector=_vec(1), namespaces=["main", "main2"], metric="dotproduct", top_k=2)
    assert {m.id for m in merged.matches} == {"a", "other-a"}


def test_parallel_upsert_async(idx: Any) -> None:
    futures = [
        idx.upsert_async(vectors=[(f"p{i}-{j}", _vec(i * 100 + j)) for j in range(50)], namespace="par")
        for i in range(16)
    ]
    assert sum(f.result().upserted_count for f in futures) == 800
    assert idx.describe_index_stats().namespaces["par"].vector_count == 800
    # The SDK's own batching runs batches concurrently too.
    resp = idx.upsert(
        vectors=[(f"b{i}", _vec(i)) for i in range(1000)],
        namespace="batched",
        batch_size=100,
        max_concurrency=8,
        show_progress=False,
    )
    assert resp.upserted_count == 1000


def test_update_list_fetch_by_metadata_delete(idx: Any) -> None:
    idx.upsert(
        vectors=[(f"doc#{i}", _vec(i), {"n": i, "even": i % 2 == 0}) for i in range(6)],
        namespace="ops",
        show_progress=False,
    )
    idx.update(id="doc#1", set_metadata={"tag": "x"}, namespace="ops")
    assert idx.fetch(ids=["doc#1"], namespace="ops").vectors["doc#1"].metadata["tag"] == "x"
    dry = idx.update(filter={"even": True}, set_metadata={"flag": True}, namespace="ops", dry_run=True)
    assert dry.matched_records == 3
    assert idx.update_async(filter={"even": True}, set_metadata={"flag": True}, namespace="ops").result()

    pages = list(idx.list(prefix="doc#", limit=4, namespace="ops"))
    assert [v.id for page in pages for v in page.vectors] == [f"doc#{i}" for i in range(6)]
    first = idx.list_paginated(prefix="doc#", limit=4, namespace="ops")
    assert len(first.vectors) == 4 and first.pagination and first.pagination.next

    got = idx.fetch_by_metadata(filter={"n": {"$gte": 4}}, namespace="ops")
    assert sorted(got.vectors) == ["doc#4", "doc#5"]
    assert got.vectors["doc#4"].metadata["flag"] is True

    idx.delete(ids=["doc#0"], namespace="ops")
    idx.delete(filter={"even": True}, namespace="ops")
    idx.delete_async(ids=["doc#5"], namespace="ops").result()
    assert [v.id for page in idx.list(namespace="ops") for v in page.vectors] == ["doc#1", "doc#3"]
    idx.delete(delete_all=True, namespace="ops")
    assert "ops" not in idx.describe_index_stats().namespaces


def test_stats_and_namespaces(idx: Any) -> None:
    idx.upsert(vectors=[("s1", _vec(1)), ("s2", _vec(2))], namespace="ns-a", show_progress=False)
    stats = idx.describe_index_stats()
    assert stats.dimension == DIM and stats.namespaces["ns-a"].vector_count == 2
    assert stats.total_vector_count == sum(ns.vector_count for ns in stats.namespaces.values())

    created = idx.create_namespace(name="ns-made", schema={"fields": {"genre": {"filterable": True}}})
    assert created.name == "ns-made"
    desc = idx.describe_namespace(name="ns-a")
    assert desc.name == "ns-a" and int(desc.record_count) == 2
    names = [ns.name for page in idx.list_namespaces(prefix="ns-") for ns in page.namespaces]
    assert names == ["ns-a", "ns-made"]
    page = idx.list_namespaces_paginated(prefix="ns-", limit=1)
    assert len(page.namespaces) == 1 and page.pagination and page.pagination.next
    idx.delete_namespace(name="ns-made")
    with pytest.raises(NotFoundError):
        idx.describe_namespace(name="ns-made")


def test_errors(idx: Any, pc: Pinecone, host: str) -> None:
    with pytest.raises(ApiError) as wrong:
        idx.upsert(vectors=[("x", [1.0, 2.0])], show_progress=False)
    assert wrong.value.status_code == 400 and "dimension" in str(wrong.value)
    with pytest.raises(ApiError) as bad_filter:
        idx.query(vector=_vec(1), top_k=1, filter={"x": {"$bogus": 1}})
    assert bad_filter.value.status_code == 400
    with pytest.raises(NotFoundError):
        idx.delete_namespace(name="never-existed")
    idx.create_namespace(name="twice")
    with pytest.raises(ConflictError):
        idx.create_namespace(name="twice")

    # A gRPC client whose index was deleted gets NOT_FOUND, not another index's data.
    pc.create_index(
        name="gone", dimension=DIM, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    gone = Pinecone(api_key="k", grpc_scheme="http").index(host=pc.describe_index("gone").host, grpc=True)
    gone.upsert(vectors=[("g", _vec(1))], show_progress=False)
    pc.delete_index("gone")
    with pytest.raises(NotFoundError):
        gone.describe_index_stats()
    gone.close()


def test_api_key_enforced(launcher: Any, tmp_path: Any) -> None:
    server = launcher.start(tmp_path / "keyed", api_keys=["secret"])
    with Pinecone(api_key="secret", host=server.url) as admin:
        admin.create_index(
            name="keyed", dimension=DIM, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
        )
        index_host = admin.describe_index("keyed").host
    bad = Pinecone(api_key="wrong", grpc_scheme="http").index(host=index_host, grpc=True)
    with pytest.raises(UnauthorizedError):
        bad.describe_index_stats()
    bad.close()
    good = Pinecone(api_key="secret", grpc_scheme="http").index(host=index_host, grpc=True)
    assert good.describe_index_stats().dimension == DIM
    good.close()


def test_other_ways_to_dial(host: str) -> None:
    bare = host.removeprefix("http://")
    direct = GrpcIndex(host=bare, api_key="k", secure=False)
    assert direct.describe_index_stats().dimension == DIM
    direct.close()

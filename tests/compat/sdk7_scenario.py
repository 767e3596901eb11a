"""REST + asyncio scenario for `pinecone==7.3.0` (generated OpenAPI client, API 2025-04).

Run with the pinecone7 virtualenv's python, not pytest (7.x and 10.x cannot share an environment):

    python sdk7_scenario.py CONTROL_URL

Exits 0 when every check passes; any failure raises, which exits non-zero with the traceback on stderr.
Each step prints one line, so a failure shows how far it got.
"""

from __future__ import annotations

import asyncio
import random
import sys
from typing import Any

DIM = 8


def vec(seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(-1, 1) for _ in range(DIM)]


def step(name: str) -> None:
    print(f"ok: {name}", flush=True)


def expect_error(exc_type: type[BaseException], fn: Any, *args: Any, **kwargs: Any) -> BaseException:
    try:
        fn(*args, **kwargs)
    except exc_type as exc:
        return exc
    raise AssertionError(f"{getattr(fn, '__name__', fn)} did not raise {exc_type.__name__}")


def control_plane(url: str) -> None:
    from pinecone import Pinecone, ServerlessSpec
    from pinecone.exceptions import ForbiddenException, NotFoundException, PineconeApiException

    pc = Pinecone(api_key="k", host=url)
    spec = ServerlessSpec(cloud="aws", region="us-east-1")
    pc.create_index(name="ctl7", dimension=DIM, metric="cosine", spec=spec, tags={"env": "dev", "team": "a"})
    desc = pc.describe_index("ctl7")
    assert desc.name == "ctl7" and desc.dimension == DIM and desc.metric == "cosine", desc
    assert desc.host.startswith("http://127.0.0.1:"), desc.host
    assert desc.status["ready"] is True or desc.status.ready is True
    assert desc.spec.serverless.cloud == "aws"
    assert pc.has_index("ctl7") and not pc.has_index("nope7")
    assert "ctl7" in pc.list_indexes().names()
    step("create/describe/list/has_index")

    pc.configure_index("ctl7", deletion_protection="enabled", tags={"env": "prod", "team": ""})
    desc = pc.describe_index("ctl7")
    assert desc.deletion_protection == "enabled", desc.deletion_protection
    assert dict(desc.tags.to_dict() if hasattr(desc.tags, "to_dict") else desc.tags) == {"env": "prod"}, (
        desc.tags
    )
    exc = expect_error(ForbiddenException, pc.delete_index, "ctl7", timeout=-1)
    assert "deletion protection" in str(exc), exc
    pc.configure_index("ctl7", deletion_protection="disabled")
    pc.delete_index("ctl7")
    assert not pc.has_index("ctl7")
    step("configure tags/deletion protection, delete")

    expect_error(NotFoundException, pc.describe_index, "missing7")
    pc.create_index(name="dup7", dimension=DIM, metric="cosine", spec=spec)
    conflict = expect_error(PineconeApiException, pc.create_index, name="dup7", dimension=DIM, spec=spec)
    assert getattr(conflict, "status", None) == 409, conflict
    pc.delete_index("dup7")
    step("errors: 404, 409")

    pc.create_index(name="sparse7", metric="dotproduct", vector_type="sparse", spec=spec)
    desc = pc.describe_index("sparse7")
    assert desc.vector_type == "sparse", desc
    sidx = pc.Index(name="sparse7")
    sidx.upsert(vectors=[{"id": "s1", "sparse_values": {"indices": [1, 7], "values": [0.5, 1.0]}}])
    res = sidx.query(top_k=1, sparse_vector={"indices": [7], "values": [1.0]})
    assert res.matches[0].id == "s1", res
    pc.delete_index("sparse7")
    step("sparse index")

    pc.create_index_for_model(
        name="int7",
        cloud="aws",
        region="us-east-1",
        embed={"model": "llama-text-embed-v2", "field_map": {"text": "chunk_text"}},
    )
    desc = pc.describe_index("int7")
    assert desc.embed.model == "llama-text-embed-v2", desc
    pc.delete_index("int7")
    step("create_index_for_model")


def data_plane(url: str) -> None:
    from pinecone import Pinecone, ServerlessSpec
    from pinecone.exceptions import NotFoundException, PineconeApiException

    pc = Pinecone(api_key="k", host=url)
    pc.create_index(
        name="data7", dimension=DIM, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    idx = pc.Index(name="data7")
    res = idx.upsert(
        vectors=[
            ("v1", vec(1), {"genre": "drama", "year": 2020}),
            {"id": "v2", "values": vec(2), "metadata": {"genre": "comedy", "year": 2021}},
            {"id": "v3", "values": vec(3), "metadata": {"genre": "drama", "year": 2022}},
            {"id": "v4", "values": vec(4), "sparse_values": {"indices": [3, 1], "values": [0.2, 0.4]}},
        ],
        namespace="ns1",
    )
    assert res.upserted_count == 4, res
    step("upsert")

    q = idx.query(top_k=3, vector=vec(1), namespace="ns1", include_values=True, include_metadata=True)
    assert q.matches[0].id == "v1" and abs(q.matches[0].score - 1.0) < 1e-5, q
    assert max(abs(a - b) for a, b in zip(q.matches[0].values, vec(1), strict=True)) < 1e-6
    assert q.matches[0].metadata == {"genre": "drama", "year": 2020}, q.matches[0].metadata
    q = idx.query(top_k=5, id="v1", namespace="ns1", filter={"genre": {"$eq": "drama"}})
    assert {m.id for m in q.matches} == {"v1", "v3"}, q
    step("query by vector, id, filter")

    f = idx.fetch(ids=["v1", "v4", "missing"], namespace="ns1")
    assert set(f.vectors) == {"v1", "v4"}, f
    assert list(f.vectors["v4"].sparse_values.indices) == [1, 3]
    step("fetch")

    idx.update(id="v2", set_metadata={"genre": "drama"}, namespace="ns1")
    idx.update(id="v1", values=vec(9), namespace="ns1")
    got = idx.fetch(ids=["v1", "v2"], namespace="ns1").vectors
    assert got["v2"].metadata["genre"] == "drama"
    assert max(abs(a - b) for a, b in zip(got["v1"].values, vec(9), strict=True)) < 1e-6
    step("update")

    stats = idx.describe_index_stats()
    assert stats.total_vector_count == 4 and stats.dimension == DIM, stats
    assert stats.namespaces["ns1"].vector_count == 4, stats
    step("describe_index_stats")

    wrong = expect_error(PineconeApiException, idx.upsert, vectors=[("bad", [1.0, 2.0])])
    assert getattr(wrong, "status", None) == 400 and "dimension" in str(wrong), wrong
    step("wrong dimension is a readable 400")

    vectors = [(f"doc{i:03d}#chunk", vec(i), {"n": i}) for i in range(250)]
    res = idx.upsert(vectors=vectors, namespace="a", batch_size=40, show_progress=False)
    assert res.upserted_count == 250, res
    async_results = [
        idx.upsert(vectors=vectors[i : i + 50], namespace="c", async_req=True) for i in range(0, 250, 50)
    ]
    assert sum(r.get().upserted_count for r in async_results) == 250
    pages = list(idx.list(prefix="doc", limit=100, namespace="a"))
    assert [len(p) for p in pages] == [100, 100, 50], [len(p) for p in pages]
    assert [i for p in pages for i in p] == sorted(v[0] for v in vectors)
    page = idx.list_paginated(prefix="doc01", limit=5, namespace="a")
    assert [v.id for v in page.vectors] == [f"doc{i:03d}#chunk" for i in range(10, 15)], page
    assert page.pagination.next
    step("batched and async_req upsert, list pagination")

    idx.upsert(vectors=[("b2", vec(1))], namespace="b")
    merged = idx.query_namespaces(vector=vec(1), namespaces=["a", "b"], metric="cosine", top_k=3)
    assert {m.id for m in merged.matches[:2]} == {"doc001#chunk", "b2"}, merged
    step("query_namespaces")

    desc = idx.describe_namespace(namespace="a")
    assert desc.name == "a" and int(desc.record_count) == 250, desc
    listed = idx.list_namespaces_paginated(limit=10)
    assert {n.name for n in listed.namespaces} == {"ns1", "a", "b", "c"}, listed
    idx.delete_namespace(namespace="b")
    expect_error(NotFoundException, idx.describe_namespace, namespace="b")
    step("namespaces")

    idx.delete(ids=["v1"], namespace="ns1")
    idx.delete(filter={"genre": {"$eq": "drama"}}, namespace="ns1")
    assert idx.describe_index_stats().namespaces["ns1"].vector_count == 1
    idx.delete(delete_all=True, namespace="ns1")
    assert "ns1" not in idx.describe_index_stats().namespaces or (
        idx.describe_index_stats().namespaces["ns1"].vector_count == 0
    )
    step("delete by ids, filter, all")

    other = Pinecone(api_key="k", host=url).Index(name="data7")
    for i in range(3):
        idx.upsert(vectors=[(f"w{i}", vec(100 + i))], namespace="x")
        assert other.query(top_k=1, vector=vec(100 + i), namespace="x").matches[0].id == f"w{i}"
    step("write visible to another client")
    pc.delete_index("data7")


async def asyncio_client(url: str) -> None:
    from pinecone import PineconeAsyncio, ServerlessSpec
    from pinecone.exceptions import NotFoundException

    async with PineconeAsyncio(api_key="k", host=url) as pc:
        await pc.create_index(
            name="aio7", dimension=DIM, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
        )
        desc = await pc.describe_index("aio7")
        assert desc.host.startswith("http://"), desc.host
        async with pc.IndexAsyncio(host=desc.host) as idx:
            vectors = [(f"a{i}", vec(i)) for i in range(120)]
            res = await idx.upsert(vectors=vectors, batch_size=25, show_progress=False)
            assert res.upserted_count == 120, res
            results = await asyncio.gather(*[idx.query(top_k=1, vector=vec(i)) for i in range(10)])
            assert [r.matches[0].id for r in results] == [f"a{i}" for i in range(10)]
            fetched = await idx.fetch(ids=["a1"])
            assert "a1" in fetched.vectors
            await idx.update(id="a1", set_metadata={"k": "v"})
            stats = await idx.describe_index_stats()
            assert stats.total_vector_count == 120, stats
            await idx.delete(ids=["a1"])
            page = await idx.list_paginated(limit=100)
            assert len(page.vectors) == 100
            merged = await idx.query_namespaces(
                vector=vec(2), namespaces=["", "zzz"], metric="cosine", top_k=1
            )
            assert merged.matches[0].id == "a2", merged
        try:
            await pc.describe_index("nope7")
        except NotFoundException:
            pass
        else:
            raise AssertionError("describe_index of a missing index did not raise")
        await pc.delete_index("aio7")
    step("asyncio client")


def main(url: str) -> None:
    control_plane(url)
    data_plane(url)
    asyncio.run(asyncio_client(url))
    print("sdk7 scenario passed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

"""Integrated embedding with pinecone==10.2.0, sync and asyncio, against `spruce serve` over sockets.

The seed flow of Pinecone's upsert guide (create_index_for_model, upsert_records, search with rerank),
search by text / vector / id with filters on dense and sparse indexes, each compared with a brute-force
ranking of vectors from the server's own /embed; the same text gives the same vector through the records
API, through /embed + a gRPC upsert and through the embedded client; bad input writes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from pinecone import EmbedModel, IndexEmbed, Pinecone, PineconeAsyncio, RerankModel, ServerlessSpec
from pinecone.errors import ApiError
from records_data import (
    DENSE_MODEL,
    FIELD,
    HEALTH,
    QUERY,
    RECORDS,
    RERANK_MODEL,
    SPARSE_MODEL,
    SPARSE_QUERY,
    text_of,
)

import spruce

pytestmark = pytest.mark.compat

NS = "example-namespace"
V2025 = {"X-Pinecone-Api-Version": "2025-04"}


@pytest.fixture(scope="module")
def pc(base_url: str) -> Iterator[Pinecone]:
    with Pinecone(api_key="k", host=base_url) as client:
        yield client


@pytest.fixture(scope="module")
def dense(pc: Pinecone) -> Any:
    # The seed flow, verbatim apart from the keyword form 10.x requires for upsert_records.
    pc.create_index_for_model(
        name="seed",
        cloud="aws",
        region="us-east-1",
        embed={"model": DENSE_MODEL, "field_map": {"text": FIELD}},
    )
    index = pc.Index(name="seed")
    index.upsert_records(namespace=NS, records=RECORDS)
    return index


def _embed(pc: Pinecone, model: str, texts: list[str], input_type: str) -> Any:
    return pc.inference.embed(model=model, inputs=texts, parameters={"input_type": input_type}).data


def _dense_ranking(pc: Pinecone, query_vec: np.ndarray, ids: list[str]) -> list[tuple[str, float]]:
    """Brute force: cosine of the query against each record's passage vector from /embed."""
    data = _embed(pc, DENSE_MODEL, [text_of(i) for i in ids], "passage")
    mat = np.asarray([d.values for d in data], dtype=np.float64)
    q = query_vec / np.linalg.norm(query_vec)
    scores = mat @ q / np.linalg.norm(mat, axis=1)
    return sorted(zip(ids, scores.tolist(), strict=True), key=lambda p: -p[1])


def _query_vec(pc: Pinecone, text: str) -> np.ndarray:
    return np.asarray(_embed(pc, DENSE_MODEL, [text], "query")[0].values, dtype=np.float64)


def _check_hits(hits: Any, expected: list[tuple[str, float]]) -> None:
    assert [h.id for h in hits] == [i for i, _ in expected]
    assert [h.score for h in hits] == pytest.approx([s for _, s in expected], abs=1e-4)


def test_seed_flow_with_rerank(pc: Pinecone, dense: Any, base_url: str) -> None:
    desc = pc.describe_index("seed")
    assert desc.embed.model == DENSE_MODEL and desc.embed.field_map == {"text": FIELD}
    model = pc.inference.get_model(model=DENSE_MODEL)
    for version in ("2025-01", "2025-04", "2025-10"):
        classic = httpx.get(f"{base_url}/indexes/seed", headers={"X-Pinecone-Api-Version": version}).json()
        assert classic["dimension"] == model.default_dimension
        embed = classic["embed"]
        assert embed["model"] == DENSE_MODEL and embed["vector_type"] == "dense", (version, embed)
        assert embed["field_map"] == {"text": FIELD} and embed["dimension"] == model.default_dimension

    res = dense.search(
        namespace=NS,
        query={"inputs": {"text": QUERY}, "top_k": 3},
        rerank={"model": RERANK_MODEL, "top_n": 2, "rank_fields": [FIELD]},
        fields=[FIELD, "category"],
    )
    top3 = [i for i, _ in _dense_ranking(pc, _query_vec(pc, QUERY), [r["_id"] for r in RECORDS])[:3]]
    direct = pc.inference.rerank(
        model=RERANK_MODEL, query=QUERY, documents=[text_of(i) for i in top3], top_n=2
    )
    assert [h.id for h in res.result.hits] == [top3[d.index] for d in direct.data]
    assert [h.score for h in res.result.hits] == pytest.approx([d.score for d in direct.data], abs=1e-5)
    hit = res.result.hits[0]
    assert hit["id"] == hit.id and set(hit.fields) == {FIELD, "category"}
    assert hit.fields[FIELD] == text_of(hit.id)
    assert res.usage.embed_total_tokens > 0 and res.usage.rerank_units >= 1 and res.usage.read_units >= 1


def test_search_by_text_vector_and_id(pc: Pinecone, dense: Any) -> None:
    ids = [r["_id"] for r in RECORDS]
    qv = _query_vec(pc, QUERY)
    res = dense.search(namespace=NS, top_k=3, inputs={"text": QUERY})
    _check_hits(res.result.hits, _dense_ranking(pc, qv, ids)[:3])
    assert res.result.hits[0].id in HEALTH
    assert res.result.hits[0].fields == {FIELD: text_of(res.result.hits[0].id), "category": "health"}
    assert res.usage.rerank_units is None

    food = [r["_id"] for r in RECORDS if r["category"] == "food"]
    by_vec = dense.search(namespace=NS, top_k=5, vector=qv.tolist(), filter={"category": {"$eq": "food"}})
    _check_hits(by_vec.result.hits, _dense_ranking(pc, qv, food))
    assert by_vec.usage.embed_total_tokens is None

    rec2 = np.asarray(_embed(pc, DENSE_MODEL, [text_of("rec2")], "passage")[0].values, dtype=np.float64)
    others = [r["_id"] for r in RECORDS if r["category"] != "health"]
    by_id = dense.search(
        namespace=NS, top_k=2, id="rec2", filter={"category": {"$ne": "health"}}, fields=["category"]
    )
    _check_hits(by_id.result.hits, _dense_ranking(pc, rec2, others)[:2])
    assert all(set(h.fields) == {"category"} for h in by_id.result.hits)

    reranked = dense.search(
        namespace=NS,
        top_k=4,
        id="rec6",
        rerank={"model": RERANK_MODEL, "rank_fields": [FIELD], "query": QUERY},
    )
    assert len(reranked.result.hits) == 4
    scores = [h.score for h in reranked.result.hits]
    assert scores == sorted(scores, reverse=True)


def test_sparse_index(pc: Pinecone, base_url: str) -> None:
    pc.create_index_for_model(
        name="sparse-seed",
        cloud="aws",
        region="us-east-1",
        embed={"model": SPARSE_MODEL, "field_map": {"text": FIELD}},
    )
    assert pc.describe_index("sparse-seed").embed.model == SPARSE_MODEL
    # 2026-07 describes only the semantic_text field (the SDK then cannot tell the vector type); 2025-x does.
    classic = httpx.get(f"{base_url}/indexes/sparse-seed", headers=V2025).json()
    assert (
        classic["vector_type"] == "sparse"
        and "dimension" not in classic
        and classic["metric"] == "dotproduct"
    )
    index = pc.Index(name="sparse-seed")
    index.upsert_records(namespace=NS, records=RECORDS)
    res = index.search(namespace=NS, top_k=3, inputs={"text": SPARSE_QUERY}, fields=["category"])
    ids = [r["_id"] for r in RECORDS]
    docs = _embed(pc, SPARSE_MODEL, [text_of(i) for i in ids], "passage")
    (q,) = _embed(pc, SPARSE_MODEL, [SPARSE_QUERY], "query")
    qmap = dict(zip(q.sparse_indices, q.sparse_values, strict=True))
    brute = [
        (rid, sum(v * qmap.get(i, 0.0) for i, v in zip(d.sparse_indices, d.sparse_values, strict=True)))
        for rid, d in zip(ids, docs, strict=True)
    ]
    brute = sorted((p for p in brute if p[1] > 0), key=lambda p: -p[1])[:3]
    _check_hits(res.result.hits, brute)
    assert res.result.hits[0].id == "rec8"

    by_vector = index.search(
        namespace=NS,
        top_k=3,
        vector={"sparse_indices": list(q.sparse_indices), "sparse_values": list(q.sparse_values)},
        filter={"category": "food"},
    )
    assert [h.id for h in by_vector.result.hits] == [i for i, _ in brute if i in {"rec4", "rec8"}]


def test_hybrid_index(pc: Pinecone) -> None:
    """Records search on a dotproduct index holding dense + sparse vectors (upserted as vectors)."""
    pc.create_index(
        name="hybrid", dimension=4, metric="dotproduct", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    index = pc.Index(name="hybrid")
    rng = np.random.default_rng(7)
    vecs = rng.normal(size=(6, 4))
    index.upsert(
        vectors=[
            {
                "id": f"h{i}",
                "values": vecs[i].tolist(),
                "sparse_values": {"indices": [i, 10], "values": [1.0, 0.5]},
                "metadata": {"n": i},
            }
            for i in range(6)
        ],
        namespace=NS,
    )
    q = rng.normal(size=4)
    res = index.search(
        namespace=NS,
        top_k=3,
        vector={"values": q.tolist(), "sparse_indices": [2, 10], "sparse_values": [3.0, 1.0]},
    )
    sparse_part = np.asarray([3.0 * (i == 2) + 0.5 for i in range(6)])
    brute = sorted(((f"h{i}", float(vecs[i] @ q + sparse_part[i])) for i in range(6)), key=lambda p: -p[1])
    _check_hits(res.result.hits, brute[:3])
    assert res.result.hits[0].fields == {"n": int(res.result.hits[0].id[1:])}
    with pytest.raises(ApiError) as no_model:
        index.search(namespace=NS, top_k=1, inputs={"text": "anything"})
    assert no_model.value.status_code == 400 and "no embedding model" in str(no_model.value)


def test_same_embedding_rest_grpc_embedded(pc: Pinecone, dense: Any, tmp_path: Path) -> None:
    text = text_of("rec3")
    via_records = np.asarray(dense.fetch(ids=["rec3"], namespace=NS).vectors["rec3"].values)
    via_embed = np.asarray(_embed(pc, DENSE_MODEL, [text], "passage")[0].values)
    np.testing.assert_allclose(via_records, via_embed, atol=1e-6)

    dim = len(via_embed)
    pc.create_index(
        name="grpc-same", dimension=dim, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    grpc = Pinecone(api_key="k", grpc_scheme="http").index(
        host=pc.describe_index("grpc-same").host, grpc=True
    )
    try:
        grpc.upsert(vectors=[("rec3", via_embed.tolist())], namespace=NS)
        via_grpc = np.asarray(grpc.fetch(ids=["rec3"], namespace=NS).vectors["rec3"].values)
    finally:
        grpc.close()
    np.testing.assert_allclose(via_grpc, via_embed, atol=1e-6)

    with spruce.Client(path=tmp_path / "embedded") as db:
        db.create_index_for_model(  # the SDK's IndexEmbed object works as well as its dict
            name="seed",
            cloud="aws",
            region="us-east-1",
            embed=IndexEmbed(model=EmbedModel.Llama_Text_Embed_V2, field_map={"text": FIELD}),
        )
        local = db.Index("seed")
        local.upsert_records(NS, RECORDS)
        via_client = np.asarray(local.fetch(ids=["rec3"], namespace=NS).vectors["rec3"].values)
        np.testing.assert_allclose(via_client, via_embed, atol=1e-6)
        mine = local.search(
            namespace=NS,
            query={"inputs": {"text": QUERY}, "top_k": 3},
            rerank={"model": RerankModel.Bge_Reranker_V2_M3, "rank_fields": [FIELD], "top_n": 3},
        )
        theirs = dense.search(
            namespace=NS,
            query={"inputs": {"text": QUERY}, "top_k": 3},
            rerank={"model": RERANK_MODEL, "rank_fields": [FIELD], "top_n": 3},
        )
        assert [h._id for h in mine.result.hits] == [h.id for h in theirs.result.hits]


def test_asyncio_seed_flow(base_url: str) -> None:
    async def scenario() -> None:
        async with PineconeAsyncio(api_key="k", host=base_url) as apc:
            await apc.create_index_for_model(
                name="aseed",
                cloud="aws",
                region="us-east-1",
                embed={"model": DENSE_MODEL, "field_map": {"text": FIELD}},
            )
            desc = await apc.describe_index("aseed")
            async with apc.IndexAsyncio(host=desc.host) as index:
                await index.upsert_records(namespace=NS, records=RECORDS)
                res = await index.search(
                    namespace=NS,
                    query={"inputs": {"text": QUERY}, "top_k": 3},
                    rerank={"model": RERANK_MODEL, "top_n": 2, "rank_fields": [FIELD]},
                    fields=[FIELD],
                )
                assert len(res.result.hits) == 2 and res.usage.rerank_units >= 1
                assert res.result.hits[0].fields[FIELD] == text_of(res.result.hits[0].id)
                by_id = await index.search(namespace=NS, top_k=1, id="rec5")
                assert by_id.result.hits[0].id == "rec5"

    asyncio.run(scenario())


def _count(host: str, namespace: str) -> int:
    stats = httpx.post(f"{host}/describe_index_stats", json={}).json()
    return int(stats["namespaces"].get(namespace, {}).get("vectorCount", 0))


def _refused(resp: httpx.Response, *needles: str) -> None:
    assert resp.status_code == 400, resp.text
    message = resp.json()["error"]["message"]
    for needle in needles:
        assert needle in message, message


def test_bad_input_writes_nothing(pc: Pinecone, dense: Any, base_url: str) -> None:
    host = pc.describe_index("seed").host
    before = _count(host, NS)
    ndjson = {"Content-Type": "application/x-ndjson"}

    def upsert(lines: list[str], index_host: str = host) -> httpx.Response:
        body = "".join(line + "\n" for line in lines)
        return httpx.post(f"{index_host}/records/namespaces/{NS}/upsert", content=body, headers=ndjson)

    good = '{"_id":"new1","chunk_text":"fine"}'
    _refused(upsert([good, '{"_id":"new2","text":"wrong field"}']), "records[1]", FIELD)
    _refused(
        upsert(
            [good, '{"_id": "new2", "chunk_text": '],
        ),
        "line 2",
    )
    _refused(upsert([good, '["not", "an", "object"]']), "line 2")
    _refused(upsert([good, '{"chunk_text":"no id"}']), "records[1]", "_id")
    _refused(upsert([f'{{"_id":"b{i}","chunk_text":"t"}}' for i in range(97)]), "96")
    _refused(upsert([good, '{"_id":"new3","chunk_text":"x","nested":{"a":1}}']), "records[1]", "nested")
    with pytest.raises(ApiError) as too_many:
        dense.upsert_records(namespace=NS, records=[{"_id": f"c{i}", FIELD: "t"} for i in range(97)])
    assert too_many.value.status_code == 400
    assert _count(host, NS) == before

    limit = pc.inference.get_model(model=DENSE_MODEL).max_sequence_length
    pc.create_index_for_model(
        name="no-truncate",
        cloud="aws",
        region="us-east-1",
        embed={"model": DENSE_MODEL, "field_map": {"text": FIELD}, "write_parameters": {"truncate": "NONE"}},
    )
    strict = pc.describe_index("no-truncate").host
    long_text = " ".join(["word"] * (limit * 2))
    _refused(upsert([good, f'{{"_id":"long","chunk_text":"{long_text}"}}'], strict), "records[1]", "truncate")
    assert _count(strict, NS) == 0

    pc.create_index(
        name="plain", dimension=4, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    plain = pc.describe_index("plain").host
    _refused(upsert([good], plain), "no embedding model")
    assert _count(plain, NS) == 0

    search = f"{host}/records/namespaces/{NS}/search"
    text_query = {"inputs": {"text": QUERY}, "top_k": 3}
    timing = httpx.post(search, json={"query": text_query}).headers["server-timing"]
    assert "embed;dur=" in timing and "search;dur=" in timing, timing
    _refused(
        httpx.post(
            search, json={"query": text_query, "rerank": {"model": RERANK_MODEL, "rank_fields": ["nope"]}}
        ),
        "nope",
    )
    _refused(
        httpx.post(
            search, json={"query": text_query, "rerank": {"model": "no-such-model", "rank_fields": [FIELD]}}
        ),
        "rerank.model",
        "no-such-model",
    )
    _refused(httpx.post(search, json={"query": {"inputs": {"text": QUERY}}}), "top_k")
    _refused(
        httpx.post(search, json={"query": {"top_k": 2, "vector": {"values": ["values"]}}}), "query.vector"
    )

    with pytest.raises(ApiError) as unknown:
        pc.create_index_for_model(
            name="unknown-model",
            cloud="aws",
            region="us-east-1",
            embed={"model": "no-such-model", "field_map": {"text": FIELD}},
        )
    assert unknown.value.status_code == 400 and "embed.model" in str(unknown.value)
    assert not pc.has_index("unknown-model")


def test_configure_embed_on_existing_index(pc: Pinecone, base_url: str) -> None:
    dim = pc.inference.get_model(model=DENSE_MODEL).default_dimension
    pc.create_index(
        name="later", dimension=dim, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    pc.create_index(
        name="wrong-dim",
        dimension=dim + 1,
        metric="cosine",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
    )
    embed = {"embed": {"model": DENSE_MODEL, "field_map": {"text": FIELD}}}
    r = httpx.patch(f"{base_url}/indexes/wrong-dim", json=embed, headers=V2025)
    _refused(r, "dimension")
    assert "embed" not in httpx.get(f"{base_url}/indexes/wrong-dim", headers=V2025).json()

    r = httpx.patch(f"{base_url}/indexes/later", json=embed, headers=V2025)
    assert r.status_code == 200, r.text
    assert r.json()["embed"]["model"] == DENSE_MODEL
    index = pc.Index(name="later")
    index.upsert_records(namespace=NS, records=RECORDS[:3])
    res = index.search(namespace=NS, top_k=1, inputs={"text": text_of("rec2")})
    assert res.result.hits[0].id == "rec2"

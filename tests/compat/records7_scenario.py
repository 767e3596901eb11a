"""Integrated embedding with `pinecone==7.3.0` (API 2025-04), sync and asyncio, against `spruce serve`.

Run with the pinecone7 virtualenv's python (see test_records_sdk_v7.py):

    python records7_scenario.py CONTROL_URL

The seed flow of Pinecone's upsert guide verbatim (7.x takes upsert_records positionally), search by
text / vector / id with filter and rerank, configure_index(embed=...), and refusals. Exits 0 when every
check passes; each step prints one line.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from records_data import DENSE_MODEL, FIELD, HEALTH, QUERY, RECORDS, RERANK_MODEL, SPARSE_MODEL, text_of

NS = "example-namespace"


def step(name: str) -> None:
    print(f"ok: {name}", flush=True)


def hits(res: Any) -> list[Any]:
    return list(res.result.hits)


def sync_flow(url: str) -> None:
    from pinecone import Pinecone, ServerlessSpec
    from pinecone.exceptions import PineconeApiException

    pc = Pinecone(api_key="k", host=url)
    pc.create_index_for_model(
        name="seed7",
        cloud="aws",
        region="us-east-1",
        embed={"model": DENSE_MODEL, "field_map": {"text": FIELD}},
    )
    desc = pc.describe_index("seed7")
    assert desc.embed.model == DENSE_MODEL and desc.embed.field_map == {"text": FIELD}, desc.embed
    index = pc.Index(host=desc.host)
    index.upsert_records("example-namespace", RECORDS)
    step("create_index_for_model + upsert_records")

    res = index.search(
        namespace="example-namespace",
        query={"inputs": {"text": QUERY}, "top_k": 3},
        rerank={"model": RERANK_MODEL, "top_n": 2, "rank_fields": [FIELD]},
        fields=[FIELD, "category"],
    )
    found = hits(res)
    assert len(found) == 2, res
    assert found[0]["_id"] == found[0]._id and found[0]["fields"][FIELD] == text_of(found[0]._id)
    assert found[0]._score >= found[1]._score
    assert res.usage.rerank_units >= 1 and res.usage.embed_total_tokens > 0, res.usage
    plain = index.search(namespace=NS, query={"inputs": {"text": QUERY}, "top_k": 3})
    assert hits(plain)[0]._id in HEALTH, plain
    assert set(hits(plain)[0].fields) == {FIELD, "category"}  # 7.x asks for fields ["*"]
    from pinecone import RerankModel, SearchQuery, SearchRerank

    typed = index.search(
        namespace=NS,
        query=SearchQuery(inputs={"text": QUERY}, top_k=3),
        rerank=SearchRerank(model=RerankModel.Bge_Reranker_V2_M3, rank_fields=[FIELD], top_n=2),
    )
    assert [h._id for h in hits(typed)] == [h._id for h in found], (typed, res)
    step("search by text with rerank (dicts and the SDK's typed objects)")

    qv = pc.inference.embed(model=DENSE_MODEL, inputs=[QUERY], parameters={"input_type": "query"})[0].values
    by_vec = index.search(
        namespace=NS, query={"vector": {"values": qv}, "top_k": 5, "filter": {"category": {"$eq": "food"}}}
    )
    assert {h._id for h in hits(by_vec)} == {"rec4", "rec8"}, by_vec
    by_id = index.search_records(
        namespace=NS,
        query={"id": "rec2", "top_k": 3, "filter": {"category": "health"}},
        rerank={"model": RERANK_MODEL, "rank_fields": [FIELD], "query": QUERY},
    )
    assert {h._id for h in hits(by_id)} == HEALTH, by_id
    step("search by vector and id with filter")

    try:
        index.upsert_records(NS, [{"_id": "x", "text": "wrong field"}])
    except PineconeApiException as exc:
        assert exc.status == 400 and FIELD in str(exc.body), exc.body
    else:
        raise AssertionError("upsert_records without the text field did not raise")
    try:
        index.search(
            namespace=NS,
            query={"inputs": {"text": QUERY}, "top_k": 2},
            rerank={"model": RERANK_MODEL, "rank_fields": ["nope"]},
        )
    except PineconeApiException as exc:
        assert exc.status == 400 and "nope" in str(exc.body), exc.body
    else:
        raise AssertionError("rerank on a missing field did not raise")
    step("refusals")

    dim = desc.dimension
    pc.create_index(
        name="later7", dimension=dim, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    pc.configure_index("later7", embed={"model": DENSE_MODEL, "field_map": {"text": FIELD}})
    later = pc.describe_index("later7")
    assert later.embed.model == DENSE_MODEL, later
    pc.Index(host=later.host).upsert_records(NS, RECORDS[:2])
    step("configure_index(embed=...)")

    pc.create_index_for_model(
        name="sparse7",
        cloud="aws",
        region="us-east-1",
        embed={"model": SPARSE_MODEL, "field_map": {"text": FIELD}},
    )
    sparse = pc.Index(host=pc.describe_index("sparse7").host)
    sparse.upsert_records(NS, RECORDS)
    top = hits(sparse.search(namespace=NS, query={"inputs": {"text": "espresso coffee beans"}, "top_k": 1}))
    assert top[0]._id == "rec8", top
    step("sparse index")


async def async_flow(url: str) -> None:
    from pinecone import PineconeAsyncio

    async with PineconeAsyncio(api_key="k", host=url) as pc:
        await pc.create_index_for_model(
            name="aseed7",
            cloud="aws",
            region="us-east-1",
            embed={"model": DENSE_MODEL, "field_map": {"text": FIELD}},
        )
        desc = await pc.describe_index("aseed7")
        async with pc.IndexAsyncio(host=desc.host) as index:
            await index.upsert_records(NS, RECORDS)
            res = await index.search(
                namespace=NS,
                query={"inputs": {"text": QUERY}, "top_k": 3},
                rerank={"model": RERANK_MODEL, "top_n": 2, "rank_fields": [FIELD]},
            )
            assert len(hits(res)) == 2, res
    step("asyncio seed flow")


def main(url: str) -> None:
    sync_flow(url)
    asyncio.run(async_flow(url))
    print("records7 scenario passed", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])

"""`pc.inference` of pinecone==7.3.0 (API 2025-04), sync and asyncio; run by test_inference_sdk_v7.py.

    python inference7_scenario.py CONTROL_URL

Exits 0 when every check passes; a failure raises (non-zero exit, traceback on stderr).
"""

from __future__ import annotations

import asyncio
import sys

DOCS = ["Berlin is the capital of Germany.", "Paris is the capital of France.", "Croissants are pastries."]


def step(name: str) -> None:
    print(f"ok: {name}", flush=True)


def sync(url: str) -> None:
    from pinecone import Pinecone
    from pinecone.exceptions import NotFoundException, PineconeApiException

    pc = Pinecone(api_key="k", host=url)
    emb = pc.inference.embed(
        model="multilingual-e5-large", inputs=["hello", "world"], parameters={"input_type": "passage"}
    )
    assert emb.vector_type == "dense" and len(emb.data) == 2 and len(emb.data[0]["values"]) == 1024, emb
    assert emb.usage["total_tokens"] > 0
    step("embed dense")
    sparse = pc.inference.embed(model="pinecone-sparse-english-v0", inputs=["Paris is in France"])
    indices = sparse.data[0]["sparse_indices"]
    assert sparse.vector_type == "sparse" and indices == sorted(indices) and indices, sparse
    step("embed sparse")
    rr = pc.inference.rerank(
        model="bge-reranker-v2-m3", query="capital of France", documents=DOCS, top_n=2, return_documents=True
    )
    assert rr.data[0]["index"] == 1 and rr.data[0]["document"]["text"] == DOCS[1], rr
    assert len(rr.data) == 2 and rr.usage["rerank_units"] == 1
    step("rerank")
    models = pc.inference.list_models(type="rerank")
    names = [m["model"] for m in models.models]
    assert "cohere-rerank-3.5" in names and "multilingual-e5-large" not in names, names
    info = pc.inference.get_model(model_name="llama-text-embed-v2")
    assert info.default_dimension == 1024 and info.vector_type == "dense", info
    step("models")
    try:
        pc.inference.embed(model="no-such-model", inputs=["x"])
        raise AssertionError("unknown model accepted")
    except NotFoundException:
        pass
    try:
        pc.inference.embed(model="all-MiniLM-L6-v2", inputs=["x"] * 97)
        raise AssertionError("97 inputs accepted")
    except PineconeApiException as exc:
        assert exc.status == 400 and "at most 96" in str(exc.body), exc
    step("errors")


async def run_async(url: str) -> None:
    from pinecone import PineconeAsyncio

    async with PineconeAsyncio(api_key="k", host=url) as apc:
        emb = await apc.inference.embed(model="all-MiniLM-L6-v2", inputs=["a", "b"])
        assert len(emb.data) == 2 and len(emb.data[0]["values"]) == 384
        rr = await apc.inference.rerank(model="pinecone-rerank-v0", query="capital of France", documents=DOCS)
        assert rr.data[0]["index"] == 1
        models = await apc.inference.list_models(type="embed", vector_type="dense")
        assert "llama-text-embed-v2" in [m["model"] for m in models.models]
        info = await apc.inference.get_model(model_name="pinecone-sparse-english-v0")
        assert info.vector_type == "sparse"
    step("asyncio")


if __name__ == "__main__":
    sync(sys.argv[1])
    asyncio.run(run_async(sys.argv[1]))
    print("inference7 scenario passed", flush=True)

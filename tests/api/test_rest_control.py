"""Control plane over REST, in process: index CRUD per API version, errors, auth, health, metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from spruce.api.rest import StaticHosts, create_control_app, create_index_app
from spruce.config import ServerConfig
from spruce.service.catalog import Catalog

pytestmark = pytest.mark.anyio

V2026 = {"X-Pinecone-Api-Version": "2026-07"}
V2025 = {"X-Pinecone-Api-Version": "2025-04"}
LEGACY_CREATE = {
    "name": "dense-idx",
    "dimension": 8,
    "metric": "cosine",
    "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
    "deletion_protection": "disabled",
    "tags": {"env": "dev"},
}
CURRENT_CREATE = {
    "schema": {"fields": {"_values": {"type": "dense_vector", "dimension": 8, "metric": "cosine"}}},
    "name": "dense-idx",
    "deployment": {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"},
    "deletion_protection": "disabled",
    "tags": {"env": "dev"},
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(None)


def _client(app: object, base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base)  # type: ignore[arg-type]


@pytest.fixture
async def control(catalog: Catalog) -> AsyncIterator[httpx.AsyncClient]:
    app = create_control_app(catalog, ServerConfig(), hosts=StaticHosts("http://127.0.0.1:{name}"))
    async with _client(app, "http://control.test") as client:
        yield client


async def test_create_legacy_body_returns_current_model(control: httpx.AsyncClient) -> None:
    r = await control.post("/indexes", json=LEGACY_CREATE, headers=V2026)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "dense-idx"
    assert body["status"] == {"ready": True, "state": "Ready"}
    assert body["schema"] == {
        "fields": {"_values": {"type": "dense_vector", "dimension": 8, "metric": "cosine"}}
    }
    assert body["deployment"] == {"deployment_type": "managed", "cloud": "aws", "region": "us-east-1"}
    assert body["deletion_protection"] == "disabled"
    assert body["tags"] == {"env": "dev"}
    assert body["host"] == "http://127.0.0.1:dense-idx"


async def test_create_current_body_returns_classic_model_for_2025(control: httpx.AsyncClient) -> None:
    r = await control.post("/indexes", json=CURRENT_CREATE, headers=V2025)
    assert r.status_code == 201, r.text
    body = r.json()
    for key in ("name", "metric", "host", "spec", "status", "vector_type", "dimension"):
        assert key in body
    assert body["spec"] == {"serverless": {"cloud": "aws", "region": "us-east-1"}}
    assert body["dimension"] == 8 and body["metric"] == "cosine" and body["vector_type"] == "dense"
    assert "schema" not in body


async def test_header_is_case_insensitive_and_unknown_version_gets_newest(control: httpx.AsyncClient) -> None:
    await control.post("/indexes", json=LEGACY_CREATE)
    r = await control.get("/indexes/dense-idx", headers={"x-pinecone-api-version": "2025-10"})
    assert "spec" in r.json()
    r = await control.get("/indexes/dense-idx", headers={"X-Pinecone-API-Version": "1999-01"})
    assert "schema" in r.json()
    r = await control.get("/indexes/dense-idx")
    assert "schema" in r.json()


async def test_sparse_index(control: httpx.AsyncClient) -> None:
    body = {"schema": {"fields": {"_sparse_values": {"type": "sparse_vector"}}}, "name": "sp"}
    r = await control.post("/indexes", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["schema"]["fields"] == {"_sparse_values": {"type": "sparse_vector"}}
    r = await control.get("/indexes/sp", headers=V2025)
    assert r.json()["vector_type"] == "sparse" and r.json()["metric"] == "dotproduct"
    assert "dimension" not in r.json()


async def test_list_describe_delete(control: httpx.AsyncClient) -> None:
    await control.post("/indexes", json=LEGACY_CREATE)
    r = await control.get("/indexes")
    assert [i["name"] for i in r.json()["indexes"]] == ["dense-idx"]
    r = await control.delete("/indexes/dense-idx")
    assert r.status_code == 202
    r = await control.get("/indexes/dense-idx")
    assert r.status_code == 404
    assert r.json() == {
        "error": {"code": "NOT_FOUND", "message": "index 'dense-idx' not found"},
        "status": 404,
    }
    assert (await control.get("/indexes")).json() == {"indexes": []}


async def test_duplicate_is_conflict(control: httpx.AsyncClient) -> None:
    assert (await control.post("/indexes", json=LEGACY_CREATE)).status_code == 201
    r = await control.post("/indexes", json=LEGACY_CREATE)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "ALREADY_EXISTS"


async def test_configure_merges_tags_and_protects(control: httpx.AsyncClient) -> None:
    await control.post("/indexes", json={**LEGACY_CREATE, "tags": {"env": "dev", "team": "a"}})
    r = await control.patch(
        "/indexes/dense-idx", json={"deletion_protection": "enabled", "tags": {"env": "prod", "team": ""}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == {"env": "prod"}
    assert r.json()["deletion_protection"] == "enabled"
    r = await control.delete("/indexes/dense-idx")
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "PERMISSION_DENIED"
    assert "deletion protection" in r.json()["error"]["message"]
    await control.patch("/indexes/dense-idx", json={"deletion_protection": "disabled"})
    assert (await control.delete("/indexes/dense-idx")).status_code == 202


async def test_configure_unsupported_key(control: httpx.AsyncClient) -> None:
    await control.post("/indexes", json=LEGACY_CREATE)
    r = await control.patch("/indexes/dense-idx", json={"deployment": {"replicas": 2}})
    assert r.status_code == 400
    assert "deployment" in r.json()["error"]["message"]


async def test_create_for_model(control: httpx.AsyncClient) -> None:
    body = {
        "name": "int-idx",
        "cloud": "aws",
        "region": "us-east-1",
        "embed": {"model": "llama-text-embed-v2", "field_map": {"text": "chunk_text"}, "metric": "cosine"},
        "deletion_protection": "disabled",
    }
    r = await control.post("/indexes/create-for-model", json=body)
    assert r.status_code == 201, r.text
    field = r.json()["schema"]["fields"]["chunk_text"]
    assert field["type"] == "semantic_text" and field["model"] == "llama-text-embed-v2"
    r = await control.get("/indexes/int-idx", headers=V2025)
    embed = r.json()["embed"]
    assert embed["model"] == "llama-text-embed-v2" and embed["field_map"] == {"text": "chunk_text"}
    assert r.json()["dimension"] == 1024


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"name": "x", "metric": "cosine"}, "dimension"),
        ({"name": "x", "dimension": "8"}, "dimension"),
        ({"name": "x", "dimension": 8, "metric": "manhattan"}, "metric"),
        ({"dimension": 8}, "name"),
        ({"name": "x", "dimension": 8, "spec": {"pod": {}}}, "serverless"),
        ({"name": "x", "dimension": 8, "deletion_protection": "maybe"}, "deletion_protection"),
        ({"name": "x", "dimension": 8, "tags": {"a": 1}}, "tags"),
        ({"name": "x", "schema": {"fields": {}}}, "schema.fields"),
    ],
)
async def test_create_rejects(control: httpx.AsyncClient, body: dict[str, object], needle: str) -> None:
    r = await control.post("/indexes", json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "INVALID_ARGUMENT"
    assert needle in r.json()["error"]["message"]


async def test_malformed_json_and_unknown_route(control: httpx.AsyncClient) -> None:
    r = await control.post("/indexes", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["error"]["message"]
    r = await control.post("/indexes", content=b"[1,2]")
    assert r.status_code == 400
    r = await control.get("/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = await control.put("/indexes")
    assert r.status_code == 405 and r.json()["status"] == 405


async def test_data_plane_on_control_port_points_to_index_host(control: httpx.AsyncClient) -> None:
    r = await control.post("/vectors/upsert", json={"vectors": []})
    assert r.status_code == 404
    assert "index's host" in r.json()["error"]["message"]


async def test_body_limit(catalog: Catalog) -> None:
    app = create_control_app(catalog, ServerConfig(max_body_bytes=100))
    async with _client(app, "http://control.test") as client:
        r = await client.post("/indexes", json={"name": "x" * 200, "dimension": 3})
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "OUT_OF_RANGE"

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b" " * 50

        # No Content-Length: the streamed size is counted.
        r = await client.post("/indexes", content=chunks())
        assert r.status_code == 413


async def test_auth(catalog: Catalog) -> None:
    app = create_control_app(catalog, ServerConfig(api_keys=("secret", "other")))
    async with _client(app, "http://control.test") as client:
        r = await client.get("/indexes")
        assert r.status_code == 401
        assert r.json()["error"]["code"] == "UNAUTHENTICATED"
        assert r.headers["x-request-id"]
        assert (await client.get("/indexes", headers={"Api-Key": "wrong"})).status_code == 401
        assert (await client.get("/indexes", headers={"Api-Key": "other"})).status_code == 200
        assert (await client.get("/health")).status_code == 200


async def test_request_id_health_openapi_metrics(catalog: Catalog, control: httpx.AsyncClient) -> None:
    r = await control.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert len(r.headers["x-request-id"]) == 32
    r = await control.get("/health", headers={"x-request-id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    doc = (await control.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) >= {"/indexes", "/indexes/{name}", "/indexes/create-for-model"}
    await control.post("/indexes", json=LEGACY_CREATE)
    catalog.index("dense-idx")
    text = (await control.get("/metrics")).text
    assert 'spruce_requests_total{operation="create_index",status="201"} 1.0' in text
    assert 'spruce_index_records{index="dense-idx"} 0.0' in text
    assert "spruce_request_seconds_bucket" in text


async def test_index_app_serves_control_plane_and_openapi(catalog: Catalog) -> None:
    catalog.create_index("a", dimension=3)
    app = create_index_app(catalog, "a", ServerConfig())
    async with _client(app, "http://a.test") as client:
        assert (await client.get("/indexes/a")).status_code == 200
        doc = (await client.get("/openapi.json")).json()
        assert "/vectors/upsert" in doc["paths"] and "/indexes" in doc["paths"]

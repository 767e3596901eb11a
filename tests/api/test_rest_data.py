"""Data plane over REST, in process: every vector and namespace route with the SDK's exact JSON."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from spruce.api.rest import create_index_app
from spruce.config import EngineConfig, ServerConfig
from spruce.service.catalog import Catalog

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def catalog() -> Catalog:
    c = Catalog(None)
    c.create_index("idx", dimension=4, metric="cosine")
    c.create_index("sp", dimension=None, metric="dotproduct", vector_type="sparse")
    return c


def _client(catalog: Catalog, name: str) -> httpx.AsyncClient:
    app = create_index_app(catalog, name, ServerConfig())
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}.test")


@pytest.fixture
async def idx(catalog: Catalog) -> AsyncIterator[httpx.AsyncClient]:
    async with _client(catalog, "idx") as client:
        yield client


VECTORS = [
    {"id": "v1", "values": [1.0, 0.0, 0.0, 0.0], "metadata": {"genre": "drama", "year": 2020}},
    {"id": "v2", "values": [0.0, 1.0, 0.0, 0.0], "metadata": {"genre": "comedy", "year": 2021}},
    {"id": "v3", "values": [0.9, 0.1, 0.0, 0.0], "metadata": {"genre": "drama", "year": 2022}},
    {
        "id": "doc1#a",
        "values": [0.0, 0.0, 1.0, 0.0],
        "sparseValues": {"indices": [5, 1], "values": [0.25, 0.5]},
    },
]


async def _seed(idx: httpx.AsyncClient, namespace: str | None = "ns1") -> None:
    body: dict[str, object] = {"vectors": VECTORS}
    if namespace is not None:
        body["namespace"] = namespace
    r = await idx.post("/vectors/upsert", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"upsertedCount": 4}


async def test_upsert_query(idx: httpx.AsyncClient) -> None:
    await _seed(idx)
    r = await idx.post(
        "/query",
        json={
            "topK": 2,
            "includeValues": True,
            "includeMetadata": True,
            "namespace": "ns1",
            "vector": [1, 0, 0, 0],
            "filter": {"genre": {"$eq": "drama"}},
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert [m["id"] for m in body["matches"]] == ["v1", "v3"]
    assert body["matches"][0]["values"] == [1.0, 0.0, 0.0, 0.0]
    assert body["matches"][0]["metadata"] == {"genre": "drama", "year": 2020}
    assert body["matches"][0]["score"] == pytest.approx(1.0)
    assert body["namespace"] == "ns1"
    assert body["usage"]["readUnits"] >= 1
    r = await idx.post(
        "/query",
        json={"topK": 2, "includeValues": False, "includeMetadata": False, "id": "v1", "namespace": "ns1"},
    )
    assert [m["id"] for m in r.json()["matches"]] == ["v1", "v3"]
    assert "values" not in r.json()["matches"][0] and "metadata" not in r.json()["matches"][0]


async def test_default_namespace_aliases(idx: httpx.AsyncClient) -> None:
    await _seed(idx, namespace=None)
    r = await idx.get("/vectors/fetch", params={"ids": "v1", "namespace": "__default__"})
    assert list(r.json()["vectors"]) == ["v1"]
    r = await idx.post("/describe_index_stats", json={})
    assert r.json()["namespaces"] == {"": {"vectorCount": 4}}
    r = await idx.get("/namespaces")
    assert r.json()["namespaces"][0]["name"] == "__default__"
    r = await idx.get("/namespaces/__default__")
    assert r.json()["record_count"] == 4


async def test_fetch(idx: httpx.AsyncClient) -> None:
    await _seed(idx)
    r = await idx.get("/vectors/fetch?ids=v1&ids=doc1%23a&ids=missing&namespace=ns1")
    assert r.status_code == 200, r.text
    vectors = r.json()["vectors"]
    assert set(vectors) == {"v1", "doc1#a"}
    assert vectors["v1"] == {
        "id": "v1",
        "values": [1.0, 0.0, 0.0, 0.0],
        "metadata": {"genre": "drama", "year": 2020},
    }
    assert vectors["doc1#a"]["sparseValues"] == {"indices": [1, 5], "values": [0.5, 0.25]}
    assert r.json()["namespace"] == "ns1"
    r = await idx.get("/vectors/fetch?namespace=ns1")
    assert r.status_code == 400 and "ids" in r.json()["error"]["message"]


async def test_fetch_by_metadata_pagination(idx: httpx.AsyncClient) -> None:
    await _seed(idx)
    body = {"filter": {"genre": {"$eq": "drama"}}, "namespace": "ns1", "limit": 1}
    r = await idx.post("/vectors/fetch_by_metadata", json=body)
    assert r.status_code == 200, r.text
    first = r.json()
    assert len(first["vectors"]) == 1 and first["pagination"]["next"]
    r = await idx.post(
        "/vectors/fetch_by_metadata", json={**body, "paginationToken": first["pagination"]["next"]}
    )
    second = r.json()
    assert set(first["vectors"]) | set(second["vectors"]) == {"v1", "v3"}


async def test_update_by_id_and_filter(idx: httpx.AsyncClient) -> None:
    await _seed(idx)
    r = await idx.post(
        "/vectors/update",
        json={"namespace": "ns1", "id": "v1", "values": [0, 0, 0, 1], "setMetadata": {"genre": "comedy"}},
    )
    assert r.status_code == 200, r.text
    r = await idx.get("/vectors/fetch?ids=v1&namespace=ns1")
    v1 = r.json()["vectors"]["v1"]
    assert v1["values"] == [0.0, 0.0, 0.0, 1.0] and v1["metadata"]["genre"] == "comedy"
    upd = {
        "namespace": "ns1",
        "setMetadata": {"x": 1},
        "filter": {"genre": {"$eq": "comedy"}},
        "dryRun": True,
    }
    r = await idx.post("/vectors/update", json=upd)
    assert r.json() == {"matchedRecords": 2}
    r = await idx.post("/vectors/update", json={**upd, "dryRun": False})
    assert r.json()["matchedRecords"] == 2
    r = await idx.get("/vectors/fetch?ids=v2&namespace=ns1")
    assert r.json()["vectors"]["v2"]["metadata"]["x"] == 1


async def test_delete_forms(idx: httpx.AsyncClient) -> None:
    await _seed(idx)
    r = await idx.post("/vectors/delete", json={"namespace": "ns1", "ids": ["v1"]})
    assert r.status_code == 200 and r.json() == {}
    r = await idx.post("/vectors/delete", json={"namespace": "ns1", "filter": {"genre": "drama"}})
    assert r.status_code == 200
    r = await idx.post("/describe_index_stats", json={})
    assert r.json()["namespaces"]["ns1"]["vectorCount"] == 2
    r = await idx.post("/vectors/delete", json={"namespace": "ns1", "deleteAll": True})
    r = await idx.post("/describe_index_stats", json={})
    assert r.json()["totalVectorCount"] == 0


async def test_list_pagination(idx: httpx.AsyncClient) -> None:
    vectors = [{"id": f"doc{i:02d}#c", "values": [1, i, 0, 0]} for i in range(25)]
    await idx.post("/vectors/upsert", json={"vectors": vectors, "namespace": ""})
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"namespace": "", "prefix": "doc", "limit": "10"}
        if token:
            params["paginationToken"] = token
        r = await idx.get("/vectors/list", params=params)
        assert r.status_code == 200, r.text
        seen += [v["id"] for v in r.json()["vectors"]]
        pages += 1
        token = (r.json().get("pagination") or {}).get("next")
        if not token:
            break
    assert seen == sorted(v["id"] for v in vectors)
    assert pages == 3
    r = await idx.get("/vectors/list", params={"namespace": "", "limit": "101"})
    assert r.status_code == 400 and "limit" in r.json()["error"]["message"]


async def test_stats(idx: httpx.AsyncClient) -> None:
    await _seed(idx)
    r = await idx.post("/describe_index_stats", json={})
    assert r.json() == {
        "namespaces": {"ns1": {"vectorCount": 4}},
        "dimension": 4,
        "indexFullness": 0.0,
        "totalVectorCount": 4,
        "metric": "cosine",
        "vectorType": "dense",
    }
    assert (await idx.get("/describe_index_stats")).status_code == 200


async def test_namespaces(idx: httpx.AsyncClient) -> None:
    r = await idx.post(
        "/namespaces", json={"name": "ns2", "schema": {"fields": {"genre": {"filterable": True}}}}
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "ns2" and r.json()["record_count"] == 0
    assert r.json()["schema"] == {"fields": {"genre": {"filterable": True}}}
    await _seed(idx)
    r = await idx.get("/namespaces", params={"limit": "1"})
    body = r.json()
    assert body["total_count"] == 2 and len(body["namespaces"]) == 1 and body["pagination"]["next"]
    r = await idx.get("/namespaces", params={"limit": "1", "paginationToken": body["pagination"]["next"]})
    assert len(r.json()["namespaces"]) == 1 and "pagination" not in r.json()
    r = await idx.get("/namespaces/ns1", headers={"X-Pinecone-Api-Version": "2025-04"})
    assert r.json() == {"name": "ns1", "record_count": 4}
    assert (await idx.delete("/namespaces/ns1")).status_code == 202
    r = await idx.get("/namespaces/ns1")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = await idx.post("/namespaces", json={"name": "__default__"})
    assert r.status_code == 400


async def test_sparse_index(catalog: Catalog) -> None:
    async with _client(catalog, "sp") as sp:
        r = await sp.post(
            "/vectors/upsert",
            json={
                "vectors": [{"id": "s1", "values": [], "sparseValues": {"indices": [1, 9], "values": [1, 2]}}]
            },
        )
        assert r.status_code == 200, r.text
        r = await sp.post(
            "/query",
            json={
                "topK": 1,
                "includeValues": True,
                "includeMetadata": False,
                "sparseVector": {"indices": [9], "values": [1.0]},
            },
        )
        assert r.json()["matches"][0]["id"] == "s1"
        assert r.json()["matches"][0]["sparseValues"] == {"indices": [1, 9], "values": [1.0, 2.0]}
        r = await sp.post("/describe_index_stats", json={})
        assert "dimension" not in r.json() and r.json()["vectorType"] == "sparse"


async def test_deleted_index_data_plane_is_404(catalog: Catalog, idx: httpx.AsyncClient) -> None:
    catalog.delete_index("idx")
    r = await idx.post("/query", json={"topK": 1, "vector": [1, 0, 0, 0]})
    assert r.status_code == 404 and "idx" in r.json()["error"]["message"]


async def test_float32_roundtrip_is_short(idx: httpx.AsyncClient) -> None:
    await idx.post("/vectors/upsert", json={"vectors": [{"id": "a", "values": [0.1, 0.2, 0.3, 0.4]}]})
    r = await idx.get("/vectors/fetch?ids=a")
    assert b"[0.1,0.2,0.3,0.4]" in r.content


async def test_values_from_sealed_segments_serialize(tmp_path: Path) -> None:
    # Sealed segments hand out memmap slices, which orjson does not take as they are.
    catalog = Catalog(tmp_path, EngineConfig(memtable_max_rows=8, background=False))
    try:
        catalog.create_index("disk", dimension=4)
        async with _client(catalog, "disk") as client:
            vectors = [
                {"id": f"d{i}", "values": [i, 1, 0, 0], "sparseValues": {"indices": [i], "values": [1]}}
                for i in range(40)
            ]
            assert (await client.post("/vectors/upsert", json={"vectors": vectors})).status_code == 200
            catalog.index("disk").store.flush()
            r = await client.get("/vectors/fetch", params={"ids": ["d1", "d30"]})
            assert r.status_code == 200, r.text
            assert r.json()["vectors"]["d30"]["values"] == [30.0, 1.0, 0.0, 0.0]
            r = await client.post("/query", json={"topK": 3, "vector": [1, 1, 0, 0], "includeValues": True})
            assert r.status_code == 200, r.text
            assert len(r.json()["matches"][0]["values"]) == 4
    finally:
        catalog.close()

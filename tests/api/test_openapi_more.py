"""Every documented operation of both ports is exercised by a real request and its answer validated
against /openapi.json: inference with the real local models, records on an integrated index, imports
from a local Parquet file, backups and restore on an on-disk catalogue, and the Collection API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from spruce.api.rest import create_control_app, create_index_app
from spruce.config import ServerConfig
from spruce.service.catalog import Catalog
from tests.api.test_openapi import Checked, anyio_backend, vector_and_control_calls
from tests.imports.conftest import dense_table

pytestmark = pytest.mark.anyio
__all__ = ["anyio_backend"]

EMBED = "all-MiniLM-L6-v2"
RERANK = "bge-reranker-v2-m3"


@pytest.fixture
def disk_catalog(tmp_path: Path) -> Iterator[Catalog]:
    c = Catalog(tmp_path / "db")
    c.create_index("idx", dimension=4, metric="cosine")
    yield c
    c.close()


async def _checked(app: Any) -> AsyncIterator[Checked]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        doc = (await client.get("/openapi.json")).json()
        yield Checked(client, doc)


def _untested(c: Checked, exempt: set[tuple[str, str]]) -> set[tuple[str, str]]:
    out = set()
    for path, ops in c.doc["paths"].items():
        for method, op in ops.items():
            success = op["responses"][next(iter(op["responses"]))]
            content = success.get("content", {})
            if "application/json" in content:
                schema = content["application/json"]["schema"]
                assert schema != {"type": "object"}, f"{method} {path} publishes no response schema"
                out.add((path, method))
            elif not content:
                out.add((path, method))  # no body: still one real call must show it sends none
    return out - c.checked - exempt


async def inference_calls(c: Checked) -> None:
    ok = await c.call("post", "/embed", json={"model": EMBED, "inputs": ["hi", {"text": "there"}]})
    assert ok.status_code == 200 and len(ok.json()["data"]) == 2
    sparse = {"model": "splade-tiny", "inputs": ["hello"], "parameters": {"return_tokens": True}}
    assert (await c.call("post", "/embed", json=sparse)).json()["vector_type"] == "sparse"
    assert (await c.call("post", "/embed", json={"model": "nope", "inputs": ["x"]})).status_code == 404
    body = {"model": RERANK, "query": "capital", "documents": ["Paris", {"text": "Rome"}], "top_n": 1}
    assert len((await c.call("post", "/rerank", json=body)).json()["data"]) == 1
    body["return_documents"] = False
    assert "document" not in (await c.call("post", "/rerank", json=body)).json()["data"][0]
    assert (await c.call("post", "/rerank", json={"model": RERANK, "query": "q"})).status_code == 400
    models = (await c.call("get", "/models")).json()["models"]
    assert {m["type"] for m in models} == {"embed", "rerank"}
    assert (await c.call("get", "/models?type=bogus")).status_code == 400
    for name in (EMBED, RERANK, "llama-text-embed-v2"):
        assert (await c.call("get", f"/models/{name}")).json()["model"] == name
    assert (await c.call("get", "/models/nope")).status_code == 404


async def backup_calls(c: Checked, index: str) -> None:
    made = await c.call("post", f"/indexes/{index}/backups", json={"name": "b1", "description": "d"})
    assert made.status_code == 201
    backup_id = made.json()["backup_id"]
    assert (await c.call("post", "/indexes/missing/backups", json={})).status_code == 404
    assert [b["backup_id"] for b in (await c.call("get", f"/indexes/{index}/backups")).json()["data"]] == [
        backup_id
    ]
    assert (await c.call("get", "/backups?limit=1")).json()["data"][0]["backup_id"] == backup_id
    assert (await c.call("get", "/backups?limit=x")).status_code == 400
    assert (await c.call("get", f"/backups/{backup_id}")).json()["status"] == "Ready"
    restored = await c.call("post", f"/backups/{backup_id}/create-index", json={"name": f"{index}-r"})
    assert restored.status_code == 202
    job_id = restored.json()["restore_job_id"]
    assert (await c.call("post", f"/backups/{backup_id}/create-index", json={})).status_code == 400
    assert job_id in {j["restore_job_id"] for j in (await c.call("get", "/restore-jobs")).json()["data"]}
    assert (await c.call("get", f"/restore-jobs/{job_id}")).json()["status"] == "Completed"
    assert (await c.call("get", "/restore-jobs/nope")).status_code == 404
    assert (await c.call("delete", f"/backups/{backup_id}")).status_code == 202
    assert (await c.call("get", f"/backups/{backup_id}")).status_code == 404


async def test_every_index_port_operation(disk_catalog: Catalog, tmp_path: Path) -> None:
    src = tmp_path / "src" / "ns1"
    src.mkdir(parents=True)
    pq.write_table(dense_table("p", 5, 4, 1), src / "a.parquet")
    async for c in _checked(create_index_app(disk_catalog, "idx", ServerConfig())):
        await vector_and_control_calls(c)
        await inference_calls(c)
        started = await c.call("post", "/bulk/imports", json={"uri": f"file://{tmp_path / 'src'}"})
        job_id = started.json()["id"]
        assert disk_catalog.imports.wait("idx", job_id, 60).status == "Completed"
        assert (await c.call("post", "/bulk/imports", json={"uri": "file:///nonexistent"})).status_code == 400
        listed = (await c.call("get", "/bulk/imports?limit=1")).json()
        assert listed["data"][0]["recordsImported"] == 5
        assert (await c.call("get", f"/bulk/imports/{job_id}")).json()["status"] == "Completed"
        assert (await c.call("get", "/bulk/imports/999")).status_code == 404
        assert (await c.call("delete", f"/bulk/imports/{job_id}")).status_code == 200
        await backup_calls(c, "idx")
        body = {
            "name": "txt",
            "cloud": "aws",
            "region": "us-east-1",
            "embed": {"model": EMBED, "field_map": {"text": "t"}},
        }
        assert (await c.call("post", "/indexes/create-for-model", json=body)).status_code == 201
        untested = _untested(c, {("/openapi.json", "get")})
        records = {
            ("/records/namespaces/{namespace}/upsert", "post"),
            ("/records/namespaces/{namespace}/search", "post"),
        }
        assert untested == records, sorted(untested)
    # The records routes of the integrated index, on its own port.
    async for c in _checked(create_index_app(disk_catalog, "txt", ServerConfig())):
        lines = b'{"_id":"a","t":"hello world","n":1}\n{"_id":"b","t":"goodbye"}\n'
        ndjson = {"content-type": "application/x-ndjson"}
        up = await c.call("post", "/records/namespaces/ns/upsert", content=lines, headers=ndjson)
        assert up.status_code == 201
        bad = await c.call("post", "/records/namespaces/ns/upsert", content=b"[1]\n", headers=ndjson)
        assert bad.status_code == 400
        query = {"query": {"inputs": {"text": "hello"}, "top_k": 2}, "fields": ["t"]}
        assert (await c.call("post", "/records/namespaces/ns/search", json=query)).json()["result"]["hits"]
        query["rerank"] = {"model": RERANK, "rank_fields": ["t"], "top_n": 1}
        hits = (await c.call("post", "/records/namespaces/ns/search", json=query)).json()["result"]["hits"]
        assert [h["_id"] for h in hits] == ["a"]
        assert (await c.call("post", "/records/namespaces/ns/search", json={"query": {}})).status_code == 400
        assert not records - c.checked


async def test_every_control_port_operation(disk_catalog: Catalog) -> None:
    async for c in _checked(create_control_app(disk_catalog, ServerConfig())):
        assert (await c.call("get", "/indexes")).status_code == 200
        assert (await c.call("get", "/indexes/idx")).status_code == 200
        assert (await c.call("post", "/indexes", json={"name": "o", "dimension": 3})).status_code == 201
        assert (await c.call("patch", "/indexes/o", json={"tags": {"a": "b"}})).status_code == 200
        assert (await c.call("delete", "/indexes/o")).status_code == 202
        body = {
            "name": "t",
            "cloud": "aws",
            "region": "us-east-1",
            "embed": {"model": EMBED, "field_map": {"text": "t"}},
        }
        assert (await c.call("post", "/indexes/create-for-model", json=body)).status_code == 201
        for path in ("/actions/whoami", "/admin/status", "/health"):
            assert (await c.call("get", path)).is_success
        await inference_calls(c)
        await backup_calls(c, "idx")
        await collection_calls(c)
        text = {("/metrics", "get"), ("/openapi.json", "get")}
        untested = _untested(c, text)
        assert not {u for u in untested if not _text_only(c, u)}, sorted(untested)


def _text_only(c: Checked, op: tuple[str, str]) -> bool:
    """Console pages and assets (text/html, text/plain) are checked by tests/api/test_console_routes."""
    responses = c.doc["paths"][op[0]][op[1]]["responses"]
    content = responses[next(iter(responses))].get("content", {})
    return bool(content) and "application/json" not in content


async def collection_calls(c: Checked) -> None:
    base = "/spruce/collections"
    create = {"name": "c1", "dimension": 3, "metric": "l2", "metadata": None, "embedding_function": None}
    assert (await c.call("post", base, json={**create, "get_or_create": False})).status_code == 201
    assert (await c.call("post", base, json={"name": "c2"})).json()["dimension"] is None
    assert (await c.call("post", base, json={"name": "c1"})).status_code == 409
    assert {x["name"] for x in (await c.call("get", base)).json()["collections"]} == {"c1", "c2"}
    assert (await c.call("get", f"{base}/c1")).json()["metric"] == "l2"
    assert (await c.call("get", f"{base}/nope")).status_code == 404
    renamed = await c.call("patch", f"{base}/c2", json={"new_name": "c3", "metadata": {"a": 1}})
    assert renamed.json()["name"] == "c3"
    add = {"ids": ["a", "b"], "embeddings": [[1, 0, 0], [0, 1, 0]], "documents": ["hello x", "bye"]}
    assert (await c.call("post", f"{base}/c1/add", json={**add, "metadatas": [{"k": 1}, None]})).is_success
    assert (await c.call("post", f"{base}/c1/add", json=add)).status_code == 409
    up = {"ids": ["c"], "embeddings": [[0, 0, 1]]}
    assert (await c.call("post", f"{base}/c1/upsert", json=up)).json() == {"result": None}
    upd = {"ids": ["c"], "metadatas": [{"z": "q"}]}
    assert (await c.call("post", f"{base}/c1/update", json=upd)).json() == {"result": None}
    every = ["embeddings", "documents", "metadatas", "uris", "data"]
    got = (await c.call("post", f"{base}/c1/get", json={"include": every})).json()["result"]
    assert got["ids"] == ["a", "b", "c"] and got["uris"] == [None] * 3
    assert (await c.call("post", f"{base}/c1/get", json={"ids": ["b"]})).json()["result"][
        "embeddings"
    ] is None
    q = {"query_embeddings": [[1, 0, 0]], "n_results": 2, "include": ["embeddings", "documents", "distances"]}
    assert (await c.call("post", f"{base}/c1/query", json=q)).json()["result"]["ids"] == [["a", "b"]]
    assert (await c.call("post", f"{base}/c1/query", json={"query_embeddings": [[1, 0]]})).status_code == 400
    assert (await c.call("post", f"{base}/c1/count")).json() == {"result": 3}
    hybrid = {
        "query": {"where_document": {"$contains": "hello"}},
        "knn": {"query_embeddings": [1, 0, 0]},
        "rank": {"rrf": {}},
    }
    assert (await c.call("post", f"{base}/c1/hybrid_search", json=hybrid)).json()["result"]["ids"][0][
        0
    ] == "a"
    assert (await c.call("post", f"{base}/c1/delete", json={"ids": ["c"]})).json() == {"result": 1}
    assert (await c.call("delete", f"{base}/c3")).status_code == 204

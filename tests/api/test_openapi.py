"""/openapi.json: a valid OpenAPI 3 document that lists exactly the routes served, whose schemas the
real responses satisfy (so the document cannot drift from what the server sends)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate
from starlette.routing import Route

from spruce.api.rest import create_control_app, create_index_app
from spruce.api.rest.route_schemas import BY_OPERATION
from spruce.config import ServerConfig
from spruce.service.catalog import Catalog

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def catalog() -> Catalog:
    c = Catalog(None)
    c.create_index("idx", dimension=4, metric="cosine")
    return c


def _routes(app: Any) -> set[tuple[str, str]]:
    starlette = app.app  # inside SpruceMiddleware
    out = set()
    for r in starlette.routes:
        assert isinstance(r, Route)
        for m in r.methods or ():
            if m != "HEAD":
                out.add((r.path, m.lower()))
    return out


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(p, m) for p, ops in doc["paths"].items() for m in ops}


@pytest.mark.parametrize("which", ["control", "index"])
async def test_spec_is_valid_and_lists_every_route(catalog: Catalog, which: str) -> None:
    if which == "control":
        app = create_control_app(catalog, ServerConfig())
    else:
        app = create_index_app(catalog, "idx", ServerConfig())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        doc = (await client.get("/openapi.json")).json()
    validate(doc)
    assert _routes(app) == _documented(doc)
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op["summary"], (method, path)
            assert "400" in op["responses"] and "5XX" in op["responses"]
            known = BY_OPERATION.get(op["operationId"].removesuffix(f"_{method}"))
            if known is not None and method in ("post", "patch"):
                assert "requestBody" in op, (method, path)


def _nullable(schema: Any) -> Any:
    """OpenAPI 3.0's `nullable` as JSON Schema, for jsonschema."""
    if isinstance(schema, dict):
        out = {k: _nullable(v) for k, v in schema.items() if k != "nullable"}
        if schema.get("nullable") and "type" in schema:
            out["type"] = [schema["type"], "null"]
        return out
    if isinstance(schema, list):
        return [_nullable(v) for v in schema]
    return schema


class Checked:
    """An httpx client that validates every JSON answer against the document's schema for it."""

    def __init__(self, client: httpx.AsyncClient, doc: dict[str, Any]) -> None:
        self.client = client
        self.doc = doc
        self.checked: set[tuple[str, str]] = set()

    def _operation(self, method: str, path: str) -> tuple[str, dict[str, Any]]:
        for template, ops in self.doc["paths"].items():
            pattern = "^" + re.sub(r"{\w+}", "[^/]+", template) + "$"
            if re.match(pattern, path) and method in ops:
                return template, ops[method]
        raise AssertionError(f"{method} {path} is not documented")

    async def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method.upper(), url, **kwargs)
        template, op = self._operation(method, url.split("?")[0])
        status = str(response.status_code)
        spec = op["responses"].get(status) or op["responses"].get(f"{status[0]}XX")
        assert spec is not None, f"{method} {url}: status {status} is not documented"
        content = spec.get("content", {}).get("application/json")
        if not spec.get("content"):
            assert response.content == b"", f"{method} {url}: documented without a body, sent one"
        if content is not None:
            schema = content["schema"]
            if "$ref" in schema:
                schema = self.doc["components"]["schemas"][schema["$ref"].split("/")[-1]]
            jsonschema.validate(response.json(), _nullable(schema))
        self.checked.add((template, method))
        return response


@pytest.fixture
async def checked(catalog: Catalog) -> AsyncIterator[Checked]:
    app = create_index_app(catalog, "idx", ServerConfig())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://idx") as client:
        doc = (await client.get("/openapi.json")).json()
        yield Checked(client, doc)


async def test_real_responses_match_the_documented_schemas(checked: Checked) -> None:
    await vector_and_control_calls(checked)
    assert ("/vectors/upsert", "post") in checked.checked


async def vector_and_control_calls(c: Checked) -> None:
    for version in ("2025-10", "2026-07"):
        h = {"X-Pinecone-API-Version": version}
        assert (await c.call("get", "/indexes", headers=h)).status_code == 200
        assert (await c.call("get", "/indexes/idx", headers=h)).status_code == 200
    body = {"name": "other", "dimension": 3, "metric": "dotproduct"}
    assert (await c.call("post", "/indexes", json=body)).status_code == 201
    assert (await c.call("post", "/indexes", json=body)).status_code == 409
    patch = {"tags": {"team": "a"}, "deletion_protection": "disabled"}
    assert (await c.call("patch", "/indexes/other", json=patch)).status_code == 200
    assert (await c.call("delete", "/indexes/other")).status_code == 202
    vectors = [
        {"id": "a", "values": [1, 0, 0, 0], "metadata": {"g": "x", "tags": ["p", "q"], "n": 2}},
        {"id": "b", "values": [0, 1, 0, 0], "sparseValues": {"indices": [3], "values": [0.5]}},
        {"id": "c", "values": [0, 0, 1, 0]},
    ]
    assert (await c.call("post", "/vectors/upsert", json={"vectors": vectors, "namespace": "n"})).is_success
    assert (await c.call("post", "/vectors/upsert", json={"vectors": [{"id": "x"}]})).status_code == 400
    q = {"topK": 2, "vector": [1, 0, 0, 0], "namespace": "n", "includeMetadata": True, "includeValues": True}
    assert (await c.call("post", "/query", json=q)).is_success
    assert (await c.call("get", "/vectors/fetch?ids=a&ids=b&namespace=n")).is_success
    fbm = {"filter": {"g": "x"}, "namespace": "n", "limit": 1}
    assert (await c.call("post", "/vectors/fetch_by_metadata", json=fbm)).is_success
    upd = {"id": "a", "setMetadata": {"g": "y"}, "namespace": "n"}
    assert (await c.call("post", "/vectors/update", json=upd)).is_success
    assert (await c.call("get", "/vectors/list?namespace=n&limit=1")).is_success
    assert (await c.call("post", "/describe_index_stats", json={})).is_success
    assert (await c.call("get", "/describe_index_stats")).is_success
    assert (await c.call("post", "/namespaces", json={"name": "made"})).status_code == 201
    assert (await c.call("get", "/namespaces")).is_success
    assert (await c.call("get", "/namespaces/made")).is_success
    assert (await c.call("delete", "/namespaces/made")).status_code == 202
    assert (await c.call("get", "/namespaces/missing")).status_code == 404
    assert (await c.call("post", "/vectors/delete", json={"ids": ["c"], "namespace": "n"})).is_success
    assert (await c.call("delete", "/vectors/delete?ids=b&namespace=n")).is_success
    assert (await c.call("get", "/actions/whoami")).is_success
    assert (await c.call("get", "/admin/status")).is_success
    assert (await c.call("get", "/health")).is_success


async def test_schema_limits_are_the_enforced_ones(checked: Checked) -> None:
    from spruce.service import validation as v

    query = checked.doc["paths"]["/query"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert query["properties"]["topK"]["maximum"] == v.MAX_TOP_K
    answer = await checked.call("post", "/query", json={"topK": v.MAX_TOP_K + 1, "vector": [1, 0, 0, 0]})
    assert answer.status_code == 400 and "topK" in answer.json()["error"]["message"]
    upsert = checked.doc["paths"]["/vectors/upsert"]["post"]["requestBody"]["content"]["application/json"]
    assert upsert["schema"]["properties"]["vectors"]["maxItems"] == v.MAX_UPSERT_BATCH

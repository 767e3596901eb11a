"""A barrage of malformed requests: each gets a clear 4xx in Pinecone's error shape, and none changes data."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from spruce.api.rest import create_index_app
from spruce.config import ServerConfig
from spruce.service.catalog import Catalog

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Raw:
    """A body sent as these exact bytes with this Content-Type (None: no Content-Type header)."""

    body: bytes
    content_type: str | None = "application/json"


V = '{"id": "a", "values": [1, 0, 0]}'

OK = [{"id": "a", "values": [1, 0, 0], "metadata": {"g": "x"}}, {"id": "b", "values": [0, 1, 0]}]

# (method, path, json body or raw bytes, expected status, a word the message must contain)
BAD: list[tuple[str, str, object, int, str]] = [
    ("POST", "/vectors/upsert", b"{", 400, "JSON"),
    ("POST", "/vectors/upsert", b"\xff\xfe", 400, "JSON"),
    ("POST", "/vectors/upsert", [], 400, "object"),
    ("POST", "/vectors/upsert", {}, 400, "vectors"),
    ("POST", "/vectors/upsert", {"vectors": "a"}, 400, "vectors"),
    ("POST", "/vectors/upsert", {"vectors": [{"values": [1, 2, 3]}]}, 400, "vectors[0].id"),
    ("POST", "/vectors/upsert", {"vectors": [{"id": "a", "values": [1, 2]}]}, 400, "dimension"),
    ("POST", "/vectors/upsert", {"vectors": [{"id": "a", "values": ["1", 2, 3]}]}, 400, "values"),
    ("POST", "/vectors/upsert", {"vectors": [{"id": "a", "values": [True, 2, 3]}]}, 400, "values"),
    ("POST", "/vectors/upsert", {"vectors": [{"id": "a", "values": [[1], [2], [3]]}]}, 400, "values"),
    ("POST", "/vectors/upsert", {"vectors": [{"id": "a", "values": [1e39, 2, 3]}]}, 400, "finite"),
    ("POST", "/vectors/upsert", {"vectors": [{"id": "a", "values": []}]}, 400, "values or sparseValues"),
    (
        "POST",
        "/vectors/upsert",
        {"vectors": [{"id": "a", "values": [1, 2, 3], "metadata": [1]}]},
        400,
        "metadata",
    ),
    (
        "POST",
        "/vectors/upsert",
        {"vectors": [{"id": "a", "values": [1, 2, 3], "metadata": {"n": {"x": 1}}}]},
        400,
        "metadata",
    ),
    (
        "POST",
        "/vectors/upsert",
        {
            "vectors": [
                {"id": "a", "values": [1, 2, 3], "sparseValues": {"indices": [1, 1], "values": [1, 2]}}
            ]
        },
        400,
        "indices",
    ),
    (
        "POST",
        "/vectors/upsert",
        {"vectors": [{"id": "a", "values": [1, 2, 3], "sparseValues": {"indices": [-1], "values": [1]}}]},
        400,
        "indices",
    ),
    (
        "POST",
        "/vectors/upsert",
        {"vectors": [{"id": "a", "values": [1, 2, 3], "sparseValues": {"indices": [1], "values": [1, 2]}}]},
        400,
        "same length",
    ),
    (
        "POST",
        "/vectors/upsert",
        {"vectors": [{"id": f"x{i}", "values": [1, 0, 0]} for i in range(1001)]},
        400,
        "1000",
    ),
    (
        "POST",
        "/vectors/upsert",
        {"vectors": [{"id": "a", "values": [1, 2, 3]}], "namespace": 5},
        400,
        "namespace",
    ),
    ("POST", "/query", {"vector": [1, 0, 0]}, 400, "topK"),
    ("POST", "/query", {"topK": 0, "vector": [1, 0, 0]}, 400, "topK"),
    ("POST", "/query", {"topK": 10001, "vector": [1, 0, 0]}, 400, "topK"),
    ("POST", "/query", {"topK": "3", "vector": [1, 0, 0]}, 400, "topK"),
    ("POST", "/query", {"topK": 3}, 400, "vector"),
    ("POST", "/query", {"topK": 3, "vector": [1, 0]}, 400, "dimension"),
    ("POST", "/query", {"topK": 3, "vector": [1, 0, 0], "id": "a"}, 400, "id"),
    ("POST", "/query", {"topK": 3, "vector": [1, 0, 0], "filter": "x"}, 400, "filter"),
    ("POST", "/query", {"topK": 3, "vector": [1, 0, 0], "filter": {"g": {"$regex": "x"}}}, 400, "$regex"),
    ("POST", "/query", {"topK": 3, "vector": [1, 0, 0], "includeValues": "yes"}, 400, "includeValues"),
    ("POST", "/vectors/update", {"values": [1, 0, 0]}, 400, "id or filter"),
    ("POST", "/vectors/update", {"id": "a", "filter": {"g": "x"}}, 400, "id or filter"),
    ("POST", "/vectors/update", {"filter": {"g": "x"}, "values": [1, 0, 0]}, 400, "filter"),
    ("POST", "/vectors/update", {"id": "a", "values": [1, 0]}, 400, "dimension"),
    ("POST", "/vectors/delete", {}, 400, "exactly one"),
    ("POST", "/vectors/delete", {"ids": ["a"], "deleteAll": True}, 400, "exactly one"),
    ("POST", "/vectors/delete", {"filter": {}}, 400, "filter"),
    ("POST", "/vectors/delete", {"ids": "a"}, 400, "ids"),
    ("POST", "/vectors/delete", {"ids": [1]}, 400, "ids"),
    ("GET", "/vectors/list?limit=abc", None, 400, "limit"),
    ("GET", "/vectors/list?limit=0", None, 400, "limit"),
    ("GET", "/vectors/fetch", None, 400, "ids"),
    ("POST", "/vectors/fetch_by_metadata", {"limit": 0}, 400, "limit"),
    ("POST", "/describe_index_stats", {"filter": 3}, 400, "filter"),
    ("POST", "/namespaces", {}, 400, "name"),
    (
        "POST",
        "/namespaces",
        {"name": "n", "schema": {"fields": {"g": {"filterable": "yes"}}}},
        400,
        "filterable",
    ),
    ("GET", "/namespaces/nope", None, 404, "nope"),
    ("DELETE", "/namespaces/nope", None, 404, "nope"),
    ("POST", "/vectors/nope", {}, 404, "no route"),
    ("GET", "/vectors/upsert", None, 405, "not allowed"),
    # strict input: empty batches, booleans, control characters, repeated keys, content types
    ("POST", "/vectors/upsert", {"vectors": []}, 400, "at least one vector"),
    ("POST", "/vectors/upsert", {"vectors": [{"id": "a", "values": [1.5, True, 0]}]}, 400, "booleans"),
    ("POST", "/vectors/upsert", {"vectors": [{"id": "a", "values": [0.5, 0.25, False]}]}, 400, "booleans"),
    (
        "POST",
        "/vectors/upsert",
        {"vectors": [{"id": "a", "values": [1, 2, 3], "sparseValues": {"indices": [1], "values": [True]}}]},
        400,
        "sparseValues.values",
    ),
    (
        "POST",
        "/vectors/upsert",
        {
            "vectors": [
                {"id": "a", "values": [1, 2, 3], "sparseValues": {"indices": [True, 2], "values": [1, 2]}}
            ]
        },
        400,
        "sparseValues.indices",
    ),
    (
        "POST",
        "/vectors/upsert",
        Raw(b'{"vectors": [{"id": "a", "values": [1, 0, 0], "x\\u0000": 1}]}'),
        400,
        "U+0000",
    ),
    (
        "POST",
        "/vectors/upsert",
        Raw(b'{"vectors": [{"id\\u0000": "a", "values": [1, 0, 0]}]}'),
        400,
        "U+0000",
    ),
    (
        "POST",
        "/vectors/upsert",
        {"vectors": [{"id": "a\x00", "values": [1, 0, 0]}]},
        400,
        "control character",
    ),
    ("POST", "/vectors/upsert", {"vectors": [{"id": "a\nb", "values": [1, 0, 0]}]}, 400, "U+000A"),
    (
        "POST",
        "/vectors/upsert",
        {"vectors": [{"id": "c", "values": [1, 0, 0], "metadata": {"g\x00": "x"}}]},
        400,
        "control character",
    ),
    (
        "POST",
        "/vectors/upsert",
        {"vectors": [{"id": "c", "values": [1, 0, 0]}], "namespace": "n\x00"},
        400,
        "namespace",
    ),
    (
        "POST",
        "/vectors/upsert",
        Raw(f'{{"vectors": [{V}], "namespace": "x", "namespace": "y"}}'.encode()),
        400,
        "'namespace' appears more than once",
    ),
    (
        "POST",
        "/vectors/upsert",
        Raw(b'{"vectors": [{"id": "c", "values": [1, 0, 0], "metadata": {"g": "x", "g": "y"}}]}'),
        400,
        "vectors[0].metadata",
    ),
    (
        "POST",
        "/query",
        Raw(b'{"topK": 1, "topK": 2, "vector": [1, 0, 0]}'),
        400,
        "'topK' appears more than once",
    ),
    (
        "POST",
        "/query",
        Raw(b'{"topK": 1, "vector": [1, 0, 0], "filter": {"g": {"$eq": "x", "$eq": "y"}}}'),
        400,
        "filter.g",
    ),
    ("POST", "/query", {"topK": 1, "vector": [True, 0, 0]}, 400, "booleans"),
    ("POST", "/query", {"topK": 1, "vector": [1, 0, 0], "namespace": "\x07"}, 400, "namespace"),
    ("POST", "/vectors/update", {"id": "a", "values": [0.5, 0.5, True]}, 400, "booleans"),
    ("POST", "/vectors/update", {"id": "a", "setMetadata": {"k\x1f": 1}}, 400, "control character"),
    ("POST", "/vectors/delete", Raw(b'{"ids": ["a"], "ids": ["b"]}'), 400, "'ids'"),
    ("POST", "/vectors/delete", {"ids": ["a\x00"]}, 400, "control character"),
    ("GET", "/vectors/fetch?ids=a&namespace=%00", None, 400, "namespace"),
    ("GET", "/vectors/fetch?ids=a%00", None, 400, "control character"),
    ("POST", "/namespaces", {"name": "n\x00"}, 400, "namespace"),
    ("POST", "/vectors/upsert", Raw(f'{{"vectors": [{V}]}}'.encode(), "text/plain"), 415, "application/json"),
    (
        "POST",
        "/vectors/upsert",
        Raw(f'{{"vectors": [{V}]}}'.encode(), "application/x-www-form-urlencoded"),
        415,
        "Content-Type",
    ),
    ("POST", "/vectors/upsert", Raw(f'{{"vectors": [{V}]}}'.encode(), "application/x-ndjson"), 415, "json"),
    (
        "POST",
        "/query",
        Raw(b'{"topK": 1, "vector": [1, 0, 0]}', "text/plain; charset=utf-8"),
        415,
        "text/plain",
    ),
    ("POST", "/vectors/delete", Raw(b'{"deleteAll": true}', "text/plain"), 415, "Content-Type"),
    ("POST", "/indexes", Raw(b'{"name": "x", "dimension": 3}', "text/plain"), 415, "Content-Type"),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_malformed_requests_leave_data_unchanged() -> None:
    catalog = Catalog(None)
    catalog.create_index("idx", dimension=3)
    app = create_index_app(catalog, "idx", ServerConfig())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://idx.test"
    ) as client:
        assert (await client.post("/vectors/upsert", json={"vectors": OK})).status_code == 200
        before = (await client.get("/vectors/fetch?ids=a&ids=b")).json()
        failures = []
        for method, path, body, status, needle in BAD:
            if isinstance(body, Raw):
                headers = {} if body.content_type is None else {"content-type": body.content_type}
                r = await client.request(method, path, content=body.body, headers=headers)
            elif isinstance(body, bytes):
                r = await client.request(
                    method, path, content=body, headers={"content-type": "application/json"}
                )
            elif body is None:
                r = await client.request(method, path)
            else:
                r = await client.request(method, path, json=body)
            ok = r.status_code == status
            try:
                err = r.json()
                ok = ok and set(err) == {"error", "status"} and err["status"] == status
                ok = ok and needle.lower() in err["error"]["message"].lower() and bool(err["error"]["code"])
            except ValueError:
                ok = False
            ok = ok and bool(r.headers.get("x-request-id"))
            if not ok:
                failures.append(f"{method} {path} {str(body)[:80]} -> {r.status_code} {r.text[:200]}")
        assert not failures, "\n".join(failures)
        after = (await client.get("/vectors/fetch?ids=a&ids=b")).json()
        assert after == before
        stats = (await client.post("/describe_index_stats", json={})).json()
        assert stats["totalVectorCount"] == 2 and stats["namespaces"] == {"": {"vectorCount": 2}}


async def test_a_body_without_content_type_is_read_as_json() -> None:
    # The SDKs always send application/json; a hand-written client that sends none is not ambiguous.
    catalog = Catalog(None)
    catalog.create_index("idx", dimension=3)
    app = create_index_app(catalog, "idx", ServerConfig())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://idx.test"
    ) as client:
        r = await client.post("/vectors/upsert", content=f'{{"vectors": [{V}]}}'.encode())
        assert r.status_code == 200, r.text
        r = await client.post(
            "/vectors/upsert",
            content=f'{{"vectors": [{V}]}}'.encode(),
            headers={"content-type": "Application/JSON; charset=utf-8"},
        )
        assert r.status_code == 200, r.text

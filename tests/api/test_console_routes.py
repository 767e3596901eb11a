"""Console files, /admin/status, the engine metrics, CORS for the console origin and the legacy routes,
in process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import numpy as np
import pytest

from spruce.api.rest import create_control_app, create_index_app
from spruce.api.rest.cors import CorsMiddleware, console_origins
from spruce.config import EngineConfig, ServerConfig
from spruce.service.catalog import Catalog

pytestmark = pytest.mark.anyio
KEY = "sekret"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def catalog() -> Catalog:
    c = Catalog(None, EngineConfig(background=False, ann_min_rows=64, memtable_max_rows=100))
    c.create_index("idx", dimension=4, metric="cosine")
    return c


@pytest.fixture
async def control(catalog: Catalog) -> AsyncIterator[httpx.AsyncClient]:
    app = create_control_app(catalog, ServerConfig(api_keys=(KEY,)))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://main") as c:
        yield c


@pytest.fixture
async def index(catalog: Catalog) -> AsyncIterator[httpx.AsyncClient]:
    app = CorsMiddleware(
        create_index_app(catalog, "idx", ServerConfig(api_keys=(KEY,))),
        console_origins("http://127.0.0.1:5080", 5080),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://idx") as c:
        yield c


async def test_console_files_need_no_key_and_nothing_else_is_served(control: httpx.AsyncClient) -> None:
    page = await control.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/console/app.js" in page.text
    for name, kind in (
        ("app.js", "text/javascript"),
        ("api.js", "text/javascript"),
        ("style.css", "text/css"),
    ):
        r = await control.get(f"/console/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith(kind), name
    assert (await control.get("/docs")).status_code == 200
    for bad in ("/console/missing.js", "/console/..%2fconsole.py", "/console/index", "/console/.hidden.js"):
        assert (await control.get(bad)).status_code == 404, bad
    # Everything else still needs the key.
    assert (await control.get("/indexes")).status_code == 401
    assert (await control.get("/admin/status")).status_code == 401


async def test_admin_status_reports_storage_and_builds(catalog: Catalog, control: httpx.AsyncClient) -> None:
    from spruce.types import Record

    svc = catalog.index("idx")
    rng = np.random.default_rng(1)
    for start in range(0, 300, 100):
        svc.upsert(
            [Record(f"r{i}", rng.standard_normal(4).astype(np.float32)) for i in range(start, start + 100)],
            "ns",
        )
    svc.store.flush()  # no background worker: segments and graphs are built here
    status = (await control.get("/admin/status", headers={"Api-Key": KEY})).json()
    assert status["version"] and status["uptime_seconds"] >= 0
    assert status["process"]["rss_bytes"] > 0 and status["process"]["open_files"] > 0
    (ix,) = status["indexes"]
    assert ix["name"] == "idx" and ix["records"] == 300
    (ns,) = ix["namespaces"]
    assert ns["name"] == "ns" and ns["records"] == 300 and ns["segments"] >= 1
    assert ns["segments_with_graph"] == ns["segments"] and ix["graphs_pending"] == 0
    # Each graph says how it stores rows and the width it calibrated (4-d: flat).
    assert len(ns["graphs"]) == ns["segments"]
    assert sum(g["rows"] for g in ns["graphs"]) == 300
    assert all(g["storage"] == "flat" for g in ns["graphs"])
    for g in ns["graphs"]:
        assert g["target_recall"] is None or 0.5 <= g["target_recall"] <= 1.0
        assert all(c["ef_search"] >= c["top_k"] and 0 <= c["recall"] <= 1 for c in g["calibration"])
    assert status["graph_builds"]["finished"] >= 1 and status["graph_builds"]["running"] == 0


async def test_engine_metrics(catalog: Catalog, index: httpx.AsyncClient) -> None:
    h = {"Api-Key": KEY}
    vectors = [{"id": f"v{i}", "values": [float(i), 1.0, 0.0, 0.0]} for i in range(10)]
    assert (await index.post("/vectors/upsert", json={"vectors": vectors}, headers=h)).is_success
    assert (await index.post("/query", json={"topK": 3, "vector": [1, 1, 0, 0]}, headers=h)).is_success
    text = (await index.get("/metrics", headers=h)).text
    for name in (
        'spruce_memtable_rows{index="idx",namespace="__default__"} 10.0',
        'spruce_segments{index="idx",namespace="__default__"} 0.0',
        "spruce_wal_bytes{",
        "spruce_wal_fsyncs_total{",
        "spruce_graph_builds_queued{",
        "spruce_graph_builds_running ",
        "spruce_graph_builds_total ",
        "spruce_graph_build_seconds_total ",
        'spruce_rows_searched_total{method="exact"}',
        'spruce_rows_searched_total{method="graph"}',
        "process_resident_memory_bytes ",
        "process_open_fds ",
    ):
        assert name in text, name


async def test_cors_only_for_the_console_origin(index: httpx.AsyncClient) -> None:
    pre = {"Origin": "http://localhost:5080", "Access-Control-Request-Method": "POST"}
    r = await index.options("/query", headers={**pre, "Access-Control-Request-Headers": "api-key"})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "http://localhost:5080"
    assert "api-key" in r.headers["access-control-allow-headers"]
    r = await index.get("/describe_index_stats", headers={"Origin": "http://127.0.0.1:5080", "Api-Key": KEY})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "http://127.0.0.1:5080"
    # Another page's origin gets no CORS headers, so its browser refuses the answer.
    r = await index.get("/describe_index_stats", headers={"Origin": "http://evil.example", "Api-Key": KEY})
    assert "access-control-allow-origin" not in r.headers
    r = await index.options("/query", headers={**pre, "Origin": "http://evil.example"})
    assert r.status_code != 204 and "access-control-allow-origin" not in r.headers


async def test_legacy_routes(index: httpx.AsyncClient) -> None:
    h = {"Api-Key": KEY}
    assert (await index.get("/actions/whoami", headers=h)).json()["project_name"] == "spruce"
    vectors = [{"id": f"v{i}", "values": [1.0, 0.0, 0.0, float(i)]} for i in range(4)]
    await index.post("/vectors/upsert", json={"vectors": vectors, "namespace": "n"}, headers=h)
    assert (await index.delete("/vectors/delete?ids=v0&ids=v1&namespace=n", headers=h)).json() == {}
    listed = (await index.get("/vectors/list?namespace=n", headers=h)).json()
    assert [v["id"] for v in listed["vectors"]] == ["v2", "v3"]
    for bad in (
        "/vectors/delete?namespace=n",
        "/vectors/delete?ids=v2&deleteAll=true",
        "/vectors/delete?deleteAll=yes",
    ):
        r = await index.delete(bad, headers=h)
        assert r.status_code == 400, bad
        assert r.json()["error"]["code"] == "INVALID_ARGUMENT"
    assert len((await index.get("/vectors/list?namespace=n", headers=h)).json()["vectors"]) == 2
    assert (await index.delete("/vectors/delete?deleteAll=true&namespace=n", headers=h)).is_success
    stats = (await index.get("/describe_index_stats", headers=h)).json()
    assert "n" not in stats["namespaces"]

"""The in-flight body budget: past it a request gets 429 before its body is read, and nothing leaks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import httpx
import orjson
import pytest

from spruce.api.rest import create_index_app
from spruce.api.rest.middleware import SpruceMiddleware
from spruce.config import ServerConfig
from spruce.service.catalog import Catalog

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def upsert_body(first_id: int, n: int) -> bytes:
    return orjson.dumps(
        {"vectors": [{"id": str(first_id + i), "values": [0.5, 0.25, 1.0]} for i in range(n)]}
    )


def app_with(max_body: int, budget: int) -> tuple[Catalog, SpruceMiddleware]:
    catalog = Catalog(None)
    catalog.create_index("idx", dimension=3)
    app = create_index_app(
        catalog, "idx", ServerConfig(max_body_bytes=max_body, max_inflight_body_bytes=budget)
    )
    assert isinstance(app, SpruceMiddleware)
    return catalog, app


async def test_a_body_past_the_budget_gets_429_while_another_is_in_flight() -> None:
    catalog, app = app_with(max_body=64 * 1024, budget=8 * 1024)
    slow = upsert_body(0, 100)  # ~4 KB
    second = upsert_body(1000, 150)  # ~6 KB: the two together pass 8 KB
    release = anyio.Event()
    started = anyio.Event()

    async def trickle() -> AsyncIterator[bytes]:
        yield slow[:100]
        started.set()
        await release.wait()
        yield slow[100:]

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://idx.test"
    ) as client:
        results: dict[str, httpx.Response] = {}

        async def send_slow() -> None:
            results["slow"] = await client.post(
                "/vectors/upsert", content=trickle(), headers={"content-length": str(len(slow))}
            )

        async with anyio.create_task_group() as tg:
            tg.start_soon(send_slow)
            await started.wait()
            assert app.budget.used == len(slow)
            refused = await client.post("/vectors/upsert", content=second)
            release.set()

        assert refused.status_code == 429, refused.text
        error = refused.json()
        assert error["status"] == 429 and error["error"]["code"] == "RESOURCE_EXHAUSTED"
        assert "retry" in error["error"]["message"] and "8192" in error["error"]["message"]
        assert refused.headers["x-request-id"]
        assert results["slow"].status_code == 200
        assert app.budget.used == 0
        stats = catalog.index("idx").describe_index_stats()
        assert stats.total_vector_count == 100  # the refused batch wrote nothing

        retried = await client.post("/vectors/upsert", content=second)  # what the SDK's retry does
        assert retried.status_code == 200
        assert catalog.index("idx").describe_index_stats().total_vector_count == 250


async def test_a_body_larger_than_the_budget_passes_alone_and_failures_give_back_their_share() -> None:
    _, app = app_with(max_body=64 * 1024, budget=2 * 1024)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://idx.test"
    ) as client:
        alone = await client.post("/vectors/upsert", content=upsert_body(0, 100))  # ~4 KB > 2 KB budget
        assert alone.status_code == 200
        bad = await client.post("/vectors/upsert", content=b'{"vectors": [{"id": "x", "values": [1]}]}')
        assert bad.status_code == 400
        too_big = await client.post("/vectors/upsert", content=b"x" * (65 * 1024))
        assert too_big.status_code == 413
        assert (await client.get("/vectors/list")).status_code == 200
        assert app.budget.used == 0

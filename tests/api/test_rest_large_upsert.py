"""Large upsert bodies over REST go through a reused buffer (api/rest/body_pool.py): consecutive
bodies must not leak into each other, and a bad large body is still a 400 that changes nothing."""

from __future__ import annotations

import numpy as np
import orjson
import pytest
from httpx import ASGITransport, AsyncClient

from spruce.api.rest import create_index_app
from spruce.api.rest.body_pool import POOL, BodyPool
from spruce.api.rest.calls import LARGE_BODY_BYTES
from spruce.config import ServerConfig
from spruce.service.catalog import Catalog

pytestmark = pytest.mark.anyio
DIM = 96
JSON = {"content-type": "application/json"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _body(start: int, n: int, seed: int) -> tuple[bytes, np.ndarray]:
    vecs = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    vectors = [{"id": f"r{start + i}", "values": vecs[i].tolist()} for i in range(n)]
    return orjson.dumps({"vectors": vectors, "namespace": "ns"}), vecs


async def test_consecutive_large_bodies_keep_their_own_values() -> None:
    catalog = Catalog(None)
    catalog.create_index("idx", dimension=DIM, metric="euclidean")
    app = create_index_app(catalog, "idx", ServerConfig(max_body_bytes=64 << 20))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://idx.test") as client:
        # The second body is shorter than the first: a reused, larger buffer must not add its tail.
        first, v1 = _body(0, 1000, 1)
        second, v2 = _body(1000, 800, 2)
        assert len(second) >= LARGE_BODY_BYTES and len(first) > len(second)
        for body in (first, second):
            r = await client.post("/vectors/upsert", content=body, headers=JSON)
            assert r.status_code == 200, r.text
        assert POOL._idle
        # A bad large body: one string among the numbers of the last record. 400, nothing written.
        bad, _ = _body(5000, 1000, 3)
        bad = bad.replace(b"]}]", b',"x"]}]')
        r = await client.post("/vectors/upsert", content=bad, headers=JSON)
        assert r.status_code == 400
        assert "vectors[999].values" in r.text, r.text
        r = await client.get("/vectors/fetch", params={"ids": ["r0", "r1799", "r5000"], "namespace": "ns"})
        got = r.json()["vectors"]
        assert sorted(got) == ["r0", "r1799"]
        np.testing.assert_array_equal(np.float32(got["r0"]["values"]), v1[0])
        np.testing.assert_array_equal(np.float32(got["r1799"]["values"]), v2[799])


def test_pool_gives_the_smallest_fit_and_bounds_what_it_keeps() -> None:
    pool = BodyPool(max_idle_bytes=300)
    for size in (100, 200, 50):
        pool.give(bytearray(size))
    assert sorted(map(len, pool._idle)) == [100, 200]  # the largest kept first, within the bound
    assert len(pool.take(60)) >= 60
    assert len(pool.take(1000)) == 1000  # nothing fits: a new one

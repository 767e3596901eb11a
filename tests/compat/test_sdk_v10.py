"""The official pinecone==10.2.0 SDK (API 2026-07), sync and asyncio, against `spruce serve` over sockets."""

from __future__ import annotations

import asyncio
import random
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pinecone import Pinecone, PineconeAsyncio, ServerlessSpec
from pinecone.errors import ApiError, ConflictError, ForbiddenError, NotFoundError, UnauthorizedError

pytestmark = pytest.mark.compat

DIM = 8


def _vec(seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.uniform(-1, 1) for _ in range(DIM)]


@pytest.fixture(scope="module")
def pc(base_url: str) -> Iterator[Pinecone]:
    with Pinecone(api_key="k", host=base_url) as client:
        yield client


def _create(pc: Pinecone, name: str, **kwargs: object) -> None:
    pc.create_index(
        name=name,
        dimension=DIM,
        metric="cosine",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
        **kwargs,  # type: ignore[arg-type]
    )


def test_control_plane(pc: Pinecone, base_url: str) -> None:
    _create(pc, "ctl", tags={"env": "dev", "team": "a"})
    desc = pc.describe_index("ctl")
    assert desc.name == "ctl" and desc.dimension == DIM and desc.metric == "cosine"
    assert desc.host.startswith("http://127.0.0.1:") and desc.host != base_url
    assert desc.status.ready
    assert desc.vector_type == "dense"
    assert pc.has_index("ctl") and not pc.has_index("nope")
    assert "ctl" in pc.list_indexes().names()

    pc.configure_index("ctl", deletion_protection="enabled", tags={"env": "prod", "team": ""})
    desc = pc.describe_index("ctl")
    assert desc.deletion_protection == "enabled"
    assert dict(desc.tags or {}) == {"env": "prod"}
    with pytest.raises(ForbiddenError) as forbidden:
        pc.delete_index("ctl", timeout=-1)
    assert "deletion protection" in str(forbidden.value)
    pc.configure_index("ctl", deletion_protection="disabled")
    pc.delete_index("ctl")
    assert not pc.has_index("ctl")


def test_errors(pc: Pinecone) -> None:
    with pytest.raises(NotFoundError):
        pc.describe_index("missing")
    _create(pc, "dup")
    with pytest.raises(ConflictError):
        _create(pc, "dup")
    idx = pc.Index(name="dup")
    with pytest.raises(ApiError) as wrong:
        idx.upsert(vectors=[("a", [1.0, 2.0])])
    assert wrong.value.status_code == 400
    assert "dimension" in str(wrong.value)
    with pytest.raises(ApiError) as bad_filter:
        idx.query(top_k=1, vector=_vec(1), filter={"x": {"$bogus": 1}})
    assert bad_filter.value.status_code == 400
    pc.delete_index("dup")


def test_sparse_and_for_model_indexes(pc: Pinecone) -> None:
    pc.create_index(
        name="sparse",
        metric="dotproduct",
        vector_type="sparse",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
    )
    desc = pc.describe_index("sparse")
    assert desc.vector_type == "sparse" and desc.dimension is None
    idx = pc.Index(name="sparse")
    idx.upsert(vectors=[{"id": "s1", "sparse_values": {"indices": [1, 7], "values": [0.5, 1.0]}}])
    res = idx.query(top_k=1, sparse_vector={"indices": [7], "values": [1.0]})
    assert res.matches[0].id == "s1"
    pc.delete_index("sparse")

    pc.create_index_for_model(
        name="integrated",
        cloud="aws",
        region="us-east-1",
        embed={"model": "llama-text-embed-v2", "field_map": {"text": "chunk_text"}},
    )
    desc = pc.describe_index("integrated")
    assert desc.status.ready
    assert desc.embed is not None and desc.embed.model == "llama-text-embed-v2"
    pc.delete_index("integrated")


def test_data_plane(pc: Pinecone) -> None:
    _create(pc, "data")
    idx = pc.Index(name="data")
    res = idx.upsert(
        vectors=[
            ("v1", _vec(1), {"genre": "drama", "year": 2020}),
            {"id": "v2", "values": _vec(2), "metadata": {"genre": "comedy", "year": 2021}},
            {"id": "v3", "values": _vec(3), "metadata": {"genre": "drama", "year": 2022}},
            {"id": "v4", "values": _vec(4), "sparse_values": {"indices": [3, 1], "values": [0.2, 0.4]}},
        ],
        namespace="ns1",
    )
    assert res.upserted_count == 4

    q = idx.query(top_k=3, vector=_vec(1), namespace="ns1", include_values=True, include_metadata=True)
    assert q.matches[0].id == "v1" and q.matches[0].score == pytest.approx(1.0, abs=1e-5)
    assert q.matches[0].values == pytest.approx(_vec(1), abs=1e-6)
    assert q.matches[0].metadata == {"genre": "drama", "year": 2020}
    q = idx.query(top_k=5, id="v1", namespace="ns1", filter={"genre": {"$eq": "drama"}})
    assert {m.id for m in q.matches} == {"v1", "v3"}

    f = idx.fetch(ids=["v1", "v4", "missing"], namespace="ns1")
    assert set(f.vectors) == {"v1", "v4"}
    assert f.vectors["v4"].sparse_values is not None
    assert list(f.vectors["v4"].sparse_values.indices) == [1, 3]

    fm = idx.fetch_by_metadata(filter={"genre": {"$eq": "drama"}}, namespace="ns1", limit=1)
    assert len(fm.vectors) == 1 and fm.pagination is not None and fm.pagination.next
    fm2 = idx.fetch_by_metadata(
        filter={"genre": {"$eq": "drama"}}, namespace="ns1", limit=1, pagination_token=fm.pagination.next
    )
    assert set(fm.vectors) | set(fm2.vectors) == {"v1", "v3"}

    idx.update(id="v2", set_metadata={"genre": "drama"}, namespace="ns1")
    dry = idx.update(
        filter={"genre": {"$eq": "drama"}}, set_metadata={"seen": True}, namespace="ns1", dry_run=True
    )
    assert dry.matched_records == 3
    idx.update(id="v1", values=_vec(9), namespace="ns1")
    assert idx.fetch(ids=["v1"], namespace="ns1").vectors["v1"].values == pytest.approx(_vec(9), abs=1e-6)

    stats = idx.describe_index_stats()
    assert stats.total_vector_count == 4 and stats.dimension == DIM
    assert stats.namespaces["ns1"].vector_count == 4

    idx.delete(ids=["v1"], namespace="ns1")
    idx.delete(filter={"genre": {"$eq": "comedy"}}, namespace="ns1")
    assert idx.describe_index_stats().namespaces["ns1"].vector_count == 3
    idx.delete(delete_all=True, namespace="ns1")
    assert idx.describe_index_stats().total_vector_count == 0
    pc.delete_index("data")


def test_batched_upsert_list_and_query_namespaces(pc: Pinecone) -> None:
    _create(pc, "bulk")
    idx = pc.Index(name="bulk")
    vectors = [(f"doc{i:03d}#chunk", _vec(i), {"n": i}) for i in range(250)]
    res = idx.upsert(vectors=vectors, namespace="a", batch_size=20, max_concurrency=8, show_progress=False)
    assert res.upserted_count == 250
    idx.upsert(vectors=[("b1", _vec(1000)), ("b2", _vec(1))], namespace="b")

    pages = list(idx.list(prefix="doc", limit=100, namespace="a"))
    assert [len(p.vectors) for p in pages] == [100, 100, 50]
    ids = [v.id for p in pages for v in p.vectors]
    assert ids == sorted(v[0] for v in vectors)
    page = idx.list_paginated(prefix="doc01", limit=5, namespace="a")
    assert [v.id for v in page.vectors] == [f"doc{i:03d}#chunk" for i in range(10, 15)]
    assert page.pagination is not None and page.pagination.next

    merged = idx.query_namespaces(vector=_vec(1), namespaces=["a", "b"], metric="cosine", top_k=3)
    assert {m.id for m in merged.matches[:2]} == {"doc001#chunk", "b2"}

    idx.create_namespace(name="empty", schema={"fields": {"genre": {"filterable": True}}})
    described = idx.describe_namespace(name="a")
    assert described.name == "a" and int(described.record_count) == 250
    listed = idx.list_namespaces_paginated(limit=10)
    assert {n.name for n in listed.namespaces} == {"a", "b", "empty"}
    all_names = [n.name for page in idx.list_namespaces(limit=1) for n in page.namespaces]
    assert sorted(all_names) == ["a", "b", "empty"]
    idx.delete_namespace(name="b")
    with pytest.raises(NotFoundError):
        idx.describe_namespace(name="b")
    pc.delete_index("bulk")


def test_writes_visible_across_clients(base_url: str) -> None:
    with Pinecone(api_key="k", host=base_url) as one, Pinecone(api_key="k", host=base_url) as two:
        _create(one, "shared")
        host = one.describe_index("shared").host
        writer = one.Index(host=host)
        reader = two.Index(name="shared")
        for i in range(5):
            writer.upsert(vectors=[(f"w{i}", _vec(100 + i))])
            hit = reader.query(top_k=1, vector=_vec(100 + i))
            assert hit.matches[0].id == f"w{i}"
        one.delete_index("shared")


def test_asyncio_client(base_url: str) -> None:
    async def scenario() -> None:
        async with PineconeAsyncio(api_key="k", host=base_url) as apc:
            await apc.create_index(
                name="aio",
                dimension=DIM,
                metric="cosine",
                spec=ServerlessSpec(cloud="aws", region="us-east-1"),
            )
            desc = await apc.describe_index("aio")
            assert desc.status.ready
            async with apc.IndexAsyncio(host=desc.host) as idx:
                vectors = [(f"a{i}", _vec(i)) for i in range(120)]
                res = await idx.upsert(vectors=vectors, batch_size=25, show_progress=False)
                assert res.upserted_count == 120
                results = await asyncio.gather(*[idx.query(top_k=1, vector=_vec(i)) for i in range(10)])
                assert [r.matches[0].id for r in results] == [f"a{i}" for i in range(10)]
                f = await idx.fetch(ids=["a1"])
                assert "a1" in f.vectors
                stats = await idx.describe_index_stats()
                assert stats.total_vector_count == 120
                await idx.delete(ids=["a1"])
                page = await idx.list_paginated(limit=100)
                assert len(page.vectors) == 100
            with pytest.raises(NotFoundError):
                await apc.describe_index("nope")
            await apc.delete_index("aio")

    asyncio.run(scenario())


def test_api_key_and_restart_keeps_hosts(tmp_path: Path, launcher: Any) -> None:
    server = launcher.start(tmp_path / "data", api_keys=["secret"])
    try:
        with Pinecone(api_key="wrong", host=server.url) as bad, pytest.raises(UnauthorizedError):
            bad.list_indexes()
        with Pinecone(api_key="secret", host=server.url) as pc:
            _create(pc, "keep")
            host = pc.describe_index("keep").host
            pc.Index(host=host).upsert(vectors=[("x", _vec(1))])
    finally:
        assert launcher.stop(server) == 0
    server = launcher.start(tmp_path / "data", api_keys=["secret"], port=server.port)
    try:
        with Pinecone(api_key="secret", host=server.url) as pc:
            assert pc.describe_index("keep").host == host
            assert "x" in pc.Index(host=host).fetch(ids=["x"]).vectors
    finally:
        assert launcher.stop(server) == 0


def test_sdk_retries_429_from_the_body_budget(tmp_path: Path, launcher: Any) -> None:
    # A budget smaller than one batch: concurrent batches are refused with 429 (a lone one always
    # passes), the SDK backs off and retries, and every record lands.
    server = launcher.start(tmp_path / "data", extra_args=["--max-inflight-body-bytes", "4096"])
    try:
        with Pinecone(api_key="k", host=server.url) as pc:
            _create(pc, "budget")
            index = pc.Index(host=pc.describe_index("budget").host)
            items = [(str(i), _vec(i)) for i in range(4000)]  # ~18 KB per batch of 100
            result = index.upsert(vectors=items, batch_size=100, max_concurrency=8)
            assert result.upserted_count == 4000 and not result.failed_items
            assert index.describe_index_stats().total_vector_count == 4000
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
        refused = [
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith('spruce_requests_total{operation="overloaded",status="429"}')
        ]
        assert refused and refused[0] >= 1, "no request was refused: the retry path went untested"
    finally:
        assert launcher.stop(server) == 0


def _wait_until_refused(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return
        time.sleep(0.02)
    raise AssertionError(f"port {port} still accepts connections after SIGTERM")


def test_sigterm_finishes_in_flight_request(tmp_path: Path, launcher: Any) -> None:
    server = launcher.start(tmp_path / "data")
    with Pinecone(api_key="k", host=server.url) as pc:
        _create(pc, "graceful")
        host = pc.describe_index("graceful").host
    port = int(host.rsplit(":", 1)[1])
    body = b'{"vectors":[{"id":"late","values":[1,0,0,0,0,0,0,0]}]}'
    head = "POST /vectors/upsert HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    # Expect: 100-continue makes the server say when the handler starts reading the body: an event to
    # wait on, instead of a sleep that a loaded machine can outlast.
    head += f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(30)
        sock.sendall(head.encode())
        interim = b""
        while b"\r\n\r\n" not in interim:
            interim += sock.recv(1)
        assert interim.startswith(b"HTTP/1.1 100"), interim
        sock.sendall(body[:10])
        server.proc.send_signal(signal.SIGTERM)
        _wait_until_refused(port)  # shutdown has begun: the listener is closed
        sock.sendall(body[10:])
        sock.settimeout(10)
        # The server answers with "connection: close" while shutting down: read to EOF.
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200"), response
    assert b'"upsertedCount":1' in response
    assert launcher.stop(server) == 0
    server = launcher.start(tmp_path / "data", port=server.port)
    with Pinecone(api_key="k", host=server.url) as pc:
        assert "late" in pc.Index(host=host).fetch(ids=["late"]).vectors

"""The shared port: HTTP/1.1 goes to the ASGI app, HTTP/2 prior knowledge to the backend; ports persist."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest
from uvicorn.server import ServerState

from spruce.api.listeners import H2_PREFACE, Listener, bind
from spruce.api.ports import PortRegistry
from spruce.api.rest import create_index_app
from spruce.api.server import SpruceServer
from spruce.config import ServerConfig
from spruce.service.catalog import Catalog

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class RecordingBackend:
    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes]] = []

    async def start(self) -> None:
        return None

    async def handle(
        self,
        index_name: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        initial: bytes = b"",
    ) -> None:
        data = initial + await reader.readexactly(len(H2_PREFACE))
        self.seen.append((index_name, data))
        writer.write(b"h2-ok")
        await writer.drain()
        writer.close()

    async def stop(self, grace: float | None = 1.0) -> None:
        return None


async def _http_get(port: int, path: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = await reader.read()
    writer.close()
    return data


async def test_sniffs_http1_and_http2_on_one_port() -> None:
    catalog = Catalog(None)
    catalog.create_index("a", dimension=3)
    backend = RecordingBackend()
    app = create_index_app(catalog, "a", ServerConfig())
    listener = Listener(bind("127.0.0.1", 0), app, ServerState(), index_name="a", http2=backend)
    listener.start()
    try:
        response = await _http_get(listener.port, "/health")
        assert response.startswith(b"HTTP/1.1 200") and b'"index":"a"' in response

        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        # Sent in two pieces: the sniffer must not decide on a partial "P".
        writer.write(H2_PREFACE[:1])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(H2_PREFACE[1:])
        assert await reader.read() == b"h2-ok"
        writer.close()
        assert backend.seen == [("a", H2_PREFACE)]
    finally:
        await listener.close()


async def test_http2_without_backend_is_closed() -> None:
    catalog = Catalog(None)
    listener = Listener(bind("127.0.0.1", 0), create_index_app(catalog, "a", ServerConfig()), ServerState())
    listener.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        writer.write(H2_PREFACE)
        # Closed with the preface unread, so the kernel may answer with a reset instead of a FIN.
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()
    finally:
        await listener.close()


def test_port_registry_persists(tmp_path: Path) -> None:
    reg = PortRegistry(tmp_path)
    reg.assign("a", 5081)
    reg.assign("b", 5083)
    assert next(reg.candidates(5080)) == 5082
    again = PortRegistry(tmp_path)
    assert again.get("a") == 5081 and again.get("b") == 5083
    again.release("a")
    assert PortRegistry(tmp_path).names() == ["b"]
    assert not list(tmp_path.glob("*.tmp"))


async def test_server_hosts_follow_creates_and_deletes(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    server = SpruceServer(catalog, ServerConfig(port=0, external_url="https://db.example"), tmp_path)
    await server.start()
    try:
        catalog.create_index("idx", dimension=3)
        host = await server.opened("idx")
        port = int(host.rsplit(":", 1)[1])
        assert host == f"https://db.example:{port}" and port > server.port
        assert (await _http_get(port, "/health")).startswith(b"HTTP/1.1 200")
        catalog.delete_index("idx")
        await server.closed("idx")
        with pytest.raises(OSError):
            await _http_get(port, "/health")
        assert PortRegistry(tmp_path).get("idx") is None
    finally:
        await server.stop(grace=1)


async def test_large_body_over_a_real_socket_arrives_whole() -> None:
    """An upsert body of several MB through the listener's HTTP/1.1 protocol, sent in small writes
    (uvicorn pauses and resumes reading it many times), is stored exactly."""
    import numpy as np
    import orjson

    catalog = Catalog(None)
    catalog.create_index("big", dimension=512, metric="euclidean")
    app = create_index_app(catalog, "big", ServerConfig(max_body_bytes=64 << 20))
    listener = Listener(bind("127.0.0.1", 0), app, ServerState(), index_name="big")
    listener.start()
    vecs = np.random.default_rng(7).standard_normal((1000, 512)).astype(np.float32)
    body = orjson.dumps(
        {"vectors": [{"id": f"v{i}", "values": vecs[i].tolist()} for i in range(len(vecs))], "namespace": "n"}
    )
    assert len(body) > 8 * 1024 * 1024
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.port)
        head = (
            f"POST /vectors/upsert HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode())
        for start in range(0, len(body), 50_000):
            writer.write(body[start : start + 50_000])
            await writer.drain()
        response = await reader.read()
        writer.close()
        assert response.startswith(b"HTTP/1.1 200"), response[:300]
        assert b'"upsertedCount":1000' in response
    finally:
        await listener.close()
    index = catalog.index("big")
    got = index.fetch(["v0", "v500", "v999"], namespace="n")
    for i in (0, 500, 999):
        assert np.array_equal(np.asarray(got[f"v{i}"].values, dtype=np.float32), vecs[i])

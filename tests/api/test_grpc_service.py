"""The gRPC data plane driven by a plain grpcio client (generated stub) over loopback.

The harness mimics the per-index listeners: one asyncio TCP server per index hands every connection
to `GrpcBackend.handle(index_name, ...)`, exactly as `spruce.api.listeners` does for HTTP/2 clients.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import grpc
import pytest

from spruce import errors
from spruce.api.grpc.backend import GrpcBackend
from spruce.service.catalog import Catalog
from spruce.wire.pb import vector_service_pb2 as pb
from spruce.wire.pb import vector_service_pb2_grpc as pb_grpc

T = TypeVar("T")


class Harness:
    """A background event loop running a GrpcBackend and one fake listener port per index."""

    def __init__(self, catalog: Any, api_keys: tuple[str, ...] = ()) -> None:
        self.catalog = catalog
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.backend = GrpcBackend(catalog, api_keys=api_keys)
        self.ports: dict[str, int] = {}
        self._servers: list[asyncio.Server] = []
        self.run(self.backend.start())

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def listen(self, name: str) -> int:
        async def start() -> int:
            async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
                await self.backend.handle(name, reader, writer, b"")

            server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
            self._servers.append(server)
            port: int = server.sockets[0].getsockname()[1]
            return port

        self.ports[name] = self.run(start())
        return self.ports[name]

    def stub(self, name: str) -> tuple[grpc.Channel, pb_grpc.VectorServiceStub]:
        port = self.ports.get(name) or self.listen(name)
        channel = grpc.insecure_channel(
            f"127.0.0.1:{port}",
            options=[
                ("grpc.max_send_message_length", 128 << 20),
                ("grpc.max_receive_message_length", 128 << 20),
            ],
        )
        return channel, pb_grpc.VectorServiceStub(channel)

    def close(self) -> None:
        async def stop() -> None:
            for server in self._servers:
                server.close()
            await self.backend.stop(0)

        self.run(stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    catalog = Catalog(None)
    catalog.create_index("dense", dimension=3, metric="cosine")
    catalog.create_index("hybrid", dimension=2, metric="dotproduct")
    catalog.create_index("sparse", dimension=None, metric="dotproduct", vector_type="sparse")
    catalog.create_index("other", dimension=4, metric="euclidean")
    catalog.create_index("big", dimension=2048, metric="cosine")
    h = Harness(catalog)
    yield h
    h.close()
    catalog.close()


@pytest.fixture(scope="module")
def dense(harness: Harness) -> Iterator[pb_grpc.VectorServiceStub]:
    channel, stub = harness.stub("dense")
    yield stub
    channel.close()


def _vec(vid: str, values: list[float], **metadata: Any) -> pb.Vector:
    v = pb.Vector(id=vid, values=values)
    if metadata:
        v.metadata.update(metadata)
    return v


def _meta(msg: Any) -> dict[str, Any]:
    from spruce.wire.grpc_convert import struct_to_dict

    return struct_to_dict(msg)


def _code(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    err: Any = info.value
    return err.code(), err.details()


# --- every method, happy path -------------------------------------------------------------------------


def test_upsert_fetch_query_roundtrip(dense: pb_grpc.VectorServiceStub) -> None:
    resp = dense.Upsert(
        pb.UpsertRequest(
            namespace="rt",
            vectors=[
                _vec("a", [1, 0, 0], year=2020, genre=["x", "y"], ok=True, name="A"),
                _vec("b", [0, 1, 0], year=2021.5),
                _vec("c", [0.9, 0.1, 0]),
            ],
        )
    )
    assert resp.upserted_count == 3

    fetched = dense.Fetch(pb.FetchRequest(ids=["a", "missing"], namespace="rt"))
    assert set(fetched.vectors) == {"a"}
    assert fetched.namespace == "rt"
    assert fetched.usage.read_units >= 1
    a = fetched.vectors["a"]
    assert list(a.values) == [1.0, 0.0, 0.0]
    # Struct has only doubles: the int 2020 comes back as 2020.0, as from Pinecone's gRPC API.
    assert _meta(a.metadata) == {"year": 2020.0, "genre": ["x", "y"], "ok": True, "name": "A"}

    q = dense.Query(
        pb.QueryRequest(namespace="rt", top_k=2, vector=[1, 0, 0], include_metadata=True, include_values=True)
    )
    assert [m.id for m in q.matches] == ["a", "c"]
    assert q.matches[0].score == pytest.approx(1.0, abs=1e-6)
    assert list(q.matches[0].values) == [1.0, 0.0, 0.0]
    assert _meta(q.matches[0].metadata)["year"] == 2020.0
    assert q.namespace == "rt"

    bare = dense.Query(pb.QueryRequest(namespace="rt", top_k=1, vector=[1, 0, 0]))
    assert not bare.matches[0].HasField("metadata") and not bare.matches[0].values

    by_id = dense.Query(pb.QueryRequest(namespace="rt", top_k=3, id="b"))
    assert by_id.matches[0].id == "b"

    filtered = dense.Query(
        pb.QueryRequest(namespace="rt", top_k=3, vector=[1, 0, 0], filter=_struct(year=2020))
    )
    assert [m.id for m in filtered.matches] == ["a"]
    in_list = dense.Query(
        pb.QueryRequest(namespace="rt", top_k=3, vector=[1, 0, 0], filter=_struct(genre={"$in": ["y"]}))
    )
    assert [m.id for m in in_list.matches] == ["a"]


def _struct(**fields: Any) -> Any:
    from google.protobuf import struct_pb2

    s = struct_pb2.Struct()
    s.update(fields)
    return s


def test_update_by_id_and_filter(dense: pb_grpc.VectorServiceStub) -> None:
    dense.Upsert(
        pb.UpsertRequest(namespace="up", vectors=[_vec("u1", [1, 0, 0], g="a"), _vec("u2", [0, 1, 0], g="a")])
    )
    resp = dense.Update(
        pb.UpdateRequest(namespace="up", id="u1", values=[0, 0, 1], set_metadata=_struct(k=1))
    )
    assert not resp.HasField("matched_records")
    got = dense.Fetch(pb.FetchRequest(namespace="up", ids=["u1"])).vectors["u1"]
    assert list(got.values) == [0.0, 0.0, 1.0]
    assert _meta(got.metadata) == {"g": "a", "k": 1.0}

    dry = dense.Update(
        pb.UpdateRequest(namespace="up", filter=_struct(g="a"), set_metadata=_struct(z=True), dry_run=True)
    )
    assert dry.matched_records == 2
    assert "z" not in _meta(dense.Fetch(pb.FetchRequest(namespace="up", ids=["u2"])).vectors["u2"].metadata)
    done = dense.Update(pb.UpdateRequest(namespace="up", filter=_struct(g="a"), set_metadata=_struct(z=True)))
    assert done.matched_records == 2
    assert _meta(dense.Fetch(pb.FetchRequest(namespace="up", ids=["u2"])).vectors["u2"].metadata)["z"] is True


def test_delete_variants(dense: pb_grpc.VectorServiceStub) -> None:
    dense.Upsert(
        pb.UpsertRequest(
            namespace="del", vectors=[_vec(f"d{i}", [1, i, 0], even=(i % 2 == 0)) for i in range(6)]
        )
    )
    dense.Delete(pb.DeleteRequest(namespace="del", ids=["d0"]))
    dense.Delete(pb.DeleteRequest(namespace="del", filter=_struct(even=True)))
    left = dense.List(pb.ListRequest(namespace="del"))
    assert [v.id for v in left.vectors] == ["d1", "d3", "d5"]
    dense.Delete(pb.DeleteRequest(namespace="del", delete_all=True))
    assert not dense.List(pb.ListRequest(namespace="del")).vectors


def test_list_pagination_and_prefix(dense: pb_grpc.VectorServiceStub) -> None:
    dense.Upsert(
        pb.UpsertRequest(namespace="ls", vectors=[_vec(f"doc#{i:02d}", [1, 0, 0]) for i in range(5)])
    )
    dense.Upsert(pb.UpsertRequest(namespace="ls", vectors=[_vec("other", [1, 0, 0])]))
    first = dense.List(pb.ListRequest(namespace="ls", prefix="doc#", limit=2))
    assert [v.id for v in first.vectors] == ["doc#00", "doc#01"]
    assert first.HasField("pagination") and first.pagination.next
    assert first.namespace == "ls"
    seen = [v.id for v in first.vectors]
    token = first.pagination.next
    while token:
        page = dense.List(pb.ListRequest(namespace="ls", prefix="doc#", limit=2, pagination_token=token))
        seen += [v.id for v in page.vectors]
        token = page.pagination.next if page.HasField("pagination") else ""
    assert seen == [f"doc#{i:02d}" for i in range(5)]


def test_fetch_by_metadata(dense: pb_grpc.VectorServiceStub) -> None:
    dense.Upsert(pb.UpsertRequest(namespace="fbm", vectors=[_vec(f"f{i}", [1, 0, 0], n=i) for i in range(5)]))
    resp = dense.FetchByMetadata(
        pb.FetchByMetadataRequest(namespace="fbm", filter=_struct(n={"$gte": 1}), limit=2)
    )
    assert sorted(resp.vectors) == ["f1", "f2"]
    assert resp.pagination.next
    rest = dense.FetchByMetadata(
        pb.FetchByMetadataRequest(
            namespace="fbm", filter=_struct(n={"$gte": 1}), pagination_token=resp.pagination.next
        )
    )
    assert sorted(rest.vectors) == ["f3", "f4"]
    assert not rest.HasField("pagination")


def test_stats_and_namespaces(dense: pb_grpc.VectorServiceStub) -> None:
    dense.Upsert(pb.UpsertRequest(vectors=[_vec("default1", [1, 0, 0], kind="d")]))
    dense.Upsert(
        pb.UpsertRequest(namespace="ns-stats", vectors=[_vec("s1", [1, 0, 0]), _vec("s2", [0, 1, 0])])
    )
    stats = dense.DescribeIndexStats(pb.DescribeIndexStatsRequest())
    assert stats.dimension == 3 and stats.metric == "cosine" and stats.vector_type == "dense"
    assert stats.namespaces["ns-stats"].vector_count == 2
    assert stats.namespaces[""].vector_count >= 1
    assert stats.total_vector_count == sum(ns.vector_count for ns in stats.namespaces.values())
    filtered = dense.DescribeIndexStats(pb.DescribeIndexStatsRequest(filter=_struct(kind="d")))
    assert filtered.total_vector_count == 1

    created = dense.CreateNamespace(pb.CreateNamespaceRequest(name="made", schema=_schema("genre")))
    assert created.name == "made" and created.record_count == 0
    assert created.schema.fields["genre"].filterable
    described = dense.DescribeNamespace(pb.DescribeNamespaceRequest(namespace="ns-stats"))
    assert described.name == "ns-stats" and described.record_count == 2

    listed = dense.ListNamespaces(pb.ListNamespacesRequest(prefix="ns-"))
    assert [n.name for n in listed.namespaces] == ["ns-stats"]
    assert listed.total_count == 1
    page = dense.ListNamespaces(pb.ListNamespacesRequest(limit=1))
    assert len(page.namespaces) == 1 and page.pagination.next and page.total_count >= 3

    dense.DeleteNamespace(pb.DeleteNamespaceRequest(namespace="made"))
    code, _ = _code(lambda: dense.DescribeNamespace(pb.DescribeNamespaceRequest(namespace="made")))
    assert code == grpc.StatusCode.NOT_FOUND


def _schema(*names: str) -> pb.MetadataSchema:
    schema = pb.MetadataSchema()
    for name in names:
        schema.fields[name].filterable = True
    return schema


def test_sparse_and_hybrid(harness: Harness) -> None:
    channel, hybrid = harness.stub("hybrid")
    with channel:
        v = pb.Vector(
            id="h1", values=[1, 0], sparse_values=pb.SparseValues(indices=[10, 3], values=[0.5, 2.0])
        )
        w = pb.Vector(id="h2", values=[0, 1], sparse_values=pb.SparseValues(indices=[3], values=[1.0]))
        hybrid.Upsert(pb.UpsertRequest(vectors=[v, w]))
        got = hybrid.Fetch(pb.FetchRequest(ids=["h1"])).vectors["h1"]
        # Stored sorted by index, as Pinecone returns them.
        assert list(got.sparse_values.indices) == [3, 10]
        assert list(got.sparse_values.values) == [2.0, 0.5]
        q = hybrid.Query(
            pb.QueryRequest(top_k=2, vector=[1, 0], sparse_vector=pb.SparseValues(indices=[3], values=[1.0]))
        )
        assert [m.id for m in q.matches] == ["h1", "h2"]
        assert q.matches[0].score == pytest.approx(1.0 + 2.0)
    channel, sparse = harness.stub("sparse")
    with channel:
        sparse.Upsert(
            pb.UpsertRequest(
                vectors=[pb.Vector(id="s", sparse_values=pb.SparseValues(indices=[7], values=[3.0]))]
            )
        )
        q = sparse.Query(
            pb.QueryRequest(
                top_k=1, sparse_vector=pb.SparseValues(indices=[7], values=[2.0]), include_values=True
            )
        )
        assert q.matches[0].id == "s" and q.matches[0].score == pytest.approx(6.0)
        assert list(q.matches[0].sparse_values.indices) == [7]
        stats = sparse.DescribeIndexStats(pb.DescribeIndexStatsRequest())
        assert not stats.HasField("dimension") and stats.vector_type == "sparse"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def test_unpacked_sparse_values_are_accepted(harness: Harness) -> None:
    """The 10.x SDK sends SparseValues unpacked (one tag per element); build those bytes by hand."""
    import struct

    sparse = b"".join(_field(1, 0) + _varint(i) for i in (5, 2))  # indices, unpacked varints
    sparse += b"".join(_field(2, 5) + struct.pack("<f", x) for x in (0.25, 4.0))  # values, unpacked fixed32
    vector = _field(1, 2) + _varint(2) + b"up"
    vector += _field(2, 2) + _varint(8) + struct.pack("<2f", 1.0, 0.0)  # dense values, packed
    vector += _field(4, 2) + _varint(len(sparse)) + sparse
    raw = _field(1, 2) + _varint(len(vector)) + vector + _field(2, 2) + _varint(8) + b"unpacked"
    # The same message parses to the expected content (the proof that the bytes are what we meant).
    parsed = pb.UpsertRequest.FromString(raw)
    assert list(parsed.vectors[0].sparse_values.indices) == [5, 2]
    assert pb.UpsertRequest.FromString(parsed.SerializeToString()) == parsed  # re-encodes packed
    assert parsed.SerializeToString() != raw

    channel, _ = harness.stub("hybrid")
    with channel:
        upsert = channel.unary_unary(
            "/VectorService/Upsert",
            request_serializer=lambda b: b,
            response_deserializer=pb.UpsertResponse.FromString,
        )
        assert upsert(raw).upserted_count == 1
        stub = pb_grpc.VectorServiceStub(channel)
        got = stub.Fetch(pb.FetchRequest(ids=["up"], namespace="unpacked")).vectors["up"]
        assert list(got.sparse_values.indices) == [2, 5]
        assert list(got.sparse_values.values) == [4.0, 0.25]


def test_large_message_over_default_4mb(harness: Harness) -> None:
    channel, big = harness.stub("big")
    with channel:
        vectors = [pb.Vector(id=f"v{i}", values=[float(i % 7)] * 2048) for i in range(1000)]
        request = pb.UpsertRequest(vectors=vectors)
        assert request.ByteSize() > 4 * 1024 * 1024
        assert big.Upsert(request).upserted_count == 1000
        fetched = big.Fetch(pb.FetchRequest(ids=[f"v{i}" for i in range(1000)]))
        assert fetched.ByteSize() > 4 * 1024 * 1024 and len(fetched.vectors) == 1000


# --- routing --------------------------------------------------------------------------------------------


def test_each_port_reaches_its_own_index(harness: Harness) -> None:
    ch1, dense = harness.stub("dense")
    ch2, other = harness.stub("other")
    with ch1, ch2:
        assert dense.DescribeIndexStats(pb.DescribeIndexStatsRequest()).dimension == 3
        assert other.DescribeIndexStats(pb.DescribeIndexStatsRequest()).dimension == 4
        other.Upsert(pb.UpsertRequest(namespace="route", vectors=[_vec("o", [1, 2, 3, 4])]))
        assert not dense.Fetch(pb.FetchRequest(namespace="route", ids=["o"])).vectors
        assert other.Fetch(pb.FetchRequest(namespace="route", ids=["o"])).vectors["o"].id == "o"


def test_parallel_calls_on_many_connections_never_cross_indexes(harness: Harness) -> None:
    from concurrent.futures import ThreadPoolExecutor

    expected = {"dense": 3, "other": 4}

    def worker(n: int) -> int:
        name = "dense" if n % 2 else "other"
        channel, stub = harness.stub(name)  # a connection (and proxy port) per worker
        with channel:
            for i in range(30):
                vid = f"w{n}-{i}"
                stub.Upsert(pb.UpsertRequest(namespace="par", vectors=[_vec(vid, [1.0] * expected[name])]))
                assert stub.DescribeIndexStats(pb.DescribeIndexStatsRequest()).dimension == expected[name]
                assert vid in stub.Fetch(pb.FetchRequest(namespace="par", ids=[vid])).vectors
        return n

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(worker, range(8))) == list(range(8))


def test_registry_entries_removed_when_connection_closes(harness: Harness) -> None:
    harness.catalog.create_index("regtest", dimension=2, metric="cosine")
    registry = harness.backend.registry
    channel, stub = harness.stub("regtest")
    stub.DescribeIndexStats(pb.DescribeIndexStatsRequest())
    assert registry.connections("regtest") == 1
    channel.close()
    deadline = time.monotonic() + 60  # generous: only a hung close makes it run out
    while registry.connections("regtest") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert registry.connections("regtest") == 0


def test_close_index_ends_its_connections_only(harness: Harness) -> None:
    harness.catalog.create_index("closing", dimension=2, metric="cosine")
    registry = harness.backend.registry
    ch1, closing = harness.stub("closing")
    ch2, other = harness.stub("other")
    with ch1, ch2:
        closing.DescribeIndexStats(pb.DescribeIndexStatsRequest())
        other.DescribeIndexStats(pb.DescribeIndexStatsRequest())
        assert registry.connections("closing") == 1
        kept = registry.connections("other")
        harness.run(harness.backend.close_index("closing"))
        assert registry.connections("closing") == 0
        assert registry.connections("other") == kept
        # A client whose connection was closed reconnects transparently on its next call.
        deadline = time.monotonic() + 60  # generous: only a hung close makes it run out
        while True:
            try:
                assert closing.DescribeIndexStats(pb.DescribeIndexStatsRequest()).dimension == 2
                break
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def test_deleted_index_is_not_found(harness: Harness) -> None:
    harness.catalog.create_index("doomed", dimension=2, metric="cosine")
    channel, stub = harness.stub("doomed")
    with channel:
        stub.DescribeIndexStats(pb.DescribeIndexStatsRequest())
        harness.catalog.delete_index("doomed")
        code, message = _code(lambda: stub.DescribeIndexStats(pb.DescribeIndexStatsRequest()))
        assert code == grpc.StatusCode.NOT_FOUND and "doomed" in message


# --- errors ---------------------------------------------------------------------------------------------


def test_invalid_arguments(dense: pb_grpc.VectorServiceStub) -> None:
    cases: list[Callable[[], object]] = [
        lambda: dense.Upsert(pb.UpsertRequest(vectors=[_vec("bad", [1, 2])])),
        lambda: dense.Query(pb.QueryRequest(top_k=1, vector=[1, 2, 3, 4])),
        lambda: dense.Query(pb.QueryRequest(top_k=0, vector=[1, 0, 0])),
        lambda: dense.Query(pb.QueryRequest(top_k=1)),
        lambda: dense.Query(pb.QueryRequest(top_k=1, vector=[1, 0, 0], filter=_struct(x={"$bogus": 1}))),
        lambda: dense.Query(pb.QueryRequest(top_k=1, queries=[pb.QueryVector(values=[1, 0, 0])])),
        lambda: dense.Delete(pb.DeleteRequest()),
        lambda: dense.Update(pb.UpdateRequest(values=[1, 0, 0])),
        lambda: dense.List(pb.ListRequest(pagination_token="garbage!")),
        lambda: dense.Upsert(pb.UpsertRequest(vectors=[_vec("n", [1, 0, 0], nested={"a": 1})])),
    ]
    for call in cases:
        code, message = _code(call)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, message
        assert message


def test_strict_input_and_corrupt_messages(harness: Harness, dense: pb_grpc.VectorServiceStub) -> None:
    before = dense.DescribeIndexStats(pb.DescribeIndexStatsRequest())
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: dense.Upsert(pb.UpsertRequest(vectors=[])), "at least one record"),
        (lambda: dense.Upsert(pb.UpsertRequest(vectors=[_vec("a\x00", [1, 0, 0])])), "U+0000"),
        (lambda: dense.Upsert(pb.UpsertRequest(vectors=[_vec("a\tb", [1, 0, 0])])), "U+0009"),
        (
            lambda: dense.Upsert(pb.UpsertRequest(vectors=[_vec("a", [1, 0, 0])], namespace="n\x00")),
            "namespace",
        ),
        (lambda: dense.Upsert(pb.UpsertRequest(vectors=[_vec("a", [1, 0, 0], **{"k\x01": 1})])), "U+0001"),
        (lambda: dense.Fetch(pb.FetchRequest(ids=["a"], namespace="\x7f")), "U+007F"),
        (lambda: dense.Query(pb.QueryRequest(top_k=1, vector=[1, 0, 0], namespace="\n")), "namespace"),
        (lambda: dense.CreateNamespace(pb.CreateNamespaceRequest(name="bad\x00")), "control character"),
    ]
    channel, _ = harness.stub("dense")
    with channel:
        for name in ("Upsert", "Query", "Fetch", "DescribeIndexStats"):
            raw = channel.unary_unary(f"/VectorService/{name}")
            cases.append((lambda raw=raw: raw(b"\x0a\x05ab"), "not a valid"))
            cases.append((lambda raw=raw: raw(b"\x0a\x02\xff\xfe"), "protobuf"))  # bad UTF-8
        for call, needle in cases:
            code, message = _code(call)
            assert code == grpc.StatusCode.INVALID_ARGUMENT, message
            assert needle in message, message
    assert dense.DescribeIndexStats(pb.DescribeIndexStatsRequest()) == before


def test_already_exists_and_not_found(dense: pb_grpc.VectorServiceStub) -> None:
    dense.CreateNamespace(pb.CreateNamespaceRequest(name="twice"))
    code, message = _code(lambda: dense.CreateNamespace(pb.CreateNamespaceRequest(name="twice")))
    assert code == grpc.StatusCode.ALREADY_EXISTS and "twice" in message
    code, _ = _code(lambda: dense.DeleteNamespace(pb.DeleteNamespaceRequest(namespace="never")))
    assert code == grpc.StatusCode.NOT_FOUND


def test_api_key_checked() -> None:
    catalog = Catalog(None)
    catalog.create_index("locked", dimension=2, metric="cosine")
    h = Harness(catalog, api_keys=("secret",))
    try:
        channel, stub = h.stub("locked")
        with channel:
            code, _ = _code(lambda: stub.DescribeIndexStats(pb.DescribeIndexStatsRequest()))
            assert code == grpc.StatusCode.UNAUTHENTICATED
            code, _ = _code(
                lambda: stub.DescribeIndexStats(
                    pb.DescribeIndexStatsRequest(), metadata=[("api-key", "wrong")]
                )
            )
            assert code == grpc.StatusCode.UNAUTHENTICATED
            ok = stub.DescribeIndexStats(pb.DescribeIndexStatsRequest(), metadata=[("api-key", "secret")])
            assert ok.dimension == 2
    finally:
        h.close()
        catalog.close()


class _RaisingCatalog:
    """A catalog whose every index raises `exc`: to check the status mapping of each error class."""

    def __init__(self) -> None:
        self.exc: BaseException = RuntimeError("boom")

    def index(self, name: str) -> Any:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (errors.IndexNotFoundError("no such index"), grpc.StatusCode.NOT_FOUND),
        (errors.InvalidFilterError("bad filter"), grpc.StatusCode.INVALID_ARGUMENT),
        (errors.AlreadyExistsError("exists"), grpc.StatusCode.ALREADY_EXISTS),
        (errors.ForbiddenError("protected"), grpc.StatusCode.PERMISSION_DENIED),
        (errors.UnauthenticatedError("who"), grpc.StatusCode.UNAUTHENTICATED),
        (errors.ResourceExhaustedError("slow down"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (RuntimeError("secret internals"), grpc.StatusCode.INTERNAL),
    ],
)
def test_error_table_to_status(
    exc: BaseException, status: grpc.StatusCode, caplog: pytest.LogCaptureFixture
) -> None:
    catalog = _RaisingCatalog()
    catalog.exc = exc
    h = Harness(catalog)
    try:
        channel, stub = h.stub("x")
        with channel:
            code, message = _code(lambda: stub.Fetch(pb.FetchRequest(ids=["a"])))
    finally:
        h.close()
    assert code == status
    if isinstance(exc, errors.SpruceError):
        assert message == exc.message
    else:
        # Our bugs are logged with the traceback and not leaked to the client.
        assert "secret internals" not in message
        assert any("secret internals" in (r.exc_text or "") or r.exc_info for r in caplog.records)

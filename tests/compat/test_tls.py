"""TLS: `spruce serve --tls-cert/--tls-key` serves HTTPS and gRPC over TLS on the same ports (ALPN), to
the official SDKs trusting a test CA; and mismatched clients fail fast with an error that says why.

No test here asserts on time: a hang would show as a timeout error (generous timeouts), and the tests
assert on the kind of failure instead.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pinecone import Pinecone, RetryConfig, ServerlessSpec
from pinecone.errors import PineconeConnectionError, PineconeError, UnauthorizedError
from pinecone.grpc import GrpcIndex

from tests.compat.conftest import Launcher, RunningServer
from tests.compat.tls_certs import TlsFiles

pytestmark = pytest.mark.compat

ROOT = Path(__file__).resolve().parents[2]
PY9 = ROOT / ".compat-venvs" / "pinecone9" / "bin" / "python"
SCENARIO9 = Path(__file__).with_name("grpc9_scenario.py")
KEY = "tls-key-1"
DIM = 4
# Far longer than any failure takes; only a hang would reach it.
HANG = 60.0


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles) -> Iterator[RunningServer]:
    launch = Launcher()
    server = launch.start(tmp_path_factory.mktemp("tls") / "data", api_keys=[KEY], tls=tls_files)
    try:
        yield server
    finally:
        assert launch.stop(server) == 0, server.log.read_text()


@pytest.fixture
def trust_ca(monkeypatch: pytest.MonkeyPatch, tls_files: TlsFiles) -> None:
    # httpx (the SDKs' REST client) and rustls-native-certs (their gRPC client) both read it.
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.ca))


def _vec(i: int) -> list[float]:
    return [float(i + 1), 0.5, -0.25, 0.125]


def test_sdk_v10_rest_and_grpc_over_tls(tls_server: RunningServer, trust_ca: None) -> None:
    assert tls_server.url.startswith("https://")
    with Pinecone(api_key=KEY, host=tls_server.url) as pc:
        pc.create_index(
            name="tls10", dimension=DIM, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
        )
        host = pc.describe_index("tls10").host
        assert host.startswith("https://127.0.0.1:")
        rest = pc.index(host=host)
        assert rest.upsert(vectors=[(f"r{i}", _vec(i)) for i in range(5)]).upserted_count == 5
        grpc_index = pc.index(host=host, grpc=True)  # gRPC dials TLS by default
        try:
            assert grpc_index.upsert(vectors=[(f"g{i}", _vec(i)) for i in range(5)]).upserted_count == 5
            # REST and gRPC on one port, over one TLS certificate, see the same data.
            assert grpc_index.describe_index_stats().total_vector_count == 10
            assert set(rest.fetch(ids=["g1", "r1"]).vectors) == {"g1", "r1"}
            assert grpc_index.query(vector=_vec(3), top_k=1).matches[0].id in {"r3", "g3"}
        finally:
            grpc_index.close()
        rest.close()
        with Pinecone(api_key="wrong", host=tls_server.url) as bad:
            with pytest.raises(UnauthorizedError):
                bad.list_indexes()
            bad_grpc = bad.index(host=host, grpc=True)
            try:
                with pytest.raises(PineconeError) as caught:
                    bad_grpc.describe_index_stats()
                assert "api key" in str(caught.value).lower()
            finally:
                bad_grpc.close()


def test_sdk_v9_grpc_always_dials_tls(tls_server: RunningServer, tls_files: TlsFiles) -> None:
    if not PY9.exists():
        pytest.skip(f"pinecone[grpc]==9.1.0 virtualenv not found at {PY9} (make compat-venvs)")
    env = {"SSL_CERT_FILE": str(tls_files.ca), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [str(PY9), str(SCENARIO9), tls_server.url, KEY, str(DIM)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "grpc9 tls scenario ok" in proc.stdout


def test_untrusted_certificate_is_refused_by_the_client(tls_server: RunningServer) -> None:
    # Without the CA the client must not connect: TLS is real, not decoration.
    with pytest.raises(httpx.ConnectError) as caught:
        httpx.get(f"{tls_server.url}/health", timeout=HANG, verify=ssl.create_default_context())
    assert "certificate" in str(caught.value).lower()


def test_plaintext_http_on_a_tls_port_is_told_to_use_https(tls_server: RunningServer) -> None:
    r = httpx.get(f"http://127.0.0.1:{tls_server.port}/health", timeout=HANG)
    assert r.status_code == 400
    assert "https://" in r.json()["error"]["message"]


def test_health_over_tls_names_the_index_only_to_key_holders(
    tls_server: RunningServer, tls_files: TlsFiles, trust_ca: None
) -> None:
    with Pinecone(api_key=KEY, host=tls_server.url) as pc:
        if not pc.has_index("tlshealth"):
            pc.create_index(
                name="tlshealth",
                dimension=DIM,
                metric="cosine",
                spec=ServerlessSpec(cloud="aws", region="us-east-1"),
            )
        host = pc.describe_index("tlshealth").host
    verify = ssl.create_default_context(cafile=tls_files.ca)
    anonymous = httpx.get(f"{host}/health", timeout=HANG, verify=verify).json()
    assert anonymous == {"status": "ok"}
    keyed = httpx.get(f"{host}/health", timeout=HANG, verify=verify, headers={"Api-Key": KEY}).json()
    assert keyed == {"status": "ok", "index": "tlshealth"}


def _wait_for_log(server: RunningServer, text: str) -> bool:
    deadline = time.monotonic() + HANG
    while time.monotonic() < deadline:
        if text in server.log.read_text():
            return True
        time.sleep(0.05)
    return False


def test_tls_client_on_a_plaintext_port_is_refused_at_once(spruce_server: RunningServer) -> None:
    context = ssl.create_default_context()
    # A hang would raise TimeoutError (not caught here): the refusal is an EOF or a reset.
    with (
        socket.create_connection(("127.0.0.1", spruce_server.port), timeout=HANG) as raw,
        pytest.raises((ssl.SSLError, ConnectionError)) as caught,
    ):
        context.wrap_socket(raw, server_hostname="localhost")
    assert not isinstance(caught.value, TimeoutError)
    assert _wait_for_log(spruce_server, "TLS client on a plaintext port; start with --tls-cert/--tls-key")
    # The SDK's REST client gets a connection error, not a read timeout.
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"https://127.0.0.1:{spruce_server.port}/health", timeout=HANG)
    # The port still serves plaintext clients.
    assert httpx.get(f"{spruce_server.url}/health", timeout=HANG).status_code == 200


def test_grpc_sdk_dialing_tls_on_a_plaintext_port_fails_with_a_connection_error(
    spruce_server: RunningServer,
) -> None:
    pc: Any = Pinecone(api_key="k", host=spruce_server.url)
    with pc:
        pc.create_index(
            name="plainport",
            dimension=DIM,
            metric="cosine",
            spec=ServerlessSpec(cloud="aws", region="us-east-1"),
        )
        host = pc.describe_index("plainport").host
        # One attempt: the SDK retries connection errors with backoff for ~30 s, which is its policy,
        # not a hang; what matters is what one attempt gets.
        index = GrpcIndex(host=host, api_key="k", secure=True, retry_config=RetryConfig(max_retries=0))
        try:
            with pytest.raises(PineconeConnectionError) as caught:
                index.describe_index_stats()
            assert "tls handshake eof" in str(caught.value).lower(), caught.value
        finally:
            index.close()


def test_plaintext_grpc_on_a_tls_port_is_closed_not_left_hanging(
    tls_server: RunningServer, trust_ca: None
) -> None:
    import grpc

    from spruce.wire.pb import vector_service_pb2 as pb
    from spruce.wire.pb import vector_service_pb2_grpc as pb_grpc

    with Pinecone(api_key=KEY, host=tls_server.url) as pc:
        if not pc.has_index("tlsplain"):
            pc.create_index(
                name="tlsplain",
                dimension=DIM,
                metric="cosine",
                spec=ServerlessSpec(cloud="aws", region="us-east-1"),
            )
        target = pc.describe_index("tlsplain").host.split("://", 1)[1]
    with grpc.insecure_channel(target) as channel:
        stub = pb_grpc.VectorServiceStub(channel)
        with pytest.raises(grpc.RpcError) as caught:
            stub.DescribeIndexStats(pb.DescribeIndexStatsRequest(), metadata=[("api-key", KEY)], timeout=HANG)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value

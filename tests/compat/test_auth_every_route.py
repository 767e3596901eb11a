"""With API keys configured, every route of every port refuses a request without a valid key: REST routes
enumerated from the apps themselves (so a new route is covered the day it is added), and every gRPC
method of the .proto's VectorService, checked before the request's bytes are even decoded. Run on a
plaintext server and on a TLS one.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import httpx
import pytest
from pinecone import Pinecone, ServerlessSpec
from starlette.routing import Route

from spruce.api.grpc.service import METHODS, SERVICE_NAME
from spruce.api.rest import create_control_app, create_index_app
from spruce.api.rest.console import OPEN_PAGES, OPEN_PREFIX
from spruce.api.rest.middleware import OPEN_PATHS
from spruce.config import ServerConfig
from spruce.service.catalog import Catalog
from spruce.wire.pb import vector_service_pb2 as pb
from tests.compat.conftest import Launcher, RunningServer
from tests.compat.tls_certs import TlsFiles

pytestmark = pytest.mark.compat

KEY = "the-key"
# Not a valid protobuf message of any request type: a truncated length-delimited field.
CORRUPT = b"\x0a\x05ab"


def _routes(app: object) -> list[tuple[str, str]]:
    starlette = app.app  # type: ignore[attr-defined]  # SpruceMiddleware wraps the Starlette app
    out = []
    for route in starlette.routes:
        assert isinstance(route, Route)
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        out += [(method, path) for method in sorted(route.methods or ()) if method != "HEAD"]
    return out


def _app_routes() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    catalog = Catalog(None)
    try:
        catalog.create_index("probe", dimension=2)
        config = ServerConfig(api_keys=(KEY,))
        return _routes(create_control_app(catalog, config)), _routes(
            create_index_app(catalog, "probe", config)
        )
    finally:
        catalog.close()


@dataclass
class Keyed:
    server: RunningServer
    index_host: str
    verify: ssl.SSLContext | bool  # for httpx
    credentials: grpc.ChannelCredentials | None  # None: plaintext


@pytest.fixture(scope="module", params=["plaintext", "tls"])
def keyed(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tls_files: TlsFiles
) -> Iterator[Keyed]:
    tls = tls_files if request.param == "tls" else None
    launch = Launcher()
    server = launch.start(tmp_path_factory.mktemp("auth") / "data", api_keys=[KEY], tls=tls)
    verify: ssl.SSLContext | bool = True
    credentials = None
    if tls is not None:
        verify = ssl.create_default_context(cafile=tls.ca)
        credentials = grpc.ssl_channel_credentials(root_certificates=tls.ca.read_bytes())
    try:
        with Pinecone(api_key=KEY, host=server.url, ssl_ca_certs=None if tls is None else str(tls.ca)) as pc:
            pc.create_index(
                name="locked",
                dimension=2,
                metric="cosine",
                spec=ServerlessSpec(cloud="aws", region="us-east-1"),
            )
            host = pc.describe_index("locked").host
        yield Keyed(server, host, verify, credentials)
    finally:
        assert launch.stop(server) == 0, server.log.read_text()


def test_every_rest_route_of_every_port_needs_the_key(keyed: Keyed) -> None:
    server, index_host = keyed.server, keyed.index_host
    control_routes, index_routes = _app_routes()
    assert ("POST", "/vectors/upsert") in index_routes and ("GET", "/indexes") in control_routes
    failures = []
    checked = skipped = 0
    client = httpx.Client(timeout=30, verify=keyed.verify)
    for base, routes in ((server.url, control_routes), (index_host, index_routes)):
        for method, path in routes:
            if path in OPEN_PATHS or path in OPEN_PAGES or path.startswith(OPEN_PREFIX):
                skipped += 1  # /health, and the console's static files (they ask for the key themselves)
                continue
            for headers in ({}, {"Api-Key": "wrong"}, {"Api-Key": KEY.upper()}):
                body = {"json": {}} if method in ("POST", "PATCH") else {}
                r = client.request(method, base + path, headers=headers, **body)
                checked += 1
                if r.status_code != 401 or r.json()["error"]["code"] != "UNAUTHENTICATED":
                    failures.append(f"{method} {base}{path} {headers} -> {r.status_code} {r.text[:120]}")
    client.close()
    assert not failures, "\n".join(failures)
    assert checked == 3 * (len(control_routes) + len(index_routes) - skipped)
    assert skipped <= 2 + 2 * len(OPEN_PAGES) + 2, "only /health and the console's files are open"


def test_open_paths_say_nothing_about_the_index_without_a_key(keyed: Keyed) -> None:
    assert {"/health"} == OPEN_PATHS
    with httpx.Client(timeout=30, verify=keyed.verify) as client:
        health = f"{keyed.index_host}/health"
        assert client.get(health).json() == {"status": "ok"}
        assert client.get(health, headers={"Api-Key": "wrong"}).json() == {"status": "ok"}
        assert client.get(health, headers={"Api-Key": KEY}).json() == {"status": "ok", "index": "locked"}
        assert client.get(f"{keyed.server.url}/health").json() == {"status": "ok"}


def test_methods_table_covers_the_proto() -> None:
    service = pb.DESCRIPTOR.services_by_name[SERVICE_NAME]
    assert set(METHODS) == {m.name for m in service.methods}
    for m in service.methods:
        assert METHODS[m.name][0].DESCRIPTOR.full_name == m.input_type.full_name


def test_every_grpc_method_checks_the_key_before_decoding(keyed: Keyed) -> None:
    target = keyed.index_host.split("://", 1)[1]
    service = pb.DESCRIPTOR.services_by_name[SERVICE_NAME]
    channel = (
        grpc.insecure_channel(target)
        if keyed.credentials is None
        else grpc.secure_channel(target, keyed.credentials)
    )
    with channel:
        for method in service.methods:
            call = channel.unary_unary(f"/{SERVICE_NAME}/{method.name}")
            # Corrupt bytes without a key: UNAUTHENTICATED, so the bytes were never parsed.
            for metadata in ((), (("api-key", "wrong"),)):
                with pytest.raises(grpc.RpcError) as caught:
                    call(CORRUPT, metadata=metadata, timeout=30)
                assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED, (method.name, metadata)
            # With the key, the same bytes are a clear INVALID_ARGUMENT naming the message type.
            with pytest.raises(grpc.RpcError) as caught:
                call(CORRUPT, metadata=(("api-key", KEY),), timeout=30)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, method.name
            assert method.input_type.name in caught.value.details()
            assert "protobuf" in caught.value.details()

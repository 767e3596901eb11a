"""Runs `spruce serve` as a real subprocess on a free loopback port, for the official SDKs to talk to."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.compat.tls_certs import TlsFiles, make_tls_files

STARTUP_TIMEOUT = 180.0  # generous: a loaded machine can take long to import and open
SHUTDOWN_TIMEOUT = 30.0


@dataclass
class RunningServer:
    url: str
    port: int
    data: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def index_host(self, name: str) -> str:
        return str(httpx.get(f"{self.url}/indexes/{name}", timeout=10).json()["host"])


def free_port() -> int:
    # Leave room above it: the server gives each index the next free port upward.
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port < 60000:
            return port


def start_server(
    data: Path,
    api_keys: Sequence[str] = (),
    port: int | None = None,
    extra_args: Sequence[str] = (),
    tls: TlsFiles | None = None,
    env: Mapping[str, str] | None = None,
    strip: tuple[str, ...] = ("SPRUCE_",),
) -> RunningServer:
    """`tls`: serve HTTPS/gRPC over TLS with its certificate (the readiness probe trusts its CA).
    The server gets this process' environment less the variables starting with `strip`, plus `env`."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "spruce.cli", "serve", "--data", str(data), "--port", str(port)]
    cmd += ["--host", "127.0.0.1", *extra_args]
    if tls is not None:
        cmd += ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
    for key in api_keys:
        cmd += ["--api-key", key]
    log = data.parent / f"{data.name}-server-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(strip)}
    full_env.update(env or {})
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=full_env)
    url = f"{'http' if tls is None else 'https'}://127.0.0.1:{port}"
    verify: ssl.SSLContext | bool = True if tls is None else ssl.create_default_context(cafile=tls.ca)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"spruce serve exited with {proc.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1.0, verify=verify).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"spruce serve did not become ready in {STARTUP_TIMEOUT}s:\n{log.read_text()}")
        time.sleep(0.05)
    return RunningServer(url=url, port=port, data=data, proc=proc, log=log)


def stop_server(server: RunningServer) -> int:
    """SIGTERM, wait for a clean exit, return the exit code (killing it if it hangs)."""
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
        try:
            server.proc.wait(SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()
            raise AssertionError(f"spruce serve ignored SIGTERM:\n{server.log.read_text()}") from None
    return server.proc.returncode


@pytest.fixture(scope="module")
def spruce_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A fresh server with its own data directory per test module; yields it (`.url` is the base URL)."""
    data = tmp_path_factory.mktemp("spruce") / "data"
    server = start_server(data)
    try:
        yield server
    finally:
        code = stop_server(server)
        assert code == 0, f"spruce serve exited with {code}:\n{server.log.read_text()}"


@pytest.fixture(scope="module")
def base_url(spruce_server: RunningServer) -> str:
    return spruce_server.url


class Launcher:
    """Starts extra servers inside a test (restarts, API keys); stops any still running at teardown."""

    def __init__(self) -> None:
        self.running: list[RunningServer] = []

    def start(
        self,
        data: Path,
        api_keys: Sequence[str] = (),
        port: int | None = None,
        extra_args: Sequence[str] = (),
        tls: TlsFiles | None = None,
    ) -> RunningServer:
        server = start_server(data, api_keys, port, extra_args, tls)
        self.running.append(server)
        return server

    def stop(self, server: RunningServer) -> int:
        self.running.remove(server)
        return stop_server(server)


@pytest.fixture
def launcher() -> Iterator[Launcher]:
    launch = Launcher()
    try:
        yield launch
    finally:
        for server in list(launch.running):
            launch.stop(server)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A test CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))

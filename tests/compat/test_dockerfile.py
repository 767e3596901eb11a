"""The Dockerfile builds and its image serves, when a container runtime (docker or podman) with a
running daemon is present; skipped with the reason otherwise."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.compat.conftest import free_port

pytestmark = [pytest.mark.compat, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BASE = "python:3.11-slim"


def _runtime() -> str:
    for name in ("docker", "podman"):
        exe = shutil.which(name)
        if exe and subprocess.run([exe, "info"], capture_output=True, timeout=60).returncode == 0:
            return exe
    pytest.skip("no container runtime with a running daemon (docker or podman)")


def test_dockerfile_builds_and_serves() -> None:
    exe = _runtime()
    if subprocess.run([exe, "image", "inspect", BASE], capture_output=True).returncode != 0:
        pulled = subprocess.run([exe, "pull", BASE], capture_output=True, text=True, timeout=600)
        if pulled.returncode != 0:
            pytest.skip(f"base image {BASE} is not available here: {pulled.stderr[-300:]}")
    tag = f"spruce-test:{uuid.uuid4().hex[:8]}"
    built = subprocess.run([exe, "build", "-t", tag, str(ROOT)], capture_output=True, text=True, timeout=1800)
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    port = free_port()
    name = f"spruce-{uuid.uuid4().hex[:8]}"
    run = [exe, "run", "-d", "--rm", "--name", name, "-p", f"127.0.0.1:{port}:5080", tag]
    started = subprocess.run(run, capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr
    try:
        # Until it answers, or until it is no longer running (then its logs say why); a hang is
        # reported by pytest-timeout.
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            inspect = [exe, "inspect", "-f", "{{.State.Running}}", name]
            state = subprocess.run(inspect, capture_output=True, text=True)
            if state.stdout.strip() != "true":
                logs = subprocess.run([exe, "logs", name], capture_output=True, text=True)
                raise AssertionError(
                    f"container stopped before it became healthy:\n{logs.stdout}{logs.stderr}"
                )
            time.sleep(0.5)
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200  # the console
        body = {"name": "c", "dimension": 2, "metric": "cosine"}
        assert httpx.post(f"http://127.0.0.1:{port}/indexes", json=body).status_code == 201
    finally:
        subprocess.run([exe, "rm", "-f", name], capture_output=True, timeout=60)
        subprocess.run([exe, "rmi", "-f", tag], capture_output=True, timeout=60)

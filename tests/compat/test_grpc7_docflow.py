"""`--schemeless-hosts 2025-04`: pinecone 7.x's gRPC client works with describe_index's host as
Pinecone Local's docs use it, while pinecone 10.x (API 2025-10) keeps getting http:// hosts and
works over REST and gRPC on the same server."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pinecone import Pinecone

from tests.compat.conftest import Launcher
from tests.compat.test_grpc_sdk_v7 import PY7, _sdk7_available

pytestmark = pytest.mark.compat

SCRIPT = Path(__file__).with_name("grpc7_docflow.py")


def test_grpc7_doc_flow_and_10x_on_one_server(tmp_path: Path, launcher: Launcher) -> None:
    if not _sdk7_available():
        pytest.skip(f"pinecone[grpc]==7.3.0 virtualenv not found at {PY7}")
    server = launcher.start(tmp_path / "data", extra_args=["--schemeless-hosts", "2025-04"])
    proc = subprocess.run(
        [str(PY7), str(SCRIPT), server.url, "docs7"], capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "grpc7 docflow ok" in proc.stdout

    pc = Pinecone(api_key="k", host=server.url)
    host = pc.describe_index("docs7").host
    assert host.startswith("http://127.0.0.1:"), host
    rest = pc.Index(host=host)
    assert rest.fetch(ids=["vec2"], namespace="ex").vectors["vec2"].values == [3.0, -2.0]
    rest.upsert(vectors=[("vec3", [0.5, 0.5])], namespace="ex")
    grpc = Pinecone(api_key="k", grpc_scheme="http").index(host=host, grpc=True)
    assert grpc.describe_index_stats().namespaces["ex"].vector_count == 3
    assert grpc.query(vector=[1.0, -2.5], top_k=1, namespace="ex").matches[0].id == "vec1"

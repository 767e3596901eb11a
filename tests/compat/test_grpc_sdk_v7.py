"""pinecone[grpc]==7.3.0 (grpcio client, API 2025-04) against `spruce serve`, in its own virtualenv.

7.x and 10.x cannot share an environment, so the scenario runs as a script under the pinecone7 venv's
python (tests/compat/grpc7_scenario.py) and this test checks its exit status.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pinecone import Pinecone, ServerlessSpec

pytestmark = pytest.mark.compat

ROOT = Path(__file__).resolve().parents[2]
PY7 = ROOT / ".compat-venvs" / "pinecone7" / "bin" / "python"
SCENARIO = Path(__file__).with_name("grpc7_scenario.py")
DIM = 4


def _sdk7_available() -> bool:
    if not PY7.exists():
        return False
    probe = subprocess.run(
        [str(PY7), "-c", "import pinecone.grpc; assert pinecone.__version__.startswith('7.')"],
        capture_output=True,
        timeout=120,
    )
    return probe.returncode == 0


def test_grpc_sdk_v7_scenario(base_url: str) -> None:
    if not _sdk7_available():
        pytest.skip(f"pinecone[grpc]==7.3.0 virtualenv not found at {PY7}")
    with Pinecone(api_key="k", host=base_url) as pc:
        pc.create_index(
            name="grpc7",
            dimension=DIM,
            metric="dotproduct",
            spec=ServerlessSpec(cloud="aws", region="us-east-1"),
        )
        host = pc.describe_index("grpc7").host
    proc = subprocess.run(
        [str(PY7), str(SCENARIO), base_url, host, str(DIM)], capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "grpc7 scenario ok" in proc.stdout

"""pinecone==7.3.0 `pc.inference` (sync and asyncio) against `spruce serve`, in its own virtualenv."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.compat

ROOT = Path(__file__).resolve().parents[2]
PYTHON7 = ROOT / ".compat-venvs" / "pinecone7" / "bin" / "python"
SCENARIO = Path(__file__).with_name("inference7_scenario.py")


def test_pinecone7_inference(base_url: str) -> None:
    if not PYTHON7.exists():
        pytest.fail(f"{PYTHON7} is missing: run `make compat-venvs` (make test builds it)")
    proc = subprocess.run(
        [str(PYTHON7), str(SCENARIO), base_url], capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, f"inference7 scenario failed:\n{proc.stdout}\n{proc.stderr}"
    assert "inference7 scenario passed" in proc.stdout

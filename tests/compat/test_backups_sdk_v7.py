"""Backups through pinecone==7.3.0 (API 2025-04), in its own virtualenv, against `spruce serve`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.compat

ROOT = Path(__file__).resolve().parents[2]
PYTHON7 = ROOT / ".compat-venvs" / "pinecone7" / "bin" / "python"
SCENARIO = Path(__file__).with_name("backups7_scenario.py")


def test_pinecone7_backups(base_url: str) -> None:
    if not PYTHON7.exists():
        pytest.fail(f"{PYTHON7} is missing: run `make compat-venvs` (make test builds it)")
    proc = subprocess.run(
        [str(PYTHON7), str(SCENARIO), base_url], capture_output=True, text=True, timeout=240, check=False
    )
    assert proc.returncode == 0, f"backups7 scenario failed:\n{proc.stdout}\n{proc.stderr}"
    assert "backups7 scenario passed" in proc.stdout

"""The guide's import flow through pinecone 7.3.0 (in its own virtualenv, as a subprocess)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pyarrow as pa
import pytest

from tests.imports.conftest import S3, Servers, dense_table

pytestmark = pytest.mark.compat

ROOT = Path(__file__).resolve().parents[2]
PYTHON7 = ROOT / ".compat-venvs" / "pinecone7" / "bin" / "python"


def test_pinecone7_import_flow(servers: Servers, s3: S3) -> None:
    if not PYTHON7.exists():
        pytest.fail(f"{PYTHON7} is missing: run `make compat-venvs` (make test builds it)")
    s3.write("v7/ns-a/part-0.parquet", dense_table("a", 25, 8, 1))
    s3.write("v7/ns-a/part-1.parquet", dense_table("a2-", 15, 8, 2))
    s3.write("v7/__default__/part-0.parquet", dense_table("d", 20, 8, 3))
    s3.write("v7b/ns-b/part-0.parquet", dense_table("b", 10, 8, 4))
    bad = pa.table(
        {
            "id": ["x"],
            "values": pa.array([[0.1] * 3], pa.list_(pa.float32())),
            "metadata": pa.array([None], pa.string()),
        }
    )
    s3.write("v7bad/ns-bad/part-0.parquet", pa.concat_tables([dense_table("g", 5, 8, 5), bad]))
    server = servers.start("v7")
    proc = subprocess.run(
        [str(PYTHON7), str(Path(__file__).with_name("import7_scenario.py")), server.url, s3.bucket],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, f"import7 scenario failed:\n{proc.stdout}\n{proc.stderr}"
    assert "import7 scenario passed" in proc.stdout

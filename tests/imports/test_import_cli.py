"""`spruce import` / `spruce export` on a data directory and through a server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pyarrow.parquet as pq
from click.testing import CliRunner

import spruce
from spruce.cli import main
from tests.imports.conftest import S3, Servers, dense_table


def test_cli_import_export_on_data_dir_and_server(tmp_path: Path, servers: Servers, s3: S3) -> None:
    src = tmp_path / "src" / "ns"
    src.mkdir(parents=True)
    pq.write_table(dense_table("r", 40, 4, 1), src / "p.parquet")
    data = tmp_path / "data"
    with spruce.Client(data) as db:
        db.create_index("i", dimension=4)
    runner = CliRunner()
    out = runner.invoke(main, ["import", str(tmp_path / "src"), "--index", "i", "--data", str(data)])
    assert out.exit_code == 0, out.output
    assert "import Completed: 40 records" in out.output
    out = runner.invoke(main, ["export", "i", str(tmp_path / "out"), "--data", str(data)])
    assert out.exit_code == 0 and "exported 40 records in 1 namespaces" in out.output, out.output
    assert pq.read_table(tmp_path / "out" / "ns" / "part-00000.parquet").num_rows == 40

    server = servers.start("cli")
    httpx.post(
        f"{server.url}/indexes",
        json={
            "name": "j",
            "dimension": 4,
            "metric": "cosine",
            "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
        },
    )
    out = runner.invoke(main, ["import", str(tmp_path / "out"), "--index", "j", "--url", server.url])
    assert out.exit_code == 0 and "import Completed: 40 records" in out.output, out.output
    out = runner.invoke(
        main, ["export", "j", f"s3://{s3.bucket}/cli-export", "--url", server.url], env=s3.env
    )
    assert out.exit_code == 0 and "exported 40 records" in out.output, out.output
    assert pq.read_table(f"{s3.bucket}/cli-export/ns/part-00000.parquet", filesystem=s3.fs()).num_rows == 40
    out = runner.invoke(main, ["import", "ftp://x", "--index", "j", "--url", server.url])
    assert out.exit_code != 0 and "scheme" in out.output

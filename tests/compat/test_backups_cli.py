"""`spruce backup / restore / backups` embedded (--data) and through a running server (--url): the
same output either way, and a damaged backup refused over HTTP with 412 and the file named."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import orjson
from click.testing import CliRunner

import spruce
from spruce.cli import main

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
STAMP = re.compile(r"\d{4}-\d\d-\d\dT[0-9:.]+Z")


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _shape(text: str) -> str:
    return STAMP.sub("<time>", UUID.sub("<id>", text))


def test_cli_same_output_embedded_and_remote(tmp_path: Path, launcher: Any) -> None:
    data = tmp_path / "data"
    with spruce.Client(path=data) as db:
        db.create_index(name="films", dimension=3)
        db.Index("films").upsert(vectors=[("a", [1, 2, 3]), ("b", [3, 2, 1])], namespace="x")
    local = _run("backup", "films", "--name", "one", "--data", str(data))
    local_id = UUID.search(local).group(0)  # type: ignore[union-attr]
    local_restore = _run("restore", local_id, "--name", "films-a", "--data", str(data))

    server = launcher.start(data)
    remote = _run("backup", "films", "--name", "one", "--url", server.url)
    remote_id = UUID.search(remote).group(0)  # type: ignore[union-attr]
    remote_restore = _run("restore", remote_id, "--name", "films-b", "--url", server.url)
    assert _shape(local) == _shape(remote)
    assert _shape(local_restore).replace("films-a", "films-b") == _shape(remote_restore)
    assert "Completed" in remote_restore and "2 records in 1 namespaces" in remote
    listing_remote = _run("backups", "--url", server.url)
    as_json = orjson.loads(_run("backups", "--index", "films", "--url", server.url, "--json"))
    assert [b["backup_id"] for b in as_json["data"]] == [local_id, remote_id]
    host = httpx.get(f"{server.url}/indexes/films-b").json()["host"]
    assert httpx.post(f"{host}/describe_index_stats", json={}).json()["totalVectorCount"] == 2

    # A damaged backup: the server answers 412 naming the file, and creates no index.
    wal = next((data / "backups" / remote_id / "data" / "wal").glob("wal-*.log"))
    raw = bytearray(wal.read_bytes())
    raw[-1] ^= 0x10
    wal.write_bytes(bytes(raw))
    answer = httpx.post(f"{server.url}/backups/{remote_id}/create-index", json={"name": "films-c"})
    assert answer.status_code == 412, answer.text
    assert wal.name in answer.json()["error"]["message"]
    assert httpx.get(f"{server.url}/indexes/films-c").status_code == 404
    failed = CliRunner().invoke(main, ["restore", remote_id, "--name", "films-c", "--url", server.url])
    assert failed.exit_code == 1 and "412" in failed.output and "damaged" in failed.output
    launcher.stop(server)

    assert _shape(_run("backups", "--data", str(data))) == _shape(listing_remote)

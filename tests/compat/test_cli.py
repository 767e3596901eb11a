"""The `spruce` CLI on a data directory (embedded) and against a running server (--url), with the
same output both ways."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import spruce
from spruce.cli import main
from tests.compat.conftest import Launcher

pytestmark = pytest.mark.compat

VECTORS = [
    ("A", [0.1, 0.2, 0.3, 0.4], {"genre": "comedy"}),
    ("B", [0.4, 0.3, 0.2, 0.1], {"genre": "drama"}),
    ("C", [0.2, 0.2, 0.2, 0.2], {"genre": "drama"}),
]


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def fails(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code != 0, result.output
    return result.output


def test_version() -> None:
    assert run("--version").strip() == f"spruce {spruce.__version__}"


def _session(where: list[str]) -> dict[str, str]:
    out = {
        "stats": run("stats", "movies", *where),
        "stats_json": run("stats", "movies", "--json", *where),
        "query": run("query", "movies", "--vector", "[0.4, 0.3, 0.2, 0.1]", "-n", "ns1", *where),
        "query_id": run("query", "movies", "--id", "A", "-k", "2", "-n", "ns1", "--json", *where),
        "query_filter": run(
            "query", "movies", "--id", "B", "-n", "ns1", "--filter", '{"genre": "drama"}', "--json", *where
        ),
    }
    listed = json.loads(run("indexes", "list", "--json", *where))
    described = json.loads(run("indexes", "describe", "movies", "--json", *where))
    for item in [*listed, described]:
        item.pop("host")  # embedded://movies vs http://127.0.0.1:port
    out["list"] = json.dumps(listed)
    out["describe"] = json.dumps(described)
    out["missing"] = fails("stats", "nope", *where)
    return out


def test_same_output_embedded_and_server(tmp_path: Path, launcher: Launcher) -> None:
    data = tmp_path / "data"
    assert "dense" in run("indexes", "create", "movies", "--dimension", "4", "--data", str(data))
    with spruce.Client(data) as db:
        db.Index("movies").upsert(vectors=VECTORS, namespace="ns1")
    embedded = _session(["--data", str(data)])

    server = launcher.start(data, api_keys=["k"])
    remote = _session(["--url", server.url, "--api-key", "k"])
    assert "Api-Key" in fails("stats", "movies", "--url", server.url)  # no key
    launcher.stop(server)

    assert embedded == remote
    assert json.loads(embedded["stats_json"]) == {
        "dimension": 4,
        "metric": "cosine",
        "namespaces": {"ns1": 3},
        "total": 3,
        "vector_type": "dense",
    }
    assert [m["id"] for m in json.loads(embedded["query_id"])] == ["A", "C"]
    assert [m["id"] for m in json.loads(embedded["query_filter"])] == ["B", "C"]
    assert "B" in embedded["query"].splitlines()[3]  # first row under the header
    assert "index 'nope' not found" in embedded["missing"]


def test_create_variants_and_delete(tmp_path: Path) -> None:
    where = ["--data", str(tmp_path / "d")]
    assert "sparse" in run("indexes", "create", "sp", "--sparse", *where)
    assert "--dimension" in fails("indexes", "create", "dense", *where)
    assert "invalid index name" in fails("indexes", "create", "Bad", "--dimension", "3", *where)
    assert "deleted index sp" in run("indexes", "delete", "sp", "--yes", *where)
    assert "no indexes" in run("indexes", "list", *where)
    assert "no data directory" in fails("indexes", "list", "--data", str(tmp_path / "absent"))


def test_bench_quick() -> None:
    out = run("bench", "--n", "2000", "--dim", "16", "--queries", "20")
    assert "recall@10" in out and "vectors/s" in out

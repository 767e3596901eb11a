"""Pinecone's `/embed` and `/rerank` requests, validated once for REST and the embedded client.

The arguments are what a request carries after JSON decoding (or what SDK-style Python code passes):
inputs as strings or `{"text": ...}` objects, documents as strings or objects with `rank_fields`, and a
`parameters` object whose keys must be among the model's `supported_parameters`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spruce.errors import InvalidArgumentError
from spruce.service.inference.registry import ModelRegistry
from spruce.service.inference.types import EmbedResult, ModelInfo


@dataclass(slots=True)
class Ranked:
    index: int
    score: float
    document: dict[str, Any] | None


@dataclass(slots=True)
class RerankResponse:
    model: str
    data: list[Ranked]
    rerank_units: int


def _model_name(model: Any) -> str:
    if not isinstance(model, str) or not model:
        raise InvalidArgumentError("model is required: a model name such as 'multilingual-e5-large'")
    return model


def _parameters(info: ModelInfo, parameters: Any) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise InvalidArgumentError("parameters must be an object")
    allowed = {p.parameter for p in info.supported_parameters}
    for key in parameters:
        if key not in allowed:
            raise InvalidArgumentError(
                f"parameter {key!r} is not supported by model {info.name!r}; supported: {sorted(allowed)}"
            )
    return dict(parameters)


def _string_param(params: Mapping[str, Any], key: str) -> str | None:
    value = params.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidArgumentError(f"parameters.{key} must be a string")
    return value


def embed(registry: ModelRegistry, model: Any, inputs: Any, parameters: Any = None) -> EmbedResult:
    name = _model_name(model)
    info = registry.get_model(name)
    params = _parameters(info, parameters)
    if inputs is None:
        raise InvalidArgumentError("inputs is required: a list of {'text': ...} objects")
    if isinstance(inputs, str | Mapping) or not isinstance(inputs, Sequence):
        raise InvalidArgumentError("inputs must be a list of {'text': ...} objects or strings")
    texts = []
    for i, item in enumerate(inputs):
        text = item.get("text") if isinstance(item, Mapping) else item
        if not isinstance(text, str):
            raise InvalidArgumentError(f"inputs[{i}] must be a string or an object with a 'text' string")
        texts.append(text)
    dimension = params.get("dimension")
    return_tokens = params.get("return_tokens", False)
    if not isinstance(return_tokens, bool):
        raise InvalidArgumentError("parameters.return_tokens must be a boolean")
    return registry.embed(
        name,
        texts,
        input_type=_string_param(params, "input_type"),
        truncate=_string_param(params, "truncate") or "END",
        dimension=dimension,
        return_tokens=return_tokens,
    )


def rerank(
    registry: ModelRegistry,
    model: Any,
    query: Any,
    documents: Any,
    *,
    rank_fields: Any = None,
    return_documents: Any = True,
    top_n: Any = None,
    parameters: Any = None,
) -> RerankResponse:
    name = _model_name(model)
    info = registry.get_model(name)
    if info.type != "rerank":
        raise InvalidArgumentError(f"model {name!r} is an embed model, not a reranker")
    params = _parameters(info, parameters)
    if not isinstance(query, str) or not query:
        raise InvalidArgumentError("query is required: a non-empty string")
    if documents is None:
        raise InvalidArgumentError("documents is required: a list of strings or objects")
    if isinstance(documents, str | Mapping) or not isinstance(documents, Sequence):
        raise InvalidArgumentError("documents must be a list of strings or objects")
    fields = ["text"] if rank_fields is None else rank_fields
    if (
        isinstance(fields, str)
        or not isinstance(fields, Sequence)
        or not fields
        or not all(isinstance(f, str) for f in fields)
    ):
        raise InvalidArgumentError("rank_fields must be a non-empty list of field names")
    if not isinstance(return_documents, bool):
        raise InvalidArgumentError("return_documents must be a boolean")
    docs: list[dict[str, Any]] = []
    texts: list[str] = []
    for i, doc in enumerate(documents):
        if isinstance(doc, str):
            doc = {"text": doc}
        if not isinstance(doc, Mapping):
            raise InvalidArgumentError(f"documents[{i}] must be a string or an object")
        parts = []
        for f in fields:
            value = doc.get(f)
            if not isinstance(value, str):
                problem = "has no field" if value is None else "has a non-string field"
                raise InvalidArgumentError(f"documents[{i}] {problem} {f!r}, named in rank_fields")
            parts.append(value)
        docs.append(dict(doc))
        texts.append("\n".join(parts))
    result = registry.rerank(
        name, query, texts, top_n=top_n, truncate=_string_param(params, "truncate") or "END"
    )
    data = [Ranked(i, s, docs[i] if return_documents else None) for i, s in result.ranked]
    return RerankResponse(name, data, result.rerank_units)


def describe(info: ModelInfo) -> dict[str, Any]:
    """A model as Pinecone's `/models` describes it (keys without a value left out)."""
    params = []
    for p in info.supported_parameters:
        item: dict[str, Any] = {
            "parameter": p.parameter,
            "type": p.type,
            "value_type": p.value_type,
            "required": p.required,
        }
        if p.allowed_values is not None:
            item["allowed_values"] = list(p.allowed_values)
        for key in ("min", "max", "default"):
            if getattr(p, key) is not None:
                item[key] = getattr(p, key)
        params.append(item)
    out: dict[str, Any] = {
        "model": info.name,
        "short_description": info.description,
        "type": info.type,
        "supported_parameters": params,
        "modality": info.modality,
        "max_sequence_length": info.max_sequence_length,
        "max_batch_size": info.max_batch_size,
        "provider_name": info.provider_name,
    }
    if info.vector_type is not None:
        out["vector_type"] = info.vector_type
    if info.dimension is not None:
        out["default_dimension"] = info.dimension
    if info.supported_dimensions is not None:
        out["supported_dimensions"] = list(info.supported_dimensions)
    if info.supported_metrics is not None:
        out["supported_metrics"] = list(info.supported_metrics)
    return out


def embed_data(result: EmbedResult) -> list[dict[str, Any]]:
    """The `data` items of an `/embed` response."""
    if result.dense is not None:
        return [{"values": row, "vector_type": "dense"} for row in result.dense.tolist()]
    out = []
    for i, vec in enumerate(result.sparse or []):
        item: dict[str, Any] = {
            "sparse_values": vec.values.tolist(),
            "sparse_indices": vec.indices.tolist(),
            "vector_type": "sparse",
        }
        if result.sparse_tokens is not None:
            item["sparse_tokens"] = result.sparse_tokens[i]
        out.append(item)
    return out

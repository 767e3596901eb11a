"""Integrated embedding on the control plane: which model an index embeds with, checked against the registry.

An index created for a model takes the model's vector type and the dimension it reports (or one of the
dimensions it supports, when asked for), so the index never holds vectors of another width than the model
returns for it. Giving an existing index a model (`configure_index(embed=...)`) is allowed only when the
index's vector type, dimension and metric already match that model.
"""

from __future__ import annotations

from dataclasses import replace

from spruce.errors import InvalidArgumentError, NotFoundError
from spruce.service.inference import ModelInfo, get_registry
from spruce.types import METRICS, EmbedSpec, IndexInfo

# Pinecone's own defaults for a model that does not say: dense models score by cosine, sparse by dotproduct.
_DEFAULT_METRIC = {"dense": "cosine", "sparse": "dotproduct"}


def _embed_model(name: str, where: str) -> ModelInfo:
    try:
        info = get_registry().get_model(name)
    except NotFoundError as exc:
        raise InvalidArgumentError(f"{where}model: {exc.message}") from None
    if info.type != "embed":
        raise InvalidArgumentError(
            f"{where}model {name!r} is a {info.type} model; an index needs an embedding model "
            "(see GET /models?type=embed)"
        )
    return info


def _supported_dimensions(info: ModelInfo) -> tuple[int, ...]:
    dims = tuple(info.supported_dimensions or ())
    if info.dimension is not None and info.dimension not in dims:
        dims = (info.dimension, *dims)
    return dims


def _check_metric(info: ModelInfo, metric: str, where: str) -> None:
    if info.supported_metrics and metric not in info.supported_metrics:
        raise InvalidArgumentError(
            f"{where}metric {metric!r} is not supported by model {info.name!r}; "
            f"supported: {', '.join(info.supported_metrics)}"
        )


def resolve(embed: EmbedSpec, where: str = "embed.") -> tuple[EmbedSpec, int | None, str, str]:
    """(embed, dimension, metric, vector_type) for a new index that embeds with `embed.model`.

    `embed.dimension` and `embed.metric` are what the request asked for (None: the model's default)."""
    info = _embed_model(embed.model, where)
    vector_type = str(info.vector_type)
    field = embed.field_map.get("text")
    if not isinstance(field, str) or not field:
        raise InvalidArgumentError(f"{where}field_map must map 'text' to the record field to embed")
    chosen_metric = (embed.metric or _DEFAULT_METRIC[vector_type]).lower()
    if chosen_metric not in METRICS:
        raise InvalidArgumentError(
            f"{where}metric must be one of {', '.join(METRICS)}, got {chosen_metric!r}"
        )
    asked = embed.dimension
    if vector_type == "sparse":
        if chosen_metric != "dotproduct":
            raise InvalidArgumentError(
                f"{where}metric: model {embed.model!r} is sparse and needs metric dotproduct, "
                f"got {chosen_metric!r}"
            )
        if asked is not None:
            raise InvalidArgumentError(f"{where}dimension: model {embed.model!r} is sparse and takes none")
        return replace(embed, metric=chosen_metric, dimension=None), None, chosen_metric, "sparse"
    supported = _supported_dimensions(info)
    _check_metric(info, chosen_metric, where)
    chosen = info.dimension if asked is None else asked
    if chosen not in supported:
        raise InvalidArgumentError(
            f"{where}dimension {asked} is not supported by model {embed.model!r}; "
            f"supported: {', '.join(map(str, supported))}"
        )
    return replace(embed, metric=chosen_metric, dimension=chosen), chosen, chosen_metric, "dense"


def for_existing(info: IndexInfo, embed: EmbedSpec) -> EmbedSpec:
    """The embed settings `configure_index(embed=...)` may give the existing index `info`."""
    if info.embed is not None and embed.model != info.embed.model:
        raise InvalidArgumentError(
            f"embed.model: index {info.name!r} already embeds with {info.embed.model!r}; "
            "the model of an integrated index cannot be changed"
        )
    model = _embed_model(embed.model, "embed.")
    model_type = str(model.vector_type)
    if model_type != info.vector_type:
        raise InvalidArgumentError(
            f"embed.model: model {embed.model!r} makes {model_type} vectors, but index {info.name!r} is "
            f"{info.vector_type}"
        )
    if model_type == "dense" and info.dimension not in _supported_dimensions(model):
        raise InvalidArgumentError(
            f"embed.model: model {embed.model!r} makes vectors of dimension "
            f"{', '.join(map(str, _supported_dimensions(model)))}, but index {info.name!r} has dimension "
            f"{info.dimension}"
        )
    if embed.metric is not None and embed.metric != info.metric:
        raise InvalidArgumentError(
            f"embed.metric {embed.metric!r} differs from the index's metric {info.metric!r}"
        )
    _check_metric(model, info.metric, "embed.model: the index's ")
    field = embed.field_map.get("text")
    if not isinstance(field, str) or not field:
        raise InvalidArgumentError("embed.field_map must map 'text' to the record field to embed")
    return replace(embed, metric=info.metric, dimension=info.dimension)

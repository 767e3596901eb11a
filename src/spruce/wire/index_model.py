"""The control-plane index JSON, per Pinecone API version.

API 2025-01/2025-04/2025-10 describe an index as `dimension/metric/spec` ("classic"); 2026-07 as
`schema{fields}` + `deployment`. The version comes from the `X-Pinecone-API-Version` header; a missing or
unknown version gets the newest shape. Create bodies are accepted in either shape whatever the header,
because an SDK's create body and its expected response shape can come from different layers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spruce.errors import InvalidArgumentError
from spruce.types import METRICS, EmbedSpec, IndexHealth, IndexInfo

CLASSIC_VERSIONS = frozenset({"2025-01", "2025-04", "2025-10"})
NEWEST_VERSION = "2026-07"
DENSE_FIELD = "_values"
SPARSE_FIELD = "_sparse_values"

Json = dict[str, Any]


def is_classic(api_version: str | None) -> bool:
    return api_version is not None and api_version.strip() in CLASSIC_VERSIONS


def _ready() -> Json:
    return {"ready": True, "state": "Ready"}


def index_json(
    info: IndexInfo, host: str, api_version: str | None, health: IndexHealth | None = None
) -> Json:
    out = _classic(info, host) if is_classic(api_version) else _current(info, host)
    if health is not None and (not health.ready or health.reason):
        # SDKs accept extra status keys; `reason` says why the index is down (or what it lost).
        out["status"] = {"ready": health.ready, "state": health.state, "reason": health.reason}
    return out


def _classic(info: IndexInfo, host: str) -> Json:
    out: Json = {
        "name": info.name,
        "metric": info.metric,
        "host": host,
        "spec": {"serverless": {"cloud": info.cloud, "region": info.region}},
        "status": _ready(),
        "vector_type": info.vector_type,
        "deletion_protection": info.deletion_protection,
    }
    if info.dimension is not None:
        out["dimension"] = info.dimension
    if info.tags:
        out["tags"] = dict(info.tags)
    if info.embed is not None:
        e = info.embed
        embed: Json = {"model": e.model, "field_map": dict(e.field_map), "vector_type": info.vector_type}
        if e.metric is not None:
            embed["metric"] = e.metric
        if info.dimension is not None:
            embed["dimension"] = info.dimension
        if e.read_parameters:
            embed["read_parameters"] = dict(e.read_parameters)
        if e.write_parameters:
            embed["write_parameters"] = dict(e.write_parameters)
        out["embed"] = embed
    return out


def _current(info: IndexInfo, host: str) -> Json:
    return {
        "name": info.name,
        "host": host,
        "private_host": None,
        "status": _ready(),
        "schema": {"fields": _schema_fields(info)},
        "deployment": {"deployment_type": "managed", "cloud": info.cloud, "region": info.region},
        "deletion_protection": info.deletion_protection,
        "tags": dict(info.tags) if info.tags else None,
        "read_capacity": {"mode": "OnDemand", "status": {"state": "Ready"}},
        "source_collection": None,
        "source_backup_id": None,
        "cmek_id": None,
    }


def _schema_fields(info: IndexInfo) -> Json:
    if info.embed is not None:
        e = info.embed
        text_field = e.field_map.get("text", "text")
        semantic: Json = {"type": "semantic_text", "model": e.model, "metric": e.metric or info.metric}
        if e.read_parameters:
            semantic["read_parameters"] = dict(e.read_parameters)
        if e.write_parameters:
            semantic["write_parameters"] = dict(e.write_parameters)
        return {text_field: semantic}
    if info.vector_type == "sparse":
        return {SPARSE_FIELD: {"type": "sparse_vector"}}
    return {DENSE_FIELD: {"type": "dense_vector", "dimension": info.dimension, "metric": info.metric}}


# ---------------------------------------------------------------- create / configure bodies


@dataclass(frozen=True, slots=True)
class CreateIndex:
    """Keyword arguments for `Catalog.create_index`."""

    name: str
    dimension: int | None
    metric: str = "cosine"
    vector_type: str = "dense"
    deletion_protection: str = "disabled"
    tags: dict[str, str] = field(default_factory=dict)
    cloud: str = "aws"
    region: str = "us-east-1"
    embed: EmbedSpec | None = None


def _str(body: Mapping[str, Any], key: str, default: str | None = None, where: str = "") -> str:
    value = body.get(key)
    if value is None:
        if default is None:
            raise InvalidArgumentError(f"{where}{key} is required")
        return default
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{where}{key} must be a string")
    return value


def _metric(value: object, where: str) -> str:
    if not isinstance(value, str) or value.lower() not in METRICS:
        raise InvalidArgumentError(f"{where} must be one of {', '.join(METRICS)}, got {value!r}")
    return value.lower()


def _dimension(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{where} must be an integer")
    return value


def _tags(body: Mapping[str, Any]) -> dict[str, str]:
    tags = body.get("tags")
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
        raise InvalidArgumentError("tags must be an object of string values")
    return dict(tags)


def _deletion_protection(body: Mapping[str, Any]) -> str | None:
    value = body.get("deletion_protection")
    if value is None:
        return None
    if value not in ("enabled", "disabled"):
        raise InvalidArgumentError(f"deletion_protection must be 'enabled' or 'disabled', got {value!r}")
    return str(value)


def create_request(body: Mapping[str, Any]) -> CreateIndex:
    """`POST /indexes` in either the 2025 (`spec`) or 2026-07 (`schema` + `deployment`) shape."""
    name = _str(body, "name")
    common: dict[str, Any] = {
        "deletion_protection": _deletion_protection(body) or "disabled",
        "tags": _tags(body),
    }
    if "schema" in body or "deployment" in body:
        return _create_current(name, body, common)
    return _create_classic(name, body, common)


def _create_classic(name: str, body: Mapping[str, Any], common: dict[str, Any]) -> CreateIndex:
    vector_type = _str(body, "vector_type", "dense")
    if vector_type not in ("dense", "sparse"):
        raise InvalidArgumentError(f"vector_type must be 'dense' or 'sparse', got {vector_type!r}")
    default_metric = "dotproduct" if vector_type == "sparse" else "cosine"
    metric = _metric(body.get("metric") or default_metric, "metric")
    dimension = None
    if vector_type == "dense":
        if body.get("dimension") is None:
            raise InvalidArgumentError("dimension is required for a dense index")
        dimension = _dimension(body["dimension"], "dimension")
    elif body.get("dimension") is not None:
        raise InvalidArgumentError("dimension must not be set for a sparse index")
    spec = body.get("spec")
    cloud, region = "aws", "us-east-1"
    if spec is not None:
        if not isinstance(spec, dict):
            raise InvalidArgumentError("spec must be an object")
        if "pod" in spec or "byoc" in spec:
            raise InvalidArgumentError("spec: only serverless indexes are supported (no pod or byoc)")
        serverless = spec.get("serverless")
        if not isinstance(serverless, dict):
            raise InvalidArgumentError("spec.serverless must be an object with cloud and region")
        cloud = _str(serverless, "cloud", "aws", "spec.serverless.")
        region = _str(serverless, "region", "us-east-1", "spec.serverless.")
    return CreateIndex(
        name=name,
        dimension=dimension,
        metric=metric,
        vector_type=vector_type,
        cloud=cloud,
        region=region,
        **common,
    )


def _create_current(name: str, body: Mapping[str, Any], common: dict[str, Any]) -> CreateIndex:
    cloud, region = _deployment(body.get("deployment"))
    schema = body.get("schema")
    if not isinstance(schema, dict) or not isinstance(schema.get("fields"), dict):
        raise InvalidArgumentError("schema.fields must be an object naming the index's vector field")
    vector_fields = [
        (fname, spec)
        for fname, spec in schema["fields"].items()
        if isinstance(spec, dict) and spec.get("type") in ("dense_vector", "sparse_vector", "semantic_text")
    ]
    if len(vector_fields) != 1:
        raise InvalidArgumentError(
            "schema.fields must hold exactly one dense_vector, sparse_vector or semantic_text field, "
            f"got {len(vector_fields)}"
        )
    fname, spec = vector_fields[0]
    where = f"schema.fields.{fname}."
    kind = spec["type"]
    if kind == "dense_vector":
        return CreateIndex(
            name=name,
            dimension=_dimension(spec.get("dimension"), where + "dimension"),
            metric=_metric(spec.get("metric") or "cosine", where + "metric"),
            cloud=cloud,
            region=region,
            **common,
        )
    if kind == "sparse_vector":
        return CreateIndex(
            name=name,
            dimension=None,
            metric="dotproduct",
            vector_type="sparse",
            cloud=cloud,
            region=region,
            **common,
        )
    embed = {
        k: spec[k]
        for k in ("model", "metric", "dimension", "read_parameters", "write_parameters")
        if k in spec
    }
    embed["field_map"] = {"text": fname}
    return _for_model(name, embed, cloud, region, common, where)


def _deployment(value: object) -> tuple[str, str]:
    if value is None:
        return "aws", "us-east-1"
    if not isinstance(value, dict):
        raise InvalidArgumentError("deployment must be an object")
    kind = value.get("deployment_type", "managed")
    if kind != "managed":
        raise InvalidArgumentError(f"deployment.deployment_type: only 'managed' is supported, got {kind!r}")
    return _str(value, "cloud", "aws", "deployment."), _str(value, "region", "us-east-1", "deployment.")


def create_for_model_request(body: Mapping[str, Any]) -> CreateIndex:
    """`POST /indexes/create-for-model`: an index that embeds a text field with the named model."""
    name = _str(body, "name")
    common: dict[str, Any] = {
        "deletion_protection": _deletion_protection(body) or "disabled",
        "tags": _tags(body),
    }
    embed = body.get("embed")
    if not isinstance(embed, dict):
        raise InvalidArgumentError("embed must be an object with model and field_map")
    return _for_model(
        name, embed, _str(body, "cloud", "aws"), _str(body, "region", "us-east-1"), common, "embed."
    )


def _for_model(
    name: str, embed: Mapping[str, Any], cloud: str, region: str, common: dict[str, Any], where: str
) -> CreateIndex:
    spec = embed_spec(embed, where)
    return CreateIndex(
        name=name,
        dimension=spec.dimension,
        metric=spec.metric or "cosine",
        cloud=cloud,
        region=region,
        embed=spec,
        **common,
    )


def embed_spec(embed: Mapping[str, Any], where: str = "embed.") -> EmbedSpec:
    """An `embed` object (create-for-model, configure): model, field_map, optional metric, dimension and
    read/write parameters. The model decides the vector type, the default metric and the dimension: the
    catalogue resolves them against the model registry (spruce.service.integrated), so only what was
    asked is kept here."""
    model = _str(embed, "model", where=where)
    field_map = embed.get("field_map")
    if not isinstance(field_map, dict) or not isinstance(field_map.get("text"), str):
        raise InvalidArgumentError(f"{where}field_map must map 'text' to the record field to embed")
    metric = None if embed.get("metric") is None else _metric(embed["metric"], where + "metric")
    raw = embed.get("dimension")
    dimension = None if raw is None else _dimension(raw, where + "dimension")
    params = {}
    for key in ("read_parameters", "write_parameters"):
        value = embed.get(key) or {}
        if not isinstance(value, dict):
            raise InvalidArgumentError(f"{where}{key} must be an object")
        params[key] = dict(value)
    return EmbedSpec(
        model=model,
        field_map={str(k): str(v) for k, v in field_map.items()},
        metric=metric,
        dimension=dimension,
        read_parameters=params["read_parameters"],
        write_parameters=params["write_parameters"],
    )


@dataclass(frozen=True, slots=True)
class ConfigureIndex:
    deletion_protection: str | None
    tags: dict[str, str] | None
    embed: EmbedSpec | None = None


_UNSUPPORTED_CONFIGURE = ("spec", "deployment", "read_capacity", "schema")


def configure_request(body: Mapping[str, Any]) -> ConfigureIndex:
    """`PATCH /indexes/{name}`: deletion protection and tags (merged; "" deletes a key)."""
    for key in _UNSUPPORTED_CONFIGURE:
        if body.get(key):
            raise InvalidArgumentError(
                f"{key} cannot be configured on this server (only deletion_protection, tags, embed)"
            )
    tags = _tags(body) if body.get("tags") is not None else None
    embed = body.get("embed")
    if embed is not None and not isinstance(embed, dict):
        raise InvalidArgumentError("embed must be an object with model and field_map")
    spec = embed_spec(embed) if embed else None
    return ConfigureIndex(deletion_protection=_deletion_protection(body), tags=tags, embed=spec)

"""Integrated embedding in the embedded client: the pinecone SDK's records methods, in process.

    db.create_index_for_model(name="docs", cloud="aws", region="us-east-1",
                              embed={"model": "llama-text-embed-v2", "field_map": {"text": "chunk_text"}})
    index = db.Index("docs")
    index.upsert_records("ns", [{"_id": "rec1", "chunk_text": "...", "category": "..."}])
    res = index.search(namespace="ns", query={"inputs": {"text": "..."}, "top_k": 3})
    res.result.hits[0]._id, res.result.hits[0]["_id"], res.result.hits[0].fields

Mixed into `Client` (client/embedded.py) and `Index` (client/index.py); the service layer does the work.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Any

from spruce.client.responses import IndexModel, Obj
from spruce.errors import InvalidArgumentError
from spruce.service import integrated, validation
from spruce.service.catalog import Catalog
from spruce.service.data import IndexService
from spruce.service.records import RecordsService, Rerank, SearchQuery, SearchResult
from spruce.types import EmbedSpec, SparseVector


class Hit(Obj):
    """One search hit, read as the SDK's: `hit._id`, `hit.id`, `hit["_id"]`, `hit.score`, `hit.fields`."""

    __slots__ = ()

    @property
    def id(self) -> str:
        return str(self["_id"])

    @property
    def score(self) -> float:
        return float(self["_score"])

    def __getitem__(self, key: str) -> Any:
        return super().__getitem__({"id": "_id", "score": "_score"}.get(key, key))


class ClientRecords:
    """`create_index_for_model` for `spruce.Client`."""

    catalog: Catalog

    def _host(self, name: str) -> str:
        raise NotImplementedError

    def create_index_for_model(
        self,
        name: str,
        cloud: str = "aws",
        region: str = "us-east-1",
        embed: Any = None,
        tags: dict[str, str] | None = None,
        deletion_protection: str | None = "disabled",
        read_capacity: Any = None,
        schema: Any = None,
        timeout: int | None = None,
    ) -> IndexModel:
        """An index whose records `embed["model"]` embeds; its dimension and metric come from the model."""
        info = self.catalog.create_index(
            name,
            dimension=None,
            deletion_protection=str(_plain(deletion_protection) or "disabled"),
            tags=tags,
            cloud=str(_plain(cloud)),
            region=str(_plain(region)),
            embed=embed_spec(embed),
        )
        return IndexModel.of(info, host=self._host(name))

    def _checked_embed(self, name: str, embed: Any) -> EmbedSpec | None:
        """`configure_index(embed=...)`: the settings, once checked against the index and the model."""
        if embed is None:
            return None
        spec = embed_spec(embed)
        integrated.for_existing(self.catalog.describe_index(name), spec)
        return spec


class IndexRecords:
    """`upsert_records` and `search` / `search_records` for `spruce.Index`."""

    _svc: IndexService

    def upsert_records(self, namespace: str, records: Sequence[Mapping[str, Any]]) -> Obj:
        count = RecordsService(self._svc).upsert_records(_namespace(namespace), list(records))
        return Obj(record_count=count)

    def search(
        self,
        namespace: str,
        query: Mapping[str, Any] | Any = None,
        rerank: Mapping[str, Any] | Any = None,
        fields: Sequence[str] | None = None,
        *,
        top_k: int | None = None,
        inputs: Mapping[str, Any] | None = None,
        vector: Sequence[float] | Mapping[str, Any] | None = None,
        id: str | None = None,
        filter: Mapping[str, Any] | None = None,
        match_terms: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Obj:
        """Search by text (`inputs={"text": ...}`), vector or id: the SDK's nested `query=` form or its flat
        keywords; `rerank={"model", "rank_fields", "top_n"?, "query"?}`; `fields` (None: all)."""
        if query is not None:
            q = _mapping(query, "query")
            if any(x is not None for x in (top_k, inputs, vector, id, filter, match_terms)):
                raise InvalidArgumentError("search: pass query= or the flat keywords (top_k, inputs, ...)")
            top_k, inputs, vector = q.get("top_k"), q.get("inputs"), q.get("vector")
            id, filter, match_terms = q.get("id"), q.get("filter"), q.get("match_terms")
        if top_k is None:
            raise InvalidArgumentError("search needs top_k")
        if match_terms is not None:
            raise InvalidArgumentError("match_terms is not supported by Spruce; use filter")
        text = None
        if inputs is not None:
            text = _mapping(inputs, "inputs").get("text")
            if not isinstance(text, str):
                raise InvalidArgumentError('inputs must be {"text": "..."}')
        dense, sparse = _vector(vector)
        spec = SearchQuery(
            top_k=top_k,
            text=text,
            vector=dense,
            sparse=sparse,
            id=id,
            filter=dict(filter) if filter is not None else None,
        )
        result = RecordsService(self._svc).search(
            _namespace(namespace), spec, list(fields) if fields is not None else None, _rerank(rerank)
        )
        return _result_obj(result)

    search_records = search


def embed_spec(embed: Any) -> EmbedSpec:
    """The SDK's `embed` argument (a dict, IndexEmbed or EmbedConfig) as an EmbedSpec."""
    raw = _mapping(embed, "embed")
    model, field_map = _plain(raw.get("model")), raw.get("field_map")
    if not isinstance(model, str) or not model:
        raise InvalidArgumentError("embed.model is required")
    if not isinstance(field_map, Mapping) or not isinstance(field_map.get("text"), str):
        raise InvalidArgumentError("embed.field_map must map 'text' to the record field to embed")
    metric = raw.get("metric")
    return EmbedSpec(
        model=model,
        field_map={str(k): str(v) for k, v in field_map.items()},
        metric=None if metric is None else str(_plain(metric)).lower(),
        dimension=raw.get("dimension"),
        read_parameters=dict(raw.get("read_parameters") or {}),
        write_parameters=dict(raw.get("write_parameters") or {}),
    )


def _plain(value: Any) -> Any:
    """The SDK's enums (EmbedModel, RerankModel, Metric, CloudProvider...) as their wire strings:
    `str()` of a str-mixin Enum is "EmbedModel.X", not the value."""
    return value.value if isinstance(value, enum.Enum) else value


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    names = getattr(value, "__struct_fields__", None)  # msgspec structs (the SDK's EmbedConfig)
    if names is not None:
        return {n: getattr(value, n) for n in names}
    raise InvalidArgumentError(f"{what} must be a dict, got {type(value).__name__}")


def _namespace(namespace: str) -> str:
    if not isinstance(namespace, str) or not namespace:
        raise InvalidArgumentError("namespace must be a non-empty string ('__default__' is the default)")
    return "" if namespace == "__default__" else namespace


def _vector(value: Any) -> tuple[Sequence[float] | None, SparseVector | None]:
    """(dense, sparse) as given; the index checks the dense values against its dimension."""
    if value is None:
        return None, None
    if not isinstance(value, Mapping):
        return value, None
    values = value.get("values")
    dense = None if values is None or len(values) == 0 else values
    sparse = None
    if value.get("sparse_indices") is not None or value.get("sparse_values") is not None:
        raw = {"indices": value.get("sparse_indices"), "values": value.get("sparse_values")}
        sparse = validation.sparse_vector(raw, "vector.sparse")
    return dense, sparse


def _rerank(value: Any) -> Rerank | None:
    if value is None:
        return None
    raw = _mapping(value, "rerank")
    model, fields = _plain(raw.get("model")), raw.get("rank_fields")
    if not isinstance(model, str) or not model:
        raise InvalidArgumentError("rerank.model is required")
    if not fields or isinstance(fields, str):
        raise InvalidArgumentError("rerank.rank_fields must be a non-empty list of field names")
    return Rerank(
        model=model,
        rank_fields=tuple(str(f) for f in fields),
        top_n=raw.get("top_n"),
        query=raw.get("query"),
        parameters=dict(raw.get("parameters") or {}),
    )


def _result_obj(result: SearchResult) -> Obj:
    hits = [Hit(_id=h.id, _score=h.score, fields=h.fields) for h in result.hits]
    usage = Obj(
        read_units=result.read_units,
        embed_total_tokens=result.embed_total_tokens,
        rerank_units=result.rerank_units,
    )
    return Obj(result=Obj(hits=hits), usage=usage)

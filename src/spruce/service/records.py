"""The records API of an index: text in, embedded by the index's model, stored as ordinary vectors.

A record is `_id` (or `id`) plus flat fields. The field named by the index's `field_map["text"]` is
embedded as a passage; every field, the text included, is stored as metadata, so a search can filter on
them and return them with `fields=`. A request embeds all its texts in one model call (the registry batches
concurrent calls further), and everything is checked before the model runs, so a bad record costs no
embedding and writes nothing.

Search takes a text (embedded as a query), a vector, or a stored record's id; then, optionally, reranks the
hits with a rerank model over some of their fields.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from spruce.engine.filter import parse_filter
from spruce.errors import InvalidArgumentError, NotFoundError
from spruce.service import validation as v
from spruce.service.data import IndexService
from spruce.service.inference import get_registry
from spruce.types import EmbedSpec, FloatArray, Match, Metadata, Record, SparseVector

# Pinecone's limit for one upsert_records request.
MAX_RECORDS_PER_UPSERT = 96
_ID_KEYS = ("_id", "id")
_INPUT_REF = re.compile(r"^inputs\[(\d+)\]")


@dataclass(frozen=True, slots=True)
class Rerank:
    model: str
    rank_fields: tuple[str, ...]
    top_n: int | None = None
    query: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """What to search with: exactly one of `text` (maybe with `sparse`, for hybrid), a vector, or `id`."""

    top_k: int
    text: str | None = None
    vector: FloatArray | Sequence[float] | None = None
    sparse: SparseVector | None = None
    id: str | None = None
    filter: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    id: str
    score: float
    fields: Metadata


@dataclass(frozen=True, slots=True)
class SearchResult:
    hits: list[Hit]
    read_units: int
    embed_total_tokens: int | None = None
    rerank_units: int | None = None
    # Seconds per stage ("embed", "search", "rerank"), for the Server-Timing header and benchmarks.
    timings: dict[str, float] = field(default_factory=dict)


class RecordsService:
    """Records on top of one index's data plane; stateless, so one per call is fine."""

    def __init__(self, index: IndexService) -> None:
        self.index = index

    # -- writes -----------------------------------------------------------------------------------
    def upsert_records(self, namespace: str, records: Sequence[Mapping[str, Any]]) -> int:
        v.check_namespace(namespace)
        embed = self._embed_spec("upsert_records")
        if not records:
            raise InvalidArgumentError("records: give at least one record")
        if len(records) > MAX_RECORDS_PER_UPSERT:
            raise InvalidArgumentError(
                f"upsert_records of {len(records)} records; at most {MAX_RECORDS_PER_UPSERT} per request "
                "(split the list into batches of 96)"
            )
        text_field = embed.field_map["text"]
        ids: list[str] = []
        texts: list[str] = []
        fields: list[Metadata] = []
        for i, raw in enumerate(records):
            rid, meta = _split_record(raw, i)
            text = meta.get(text_field)
            if not isinstance(text, str) or not text.strip():
                raise InvalidArgumentError(
                    f"records[{i}] ({rid!r}) needs a non-empty string field {text_field!r}: the index "
                    f"embeds that field (its field_map maps 'text' to {text_field!r})"
                )
            ids.append(rid)
            texts.append(text)
            fields.append(meta)
        params = embed.write_parameters
        try:
            result = get_registry().embed(
                embed.model,
                texts,
                input_type=str(params.get("input_type", "passage")),
                truncate=_truncate(params, "write_parameters.truncate"),
                dimension=self.index.info.dimension,
            )
        except InvalidArgumentError as exc:
            raise _renamed(exc, lambda i: f"records[{i}] ({ids[i]!r}) field {text_field!r}") from None
        out: list[Record] = []
        if result.dense is not None:
            for rid, meta, row in zip(ids, fields, result.dense, strict=True):
                out.append(Record(id=rid, values=row, metadata=meta))
        else:
            assert result.sparse is not None
            for rid, meta, sv in zip(ids, fields, result.sparse, strict=True):
                out.append(Record(id=rid, sparse_values=sv, metadata=meta))
        return self.index.upsert(out, namespace)

    # -- reads ------------------------------------------------------------------------------------
    def search(
        self,
        namespace: str,
        query: SearchQuery,
        fields: Sequence[str] | None = None,
        rerank: Rerank | None = None,
    ) -> SearchResult:
        v.check_namespace(namespace)
        v.check_top_k(query.top_k)
        sources = [query.text is not None, query.vector is not None or query.sparse is not None]
        if query.id is not None and any(sources):
            raise InvalidArgumentError("query: give id alone, or inputs.text and/or vector, not both")
        if query.id is None and not any(sources):
            raise InvalidArgumentError("query needs inputs.text, vector or id")
        # Everything that can be refused is checked before the model runs: a refusal costs no embedding.
        parse_filter(query.filter)
        if query.text is not None:
            given = query.vector if self.index.info.vector_type == "dense" else query.sparse
            if given is not None:
                raise InvalidArgumentError(
                    f"query: inputs.text already gives the {self.index.info.vector_type} vector of this "
                    "index; with text, vector may only add the other kind (hybrid)"
                )
        registry = get_registry()
        if rerank is not None:
            _check_rerank(rerank, query)
        dense, sparse, tokens = query.vector, query.sparse, None
        timings: dict[str, float] = {}
        start = time.perf_counter()
        if query.text is not None:
            embed = self._embed_spec("query.inputs.text")
            params = embed.read_parameters
            try:
                result = registry.embed(
                    embed.model,
                    [query.text],
                    input_type=str(params.get("input_type", "query")),
                    truncate=_truncate(params, "read_parameters.truncate"),
                    dimension=self.index.info.dimension,
                )
            except InvalidArgumentError as exc:
                raise _renamed(exc, lambda i: "query.inputs.text") from None
            tokens = result.total_tokens
            if result.dense is not None:
                dense = result.dense[0]
            else:
                assert result.sparse is not None
                sparse = result.sparse[0]
            timings["embed"] = time.perf_counter() - start
            start = time.perf_counter()
        matches = self.index.query(
            top_k=query.top_k,
            namespace=namespace,
            vector=dense,
            sparse_vector=sparse,
            id=query.id,
            filter=query.filter,
            include_metadata=True,
        )
        timings["search"] = time.perf_counter() - start
        rerank_units = None
        if rerank is not None:
            start = time.perf_counter()
            matches, rerank_units = _reranked(matches, rerank, query)
            timings["rerank"] = time.perf_counter() - start
        hits = [Hit(m.id, m.score, _project(m.metadata, fields)) for m in matches]
        return SearchResult(hits, 1, tokens, rerank_units, timings)

    def _embed_spec(self, what: str) -> EmbedSpec:
        embed = self.index.info.embed
        if embed is None:
            raise InvalidArgumentError(
                f"{what}: index {self.index.info.name!r} has no embedding model; create it with "
                "create_index_for_model, give it one with configure_index(embed=...), or use vectors"
            )
        return embed


def _split_record(raw: object, i: int) -> tuple[str, Metadata]:
    """(id, fields) of one record: `_id` or `id` is the id; every other field is stored as metadata."""
    if not isinstance(raw, Mapping):
        raise InvalidArgumentError(f"records[{i}] must be an object, got {type(raw).__name__}")
    rid = raw.get("_id")
    if rid is None:
        rid = raw.get("id")
    if rid is None:
        raise InvalidArgumentError(f"records[{i}] needs an _id (or id) field")
    v.check_id(rid, f"records[{i}]._id")
    meta = v.metadata({k: val for k, val in raw.items() if k not in _ID_KEYS}, f"records[{i}]")
    return rid, meta or {}


def _renamed(exc: InvalidArgumentError, name: Callable[[int], str]) -> InvalidArgumentError:
    """The model names a text by its position in the call (`inputs[3]`); the user knows it by `name(3)`."""
    found = _INPUT_REF.match(exc.message)
    if found is None:
        return exc
    message = name(int(found.group(1))) + exc.message[found.end() :]
    if "truncate" in message:
        message += " (set by the index's embed read_parameters / write_parameters)"
    return InvalidArgumentError(message)


def _truncate(params: Mapping[str, object], what: str) -> str:
    value = str(params.get("truncate", "END")).upper()
    if value not in ("END", "NONE"):
        raise InvalidArgumentError(f"{what} must be END or NONE, got {value!r}")
    return value


def _check_rerank(rerank: Rerank, query: SearchQuery) -> None:
    """Before the search runs: a rerank that cannot work should cost nothing."""
    try:
        info = get_registry().get_model(rerank.model)
    except NotFoundError as exc:
        raise InvalidArgumentError(f"rerank.model: {exc.message}") from None
    if info.type != "rerank":
        raise InvalidArgumentError(
            f"rerank.model {rerank.model!r} is an {info.type} model, not a rerank model "
            "(see GET /models?type=rerank)"
        )
    if not rerank.rank_fields:
        raise InvalidArgumentError("rerank.rank_fields must name at least one field")
    if rerank.top_n is not None and rerank.top_n < 1:
        raise InvalidArgumentError(f"rerank.top_n must be at least 1, got {rerank.top_n}")
    if rerank.query is None and query.text is None:
        raise InvalidArgumentError("rerank.query is required when the search is by vector or id")


def _reranked(matches: list[Match], rerank: Rerank, query: SearchQuery) -> tuple[list[Match], int]:
    if not matches:
        return [], 0
    documents: list[str] = []
    for m in matches:
        meta = m.metadata or {}
        parts = []
        for name in rerank.rank_fields:
            value = meta.get(name)
            if value is None:
                raise InvalidArgumentError(
                    f"rerank.rank_fields: record {m.id!r} has no field {name!r} to rerank on"
                )
            parts.append(value if isinstance(value, str) else str(value))
        documents.append("\n".join(parts))
    text = rerank.query if rerank.query is not None else query.text
    assert text is not None
    try:
        result = get_registry().rerank(
            rerank.model,
            text,
            documents,
            top_n=rerank.top_n or query.top_k,
            truncate=_truncate(rerank.parameters, "rerank.parameters.truncate"),
        )
    except InvalidArgumentError as exc:  # e.g. more hits than the model reranks at once: name the step
        raise InvalidArgumentError(
            f"rerank ({rerank.model}) of the top {len(documents)} hits: {exc.message}"
        ) from None
    ranked = [
        Match(id=matches[i].id, score=float(score), metadata=matches[i].metadata)
        for i, score in result.ranked
    ]
    return ranked, int(result.rerank_units)


def _project(meta: Metadata | None, fields: Sequence[str] | None) -> Metadata:
    if not meta:
        return {}
    if fields is None or "*" in fields:  # pinecone 7.x sends ["*"] for "every field"
        return dict(meta)
    return {name: meta[name] for name in fields if name in meta}

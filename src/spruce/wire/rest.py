"""Pinecone data-plane REST requests: JSON bodies and query strings -> Spruce types.

Responses, Spruce types -> JSON, are rest_responses.py. Vector operations use camelCase keys (`topK`,
`sparseValues`, `upsertedCount`); namespaces use snake_case. Parsing goes straight from orjson's lists
to numpy arrays: no per-float model validation, because the JSON decode is already the dominant cost
of a REST upsert. Every rejection is an `InvalidArgumentError` whose message names the field, so the
client sees what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from spruce.errors import InvalidArgumentError
from spruce.types import FloatArray, Metadata, Record, SparseVector
from spruce.wire import strict_json

DEFAULT_NAMESPACE = "__default__"
MAX_UPSERT_BATCH = 1000
MAX_TOP_K = 10_000
MAX_LIST_LIMIT = 100
MAX_FETCH_BY_METADATA_LIMIT = 10_000

Json = dict[str, Any]


def loads(body: bytes) -> Json:
    """Decode a request body that must be a JSON object."""
    if not body:
        return {}
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgumentError(f"request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidArgumentError("request body must be a JSON object")
    strict_json.check_body(body)
    return value


# ---------------------------------------------------------------- field readers


def namespace_in(value: object, field: str = "namespace") -> str:
    """A namespace from the wire; `__default__` and a missing value both mean the default ("")."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidArgumentError(f"{field} must be a string")
    return "" if value == DEFAULT_NAMESPACE else value


def opt_str(body: Mapping[str, Any], field: str) -> str | None:
    value = body.get(field)
    if value is None or isinstance(value, str):
        return value
    raise InvalidArgumentError(f"{field} must be a string")


def opt_bool(body: Mapping[str, Any], field: str, default: bool = False) -> bool:
    value = body.get(field)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    raise InvalidArgumentError(f"{field} must be a boolean")


def opt_int(body: Mapping[str, Any], field: str, default: int | None, lo: int, hi: int) -> int | None:
    value = body.get(field)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgumentError(f"{field} must be an integer")
    if not lo <= value <= hi:
        raise InvalidArgumentError(f"{field} must be between {lo} and {hi}, got {value}")
    return value


def opt_dict(body: Mapping[str, Any], field: str) -> dict[str, Any] | None:
    value = body.get(field)
    if value is None or isinstance(value, dict):
        return value
    raise InvalidArgumentError(f"{field} must be a JSON object")


def query_int(raw: str | None, field: str, default: int, lo: int, hi: int) -> int:
    """An integer from a URL query string."""
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgumentError(f"{field} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise InvalidArgumentError(f"{field} must be between {lo} and {hi}, got {value}")
    return value


_SCAN_ALWAYS = 256


def floats(value: object, field: str) -> FloatArray:
    """A list of numbers as float32; rejects strings, booleans and nesting that numpy would coerce."""
    if not isinstance(value, list):
        raise InvalidArgumentError(f"{field} must be an array of numbers")
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError):
        raise InvalidArgumentError(f"{field} must be an array of numbers") from None
    if arr.size == 0:
        return np.zeros(0, dtype=np.float32)
    if arr.ndim != 1 or arr.dtype.kind not in "iuf":
        raise InvalidArgumentError(f"{field} must be an array of numbers")
    # numpy reads true/false as 1/0 (1.0/0.0 beside floats). Scanning every element's type costs as much
    # as the conversion, so a long float array is scanned only when it holds a 0 or 1 for a boolean to
    # hide behind (never, for a real embedding); short ones (sparse values) scan cheaper than numpy checks.
    scan = arr.dtype.kind in "iu" or arr.size <= _SCAN_ALWAYS or ((arr == 0) | (arr == 1)).any()
    if scan and bool in set(map(type, value)):
        raise InvalidArgumentError(f"{field} must be an array of numbers, not booleans")
    with np.errstate(over="ignore"):
        out = arr.astype(np.float32)
    if not np.isfinite(out).all():
        raise InvalidArgumentError(
            f"{field} must hold finite numbers (no NaN/Infinity, within float32 range)"
        )
    return out


def sparse(value: object, field: str) -> SparseVector | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{field} must be an object with indices and values")
    indices = value.get("indices")
    if not isinstance(indices, list):
        raise InvalidArgumentError(f"{field}.indices must be an array of non-negative integers")
    try:
        idx = np.asarray(indices)
    except (ValueError, TypeError):
        raise InvalidArgumentError(f"{field}.indices must be an array of non-negative integers") from None
    if idx.size and (
        idx.ndim != 1
        or idx.dtype.kind not in "iu"
        or idx.min() < 0
        or idx.max() > 0xFFFFFFFF
        or bool in set(map(type, indices))
    ):
        raise InvalidArgumentError(f"{field}.indices must be an array of integers in 0..4294967295")
    return sparse_arrays(idx, floats(value.get("values"), f"{field}.values"), field)


def sparse_arrays(idx: npt.NDArray[Any], vals: FloatArray, field: str) -> SparseVector:
    """Sparse values from integer indices already known to be in 0..2**32-1 and finite float32 values:
    the checks both REST decoders share (lengths, repeats) and the sort."""
    if len(vals) != len(idx):
        raise InvalidArgumentError(
            f"{field}: indices and values must have the same length ({len(idx)} != {len(vals)})"
        )
    idx32 = idx.astype(np.uint32)
    order = np.argsort(idx32, kind="stable")
    idx32, vals = idx32[order], vals[order]
    if idx32.size > 1 and (np.diff(idx32) == 0).any():
        raise InvalidArgumentError(f"{field}.indices must not repeat an index")
    return SparseVector(indices=idx32, values=vals)


def metadata(value: object, field: str) -> Metadata | None:
    # Value types and sizes are the service's to check; here only the shape matters.
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{field} must be a JSON object")
    return value


def filter_of(body: Mapping[str, Any]) -> dict[str, Any] | None:
    return opt_dict(body, "filter")


# ---------------------------------------------------------------- requests


def upsert_request(body: Mapping[str, Any]) -> tuple[list[Record], str]:
    vectors = body.get("vectors")
    if not isinstance(vectors, list):
        raise InvalidArgumentError("vectors must be an array of vectors")
    if not vectors:
        raise InvalidArgumentError("vectors must hold at least one vector; the batch is empty")
    if len(vectors) > MAX_UPSERT_BATCH:
        raise InvalidArgumentError(
            f"vectors: at most {MAX_UPSERT_BATCH} vectors per upsert request, got {len(vectors)}"
        )
    records = [record(v, f"vectors[{i}]") for i, v in enumerate(vectors)]
    return records, namespace_in(body.get("namespace"))


def record(
    value: object, field: str, dense: FloatArray | None = None, sparse_values: SparseVector | None = None
) -> Record:
    """A record from its JSON object; `dense` and `sparse_values`, when given, are its values and sparse
    values already decoded."""
    if not isinstance(value, dict):
        raise InvalidArgumentError(f"{field} must be an object with id and values")
    rid = value.get("id")
    if not isinstance(rid, str) or not rid:
        raise InvalidArgumentError(f"{field}.id must be a non-empty string")
    values = dense
    if values is None:
        raw_values = value.get("values")
        values = None if raw_values is None else floats(raw_values, f"{field}.values")
    if values is not None and values.size == 0:
        values = None
    sv = sparse_values
    if sv is None:
        sv = sparse(value.get("sparseValues", value.get("sparse_values")), f"{field}.sparseValues")
    if values is None and sv is None:
        raise InvalidArgumentError(f"{field} needs non-empty values or sparseValues")
    md = metadata(value.get("metadata"), f"{field}.metadata")
    return Record(id=rid, values=values, sparse_values=sv, metadata=md)


@dataclass(frozen=True, slots=True)
class QueryRequest:
    top_k: int
    namespace: str
    vector: FloatArray | None
    sparse_vector: SparseVector | None
    id: str | None
    filter: dict[str, Any] | None
    include_values: bool
    include_metadata: bool


def query_request(body: Mapping[str, Any]) -> QueryRequest:
    if body.get("queries"):
        raise InvalidArgumentError("queries (the deprecated batch form) is not supported; send one query")
    top_k = opt_int(body, "topK", None, 1, MAX_TOP_K)
    if top_k is None:
        top_k = opt_int(body, "top_k", None, 1, MAX_TOP_K)
    if top_k is None:
        raise InvalidArgumentError(f"topK is required (1..{MAX_TOP_K})")
    raw_vector = body.get("vector")
    vector = None if raw_vector is None else floats(raw_vector, "vector")
    if vector is not None and vector.size == 0:
        vector = None
    sv = sparse(body.get("sparseVector", body.get("sparse_vector")), "sparseVector")
    qid = opt_str(body, "id")
    if qid is not None and (vector is not None or sv is not None):
        raise InvalidArgumentError("query takes either id or vector/sparseVector, not both")
    if qid is None and vector is None and sv is None:
        raise InvalidArgumentError("query needs vector, sparseVector or id")
    return QueryRequest(
        top_k=top_k,
        namespace=namespace_in(body.get("namespace")),
        vector=vector,
        sparse_vector=sv,
        id=qid,
        filter=filter_of(body),
        include_values=opt_bool(body, "includeValues"),
        include_metadata=opt_bool(body, "includeMetadata"),
    )


@dataclass(frozen=True, slots=True)
class UpdateRequest:
    namespace: str
    id: str | None
    values: FloatArray | None
    sparse_values: SparseVector | None
    set_metadata: Metadata | None
    filter: dict[str, Any] | None
    dry_run: bool


def update_request(body: Mapping[str, Any]) -> UpdateRequest:
    uid = opt_str(body, "id")
    flt = filter_of(body)
    if (uid is None) == (flt is None):
        raise InvalidArgumentError("update needs exactly one of id or filter")
    raw_values = body.get("values")
    values = None if raw_values is None else floats(raw_values, "values")
    if values is not None and values.size == 0:
        values = None
    sv = sparse(body.get("sparseValues"), "sparseValues")
    if flt is not None and (values is not None or sv is not None):
        raise InvalidArgumentError("update by filter can only setMetadata, not values or sparseValues")
    return UpdateRequest(
        namespace=namespace_in(body.get("namespace")),
        id=uid,
        values=values,
        sparse_values=sv,
        set_metadata=metadata(body.get("setMetadata"), "setMetadata"),
        filter=flt,
        dry_run=opt_bool(body, "dryRun"),
    )


@dataclass(frozen=True, slots=True)
class DeleteRequest:
    namespace: str
    ids: list[str] | None
    delete_all: bool
    filter: dict[str, Any] | None


def delete_request(body: Mapping[str, Any]) -> DeleteRequest:
    ids = body.get("ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, str) for i in ids)):
        raise InvalidArgumentError("ids must be an array of strings")
    delete_all = opt_bool(body, "deleteAll")
    flt = filter_of(body)
    given = sum((ids is not None, delete_all, flt is not None))
    if given != 1:
        raise InvalidArgumentError("delete needs exactly one of ids, deleteAll or filter")
    if flt is not None and not flt:
        raise InvalidArgumentError("filter must not be empty; use deleteAll to delete everything")
    return DeleteRequest(
        namespace=namespace_in(body.get("namespace")), ids=ids, delete_all=delete_all, filter=flt
    )


def ids_list(values: list[str], field: str = "ids") -> list[str]:
    if not values:
        raise InvalidArgumentError(f"{field} must name at least one id")
    if len(values) > MAX_UPSERT_BATCH:
        raise InvalidArgumentError(f"{field}: at most {MAX_UPSERT_BATCH} ids per request, got {len(values)}")
    return values


def namespace_schema(body: Mapping[str, Any]) -> list[str] | None:
    """Filterable field names from `{"schema":{"fields":{"f":{"filterable":true}}}}`."""
    schema = opt_dict(body, "schema")
    if schema is None:
        return None
    fields = schema.get("fields")
    if not isinstance(fields, dict):
        raise InvalidArgumentError("schema.fields must be a JSON object")
    names = []
    for name, spec in fields.items():
        if not isinstance(spec, dict) or spec.get("filterable") is not True:
            raise InvalidArgumentError(f"schema.fields.{name}.filterable must be true")
        names.append(name)
    return names

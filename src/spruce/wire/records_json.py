"""The records API's wire format: NDJSON upserts, search requests and responses (snake_case keys).

`upsert_records` sends one JSON object per line, each line ended by `\\n`. A line that is not a JSON
object is refused with its line number, so the client knows which record to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from spruce.errors import InvalidArgumentError
from spruce.service.records import MAX_RECORDS_PER_UPSERT, Rerank, SearchQuery, SearchResult
from spruce.types import FloatArray, SparseVector
from spruce.wire.rest import MAX_TOP_K, filter_of, floats, opt_dict, opt_int, opt_str
from spruce.wire.rest import sparse as rest_sparse

Json = dict[str, Any]


def upsert_ndjson(body: bytes) -> list[Json]:
    """The records of an NDJSON body; blank lines (the final newline among them) are skipped."""
    lines = body.split(b"\n")
    out: list[Json] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InvalidArgumentError(
                f"line {number} of the NDJSON body is not valid JSON ({exc}); send one record object per line"
            ) from None
        if not isinstance(value, dict):
            raise InvalidArgumentError(
                f"line {number} of the NDJSON body is a JSON {type(value).__name__}, not a record object"
            )
        out.append(value)
        if len(out) > MAX_RECORDS_PER_UPSERT:
            raise InvalidArgumentError(
                f"upsert_records of more than {MAX_RECORDS_PER_UPSERT} records; at most "
                f"{MAX_RECORDS_PER_UPSERT} per request (split the list into batches of 96)"
            )
    if not out:
        raise InvalidArgumentError("the NDJSON body holds no records (one JSON object per line)")
    return out


def search_request(body: Mapping[str, Any]) -> tuple[SearchQuery, list[str] | None, Rerank | None]:
    """`POST /records/namespaces/{ns}/search`: (query, fields, rerank)."""
    query = opt_dict(body, "query")
    if query is None:
        raise InvalidArgumentError("query is required: an object with top_k and inputs, vector or id")
    top_k = opt_int(query, "top_k", None, 1, MAX_TOP_K)
    if top_k is None:
        raise InvalidArgumentError("query.top_k is required")
    if query.get("match_terms") is not None:
        raise InvalidArgumentError("query.match_terms is not supported by this server; use filter")
    text = None
    inputs = query.get("inputs")
    if inputs is not None:
        if not isinstance(inputs, dict) or not isinstance(inputs.get("text"), str):
            raise InvalidArgumentError('query.inputs must be an object {"text": "..."}')
        text = inputs["text"]
    dense, sparse = _vector(query.get("vector"))
    rid = query.get("id")
    if rid is not None and not isinstance(rid, str):
        raise InvalidArgumentError("query.id must be a string")
    flt = filter_of(query)
    spec = SearchQuery(top_k=top_k, text=text, vector=dense, sparse=sparse, id=rid, filter=flt)
    return spec, _fields(body), _rerank(body.get("rerank"))


def _vector(value: object) -> tuple[FloatArray | None, SparseVector | None]:
    """(dense, sparse) of `query.vector`: `{"values"}`, `{"sparse_indices","sparse_values"}` or both."""
    if value is None:
        return None, None
    if isinstance(value, list):  # a bare list is a dense query
        return floats(value, "query.vector"), None
    if not isinstance(value, dict):
        raise InvalidArgumentError("query.vector must be an object with values and/or sparse_values")
    unknown = set(value) - {"values", "sparse_indices", "sparse_values"}
    if unknown:
        raise InvalidArgumentError(
            f"query.vector has unknown keys {sorted(unknown)}; use values, sparse_indices, sparse_values"
        )
    dense = None
    if value.get("values") is not None:
        dense = floats(value["values"], "query.vector.values")
        if len(dense) == 0:
            dense = None
    sparse = None
    if value.get("sparse_indices") is not None or value.get("sparse_values") is not None:
        indices, values = value.get("sparse_indices"), value.get("sparse_values")
        if not isinstance(indices, list) or not isinstance(values, list):
            raise InvalidArgumentError("query.vector needs both sparse_indices and sparse_values")
        sparse = rest_sparse({"indices": indices, "values": values}, "query.vector.sparse")
    if dense is None and sparse is None:
        raise InvalidArgumentError("query.vector needs non-empty values or sparse_indices/sparse_values")
    return dense, sparse


def _fields(body: Mapping[str, Any]) -> list[str] | None:
    value = body.get("fields")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(f, str) for f in value):
        raise InvalidArgumentError("fields must be an array of field names")
    return value


def _rerank(value: object) -> Rerank | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArgumentError("rerank must be an object with model and rank_fields")
    model = opt_str(value, "model")
    if not model:
        raise InvalidArgumentError("rerank.model is required")
    fields = value.get("rank_fields")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise InvalidArgumentError("rerank.rank_fields must be a non-empty array of field names")
    top_n = opt_int(value, "top_n", None, 1, MAX_TOP_K)
    params = opt_dict(value, "parameters") or {}
    return Rerank(model, tuple(fields), top_n, opt_str(value, "query"), params)


def search_response(result: SearchResult) -> Json:
    usage: Json = {"read_units": result.read_units}
    if result.embed_total_tokens is not None:
        usage["embed_total_tokens"] = result.embed_total_tokens
    if result.rerank_units is not None:
        usage["rerank_units"] = result.rerank_units
    hits = [{"_id": h.id, "_score": h.score, "fields": h.fields} for h in result.hits]
    return {"result": {"hits": hits}, "usage": usage}

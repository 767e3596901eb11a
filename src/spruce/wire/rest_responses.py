"""Pinecone data-plane REST responses: Spruce types -> JSON, and the encoder that writes them.

Vectors go out as numpy arrays, not lists: orjson serializes float32 arrays in C, so a fetch or a
query with values costs no Python loop per float. Requests, JSON -> Spruce types, are rest.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from spruce.types import IndexStats, Match, NamespaceInfo, Record, SparseVector
from spruce.wire.rest import DEFAULT_NAMESPACE, Json


def dumps(value: Any) -> bytes:
    # OPT_SERIALIZE_NUMPY writes float32 arrays in C, with float32's shortest repr (0.1, not 0.100000001).
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=_numpy_default)


def _numpy_default(value: Any) -> Any:
    # orjson takes only plain C-contiguous ndarrays; the engine hands out memmap slices and numpy scalars.
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _array(value: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A view orjson serializes natively: base ndarray class, C-contiguous (no copy when it already is)."""
    return value if type(value) is np.ndarray and value.flags.c_contiguous else np.ascontiguousarray(value)


def namespace_out(name: str) -> str:
    return name or DEFAULT_NAMESPACE


def usage(read_units: int) -> Json:
    return {"readUnits": read_units}


def sparse_json(sv: SparseVector) -> Json:
    return {"indices": _array(sv.indices), "values": _array(sv.values)}


def vector_json(rec: Record) -> Json:
    out: Json = {"id": rec.id, "values": _array(rec.values) if rec.values is not None else []}
    if rec.sparse_values is not None:
        out["sparseValues"] = sparse_json(rec.sparse_values)
    if rec.metadata is not None:
        out["metadata"] = rec.metadata
    return out


def match_json(m: Match, include_values: bool) -> Json:
    out: Json = {"id": m.id, "score": float(m.score)}
    if include_values:
        out["values"] = _array(m.values) if m.values is not None else []
        if m.sparse_values is not None:
            out["sparseValues"] = sparse_json(m.sparse_values)
    if m.metadata is not None:
        out["metadata"] = m.metadata
    return out


def query_response(matches: list[Match], namespace: str, include_values: bool) -> Json:
    return {
        "matches": [match_json(m, include_values) for m in matches],
        "namespace": namespace,
        "usage": usage(max(1, len(matches) // 10)),
    }


def fetch_response(records: Mapping[str, Record] | list[Record], namespace: str) -> Json:
    values = records.values() if isinstance(records, Mapping) else records
    return {
        "vectors": {r.id: vector_json(r) for r in values},
        "namespace": namespace,
        "usage": usage(max(1, len(records) // 10)),
    }


def pagination(token: str | None) -> Json:
    # Omitted rather than null: the 2025 generated clients type-check `pagination` as an object.
    return {"pagination": {"next": token}} if token else {}


def stats_json(stats: IndexStats) -> Json:
    out: Json = {
        "namespaces": {name: {"vectorCount": n} for name, n in stats.namespaces.items()},
        "indexFullness": float(stats.index_fullness),
        "totalVectorCount": stats.total_vector_count,
        "metric": stats.metric,
        "vectorType": stats.vector_type,
    }
    if stats.dimension is not None:
        out["dimension"] = stats.dimension
    return out


def namespace_json(ns: NamespaceInfo, classic: bool) -> Json:
    out: Json = {"name": namespace_out(ns.name), "record_count": ns.record_count}
    if classic:
        # The 2025 generated clients know only name and record_count.
        return out
    if ns.schema_fields:
        out["schema"] = {"fields": {f: {"filterable": True} for f in ns.schema_fields}}
        out["indexed_fields"] = {"fields": list(ns.schema_fields)}
    return out

"""The Collection API's argument rules (Chroma / pyseekdb semantics): every check a collection operation
makes before it reads or writes, with the error that says what to fix. Shared by the embedded and the
REST front ends through CollectionService."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from spruce.errors import DimensionMismatchError, DuplicateIDError, InvalidArgumentError
from spruce.service import validation as v
from spruce.types import FloatArray

DOCUMENT_FIELD = "document"
NS = ""
INCLUDE_ITEMS = ("documents", "embeddings", "metadatas", "distances", "uris", "data")
GET_INCLUDE = ["metadatas", "documents"]
QUERY_INCLUDE = ["metadatas", "documents", "distances"]


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def check_ids(ids: object, op: str, *, allow_empty: bool = False) -> list[str]:
    if not isinstance(ids, list | tuple):
        raise InvalidArgumentError(f"ids must be a string or a list of strings in {op}")
    if not ids and not allow_empty:
        raise InvalidArgumentError(f"expected ids to be a non-empty list in {op}")
    seen: set[str] = set()
    dups: list[str] = []
    for rid in ids:
        if not isinstance(rid, str):
            raise InvalidArgumentError(
                f"expected every id to be a str, got {rid!r} ({type(rid).__name__}) in {op}"
            )
        if not rid:
            raise InvalidArgumentError(f"ids must not be empty strings in {op}")
        v.check_id(rid)
        if rid in seen:
            dups.append(rid)
        seen.add(rid)
    if dups:
        shown = ", ".join(dict.fromkeys(dups[:10]))
        raise DuplicateIDError(f"expected ids to be unique, found duplicates of: {shown} in {op}")
    return list(ids)


def check_lengths(op: str, n: int, **fields: Sequence[Any] | None) -> None:
    bad = {k: len(val) for k, val in fields.items() if val is not None and len(val) != n}
    if bad:
        parts = ", ".join(f"{k}: {m}" for k, m in {"ids": n, **bad}.items())
        raise InvalidArgumentError(f"unequal lengths for fields: {parts} in {op}")


def check_include(include: object, allowed: Sequence[str], op: str) -> list[str]:
    if not isinstance(include, list | tuple) or not all(isinstance(i, str) for i in include):
        raise InvalidArgumentError(f"include must be a list of strings in {op}")
    for item in include:
        if item not in INCLUDE_ITEMS:
            raise InvalidArgumentError(
                f"unknown include item {item!r} in {op}; allowed: {', '.join(allowed)}"
            )
        if item not in allowed:
            raise InvalidArgumentError(
                f"include item {item!r} is not allowed in {op}; allowed: {', '.join(allowed)}"
            )
    return list(dict.fromkeys(include))


def check_n_results(n_results: object) -> int:
    if isinstance(n_results, bool) or not isinstance(n_results, int) or n_results <= 0:
        raise InvalidArgumentError(f"n_results must be a positive integer, got {n_results!r}")
    if n_results > v.MAX_TOP_K:
        raise InvalidArgumentError(f"n_results is {n_results}; at most {v.MAX_TOP_K}")
    return n_results


def check_count(value: object, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgumentError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def user_metadata(raw: object, what: str, *, allow_none_values: bool) -> dict[str, Any] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidArgumentError(f"{what} must be an object, got {type(raw).__name__}")
    if DOCUMENT_FIELD in raw:
        raise InvalidArgumentError(
            f"{what} uses the key {DOCUMENT_FIELD!r}, which holds the record's document; "
            "pass it as documents="
        )
    deletes = {k: None for k, val in raw.items() if val is None} if allow_none_values else {}
    kept = {k: val for k, val in raw.items() if k not in deletes}
    out: dict[str, Any] = dict(v.metadata(kept, what) or {})
    out.update(deletes)
    return out


def check_documents(documents: object, op: str, *, allow_none: bool) -> list[str | None] | None:
    if documents is None:
        return None
    if not isinstance(documents, list | tuple):
        raise InvalidArgumentError(f"documents must be a string or a list of strings in {op}")
    for d in documents:
        if not (isinstance(d, str) or (allow_none and d is None)):
            raise InvalidArgumentError(f"expected every document to be a str, got {type(d).__name__} in {op}")
    return list(documents)


def only_keys(obj: Mapping[str, Any], allowed: Sequence[str], what: str) -> None:
    for key in obj:
        if key not in allowed:
            raise InvalidArgumentError(f"unknown key {key!r} in {what}; allowed: {', '.join(allowed)}")


def rrf_params(rank: Mapping[str, Any] | None) -> tuple[int, float] | None:
    if rank is None:
        return None
    if not isinstance(rank, Mapping) or set(rank) != {"rrf"}:
        raise InvalidArgumentError('rank must be {"rrf": {"rank_window_size": int, "rank_constant": int}}')
    params = rank["rrf"] or {}
    if not isinstance(params, Mapping):
        raise InvalidArgumentError("rank rrf parameters must be an object")
    only_keys(params, ("rank_window_size", "rank_constant"), "rank rrf")
    window = check_count(params.get("rank_window_size", 60), "rank_window_size", 1)
    constant = params.get("rank_constant", 60)
    if (
        isinstance(constant, bool)
        or not isinstance(constant, int | float)
        or not math.isfinite(constant)
        or constant < 0
    ):
        raise InvalidArgumentError(f"rank_constant must be a number >= 0, got {constant!r}")
    return min(window, v.MAX_TOP_K), float(constant)


def embedding_matrix(dimension: int | None, embeddings: object, n: int, op: str) -> FloatArray:
    """The n embeddings of a write as one float32 matrix, checked against the collection's dimension
    (None: not fixed yet, the first write sets it)."""
    try:
        mat = np.asarray(embeddings, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"embeddings must be lists of numbers in {op}") from None
    if mat.ndim != 2:
        raise InvalidArgumentError(f"embeddings must be a list of equal-length number lists in {op}")
    if len(mat) != n:
        raise InvalidArgumentError(f"unequal lengths for fields: ids: {n}, embeddings: {len(mat)} in {op}")
    if not np.isfinite(mat).all():
        raise InvalidArgumentError(f"embeddings contain NaN or infinity in {op}")
    dim = mat.shape[1]
    if dimension is not None and dim != dimension:
        raise DimensionMismatchError(
            f"collection expecting embedding with dimension of {dimension}, got {dim} in {op}"
        )
    if dim == 0:
        raise InvalidArgumentError(f"embeddings must not be empty in {op}")
    if dimension is None:
        v.check_dimension(dim)
    return mat


def query_matrix(dimension: int | None, query_embeddings: object) -> FloatArray:
    """A query's embeddings as one float32 matrix, checked against the collection's dimension."""
    try:
        mat = np.asarray(query_embeddings, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidArgumentError("query_embeddings must be lists of numbers") from None
    if mat.ndim != 2 or len(mat) == 0:
        raise InvalidArgumentError("query_embeddings must be a non-empty list of equal-length number lists")
    if dimension is not None and mat.shape[1] != dimension:
        raise DimensionMismatchError(
            f"collection expecting embedding with dimension of {dimension}, got {mat.shape[1]} in query"
        )
    if not np.isfinite(mat).all():
        raise InvalidArgumentError("query_embeddings contain NaN or infinity")
    return mat

"""Limits and input checks. Each violation raises an InvalidArgumentError that says what was wrong
and what is allowed; nothing here touches stored data."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from spruce.errors import DimensionMismatchError, InvalidArgumentError
from spruce.types import METRICS, FloatArray, Metadata, Record, SparseVector

MAX_ID_LENGTH = 512
MAX_DIMENSION = 20_000
MAX_METADATA_BYTES = 40 * 1024
MAX_SPARSE_NNZ = 2048
MAX_TOP_K = 10_000
MAX_UPSERT_BATCH = 1000
MAX_FETCH_IDS = 1000
MAX_LIST_LIMIT = 100
MAX_FETCH_BY_METADATA_LIMIT = 10_000
MAX_NAMESPACE_LENGTH = 512
_INDEX_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$")
# C0, DEL and C1 (Unicode category Cc). A NUL or a newline in a name breaks logs, path-like tools and
# other implementations that treat names as C strings, so ids, namespaces and field names refuse them.
_INT64 = 1 << 63
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_UINT32_MAX = 2**32 - 1


def check_index_name(name: object) -> str:
    if not isinstance(name, str) or not _INDEX_NAME.match(name):
        raise InvalidArgumentError(
            f"invalid index name {name!r}: use 1-45 lowercase letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
    return name


def check_metric(metric: object) -> str:
    if not isinstance(metric, str) or metric.lower() not in METRICS:
        raise InvalidArgumentError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    return metric.lower()


def check_dimension(dimension: object) -> int:
    if isinstance(dimension, bool) or not isinstance(dimension, int) or not 1 <= dimension <= MAX_DIMENSION:
        raise InvalidArgumentError(
            f"dimension must be an integer from 1 to {MAX_DIMENSION}, got {dimension!r}"
        )
    return dimension


def control_character(text: str) -> str | None:
    """The first control character of `text` as U+XXXX, or None. `isprintable` is the fast common case;
    it also fails on characters that are fine in names (non-ASCII spaces, format marks), hence the regex."""
    if text.isprintable():
        return None
    found = _CONTROL.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def check_name_characters(text: str, what: str) -> None:
    """Refuse NUL and other control characters in an id, namespace or field name."""
    bad = control_character(text)
    if bad is not None:
        raise InvalidArgumentError(
            f"{what} {text[:40]!r} contains a control character ({bad}); ids, namespaces and field "
            "names must not contain NUL or other control characters"
        )


def check_namespace(namespace: object) -> str:
    if not isinstance(namespace, str):
        raise InvalidArgumentError(f"namespace must be a string, got {type(namespace).__name__}")
    if len(namespace) > MAX_NAMESPACE_LENGTH:
        raise InvalidArgumentError(
            f"namespace is {len(namespace)} characters; at most {MAX_NAMESPACE_LENGTH}"
        )
    check_name_characters(namespace, "namespace")
    return namespace


def check_id(rid: object, what: str = "id") -> str:
    if not isinstance(rid, str):
        raise InvalidArgumentError(f"{what} must be a string, got {type(rid).__name__}")
    if not 1 <= len(rid) <= MAX_ID_LENGTH:
        raise InvalidArgumentError(f"{what} must be 1 to {MAX_ID_LENGTH} characters, got {len(rid)}")
    check_name_characters(rid, what)
    return rid


def check_top_k(top_k: object) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise InvalidArgumentError(f"top_k must be an integer from 1 to {MAX_TOP_K}, got {top_k!r}")
    return top_k


def check_limit(limit: object, maximum: int, what: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidArgumentError(f"{what} must be an integer from 1 to {maximum}, got {limit!r}")
    return limit


def dense_vector(values: Any, dimension: int, what: str = "values") -> FloatArray:
    """Convert to a float32 vector of the index dimension; reject NaN and infinity."""
    try:
        arr = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{what} must be a list of numbers") from None
    if arr.ndim != 1:
        raise InvalidArgumentError(f"{what} must be a flat list of numbers, got shape {arr.shape}")
    if len(arr) != dimension:
        raise DimensionMismatchError(
            f"{what} has dimension {len(arr)}, but the index has dimension {dimension}"
        )
    if not np.isfinite(arr).all():
        raise InvalidArgumentError(f"{what} contains NaN or infinity; only finite numbers are allowed")
    if _holds_booleans(values, arr):
        raise InvalidArgumentError(f"{what} must be a list of numbers, not booleans")
    return arr


def _holds_booleans(raw: Any, converted: npt.NDArray[Any]) -> bool:
    """Whether values given as Python or numpy booleans hide in a converted float32 array (numpy reads
    True as 1.0). Arrays already of a number dtype (what the wire decoders hand over) cost nothing;
    lists are scanned only when a 0 or 1 is there for a boolean to hide behind."""
    if isinstance(raw, np.ndarray):
        return bool(raw.dtype.kind == "b")
    if not isinstance(raw, list | tuple) or not ((converted == 0) | (converted == 1)).any():
        return False
    kinds = set(map(type, raw))
    return bool in kinds or np.bool_ in kinds


def sparse_vector(raw: Any, what: str = "sparse_values") -> SparseVector:
    if isinstance(raw, SparseVector):
        indices, values = raw.indices, raw.values
    elif isinstance(raw, Mapping):
        if "indices" not in raw or "values" not in raw:
            raise InvalidArgumentError(f"{what} needs 'indices' and 'values'")
        indices, values = raw["indices"], raw["values"]
    else:
        raise InvalidArgumentError(f"{what} must be an object with 'indices' and 'values'")
    try:
        idx = np.asarray(indices, dtype=np.int64)
        val = np.asarray(values, dtype=np.float32)
    except (TypeError, ValueError, OverflowError):
        raise InvalidArgumentError(f"{what}: indices must be integers and values numbers") from None
    if idx.ndim != 1 or val.ndim != 1:
        raise InvalidArgumentError(f"{what}: indices and values must be flat lists")
    if _holds_booleans(indices, idx) or _holds_booleans(values, val):
        raise InvalidArgumentError(f"{what}: indices must be integers and values numbers, not booleans")
    if len(idx) != len(val):
        raise InvalidArgumentError(
            f"{what}: indices ({len(idx)}) and values ({len(val)}) must have the same length"
        )
    if len(idx) > MAX_SPARSE_NNZ:
        raise InvalidArgumentError(f"{what} has {len(idx)} non-zeros; at most {MAX_SPARSE_NNZ} allowed")
    if len(idx) and (idx.min() < 0 or idx.max() > _UINT32_MAX):
        raise InvalidArgumentError(f"{what}: indices must be from 0 to {_UINT32_MAX} (uint32)")
    if not np.isfinite(val).all():
        raise InvalidArgumentError(f"{what} contains NaN or infinity")
    order = np.argsort(idx, kind="stable")
    idx = idx[order]
    if len(idx) > 1 and (np.diff(idx) == 0).any():
        raise InvalidArgumentError(f"{what}: indices must not repeat")
    return SparseVector(idx.astype(np.uint32), val[order])


def metadata(raw: Any, what: str = "metadata") -> Metadata | None:
    """Flat JSON object of string, number, bool or list-of-strings values; <= 40 KB; no nulls."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidArgumentError(f"{what} must be an object, got {type(raw).__name__}")
    out: dict[str, Any] = {}
    # An upper bound of the encoded size, so small objects (nearly all) skip the encode: JSON writes
    # a character as at most 6 bytes (\u00XX), a number in at most 24, plus quotes, colon and comma.
    bound = 2
    for key, value in raw.items():
        kind = type(value)
        # The common case, checked cheaply; everything else takes the careful path below.
        plain = kind is str or kind is int or kind is bool or (kind is float and math.isfinite(value))
        if plain and type(key) is str and key and key[0] != "$" and key.isprintable():
            out[key] = value
            if kind is str:
                bound += 6 * len(key) + 6 * len(value) + 6
            elif kind is not int or -_INT64 <= value < 2 * _INT64:
                bound += 6 * len(key) + 28
            else:
                bound = MAX_METADATA_BYTES + 1  # beyond 64 bits: the encoder says what it thinks
            continue
        bound = MAX_METADATA_BYTES + 1  # anything else: measure it
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError(f"{what} keys must be non-empty strings, got {key!r}")
        if key.startswith("$"):
            raise InvalidArgumentError(f"{what} key {key!r} must not start with '$'")
        check_name_characters(key, f"{what} key")
        if isinstance(value, bool | str):
            out[key] = value
        elif isinstance(value, int | float | np.integer | np.floating):
            if isinstance(value, float | np.floating) and not math.isfinite(value):
                raise InvalidArgumentError(f"{what} field {key!r} is NaN or infinity")
            out[key] = value.item() if isinstance(value, np.generic) else value
        elif isinstance(value, list | tuple):
            if not all(isinstance(v, str) for v in value):
                raise InvalidArgumentError(
                    f"{what} field {key!r}: lists may hold only strings (string, number, bool or list of "
                    "strings are allowed)"
                )
            out[key] = list(value)
        elif value is None:
            raise InvalidArgumentError(f"{what} field {key!r} is null; null values are not allowed")
        else:
            raise InvalidArgumentError(
                f"{what} field {key!r} has type {type(value).__name__}; allowed: string, number, bool, "
                "list of strings (metadata is flat)"
            )
    if bound <= MAX_METADATA_BYTES:
        return out
    try:
        size = len(orjson.dumps(out))
    except TypeError:  # orjson's JSONEncodeError: the only value it refuses here is a huge integer
        huge = [k for k, x in out.items() if type(x) is int and not -_INT64 <= x < 2 * _INT64]
        raise InvalidArgumentError(
            f"{what} field {huge[0] if huge else '?'!r} is an integer beyond 64 bits; store it as a "
            "string or a float"
        ) from None
    if size > MAX_METADATA_BYTES:
        raise InvalidArgumentError(f"{what} is {size} bytes; at most {MAX_METADATA_BYTES} bytes per record")
    return out


def dense_matrix(records: Sequence[Record], dimension: int) -> FloatArray:
    """Validate all records' dense values at once and return them stacked (rows share its memory);
    per record only to name an error."""
    try:
        mat = np.asarray([r.values for r in records], dtype=np.float32)
    except (TypeError, ValueError):
        mat = None
    if (
        mat is not None
        and mat.ndim == 2
        and mat.shape[1] == dimension
        and np.isfinite(mat).all()
        and not _any_booleans(records, mat)
    ):
        for i, rec in enumerate(records):
            rec.values = mat[i]
        return mat
    for i, rec in enumerate(records):
        rec.values = dense_vector(rec.values, dimension, f"vectors[{i}].values")
    return np.stack([r.values for r in records if r.values is not None])


def _any_booleans(records: Sequence[Record], mat: FloatArray) -> bool:
    """`_holds_booleans` over a batch; rows given as float numpy arrays (the common case) in one pass."""
    kinds = {type(r.values) for r in records}
    if kinds == {np.ndarray}:
        return any(r.values.dtype.kind == "b" for r in records)  # type: ignore[union-attr]
    return any(_holds_booleans(r.values, mat[i]) for i, r in enumerate(records))


def check_records(records: Sequence[Record], dimension: int, vector_type: str) -> None:
    """Validate a batch of already-converted records for an index."""
    if not records:
        raise InvalidArgumentError("an upsert needs at least one record; the batch is empty")
    if len(records) > MAX_UPSERT_BATCH:
        raise InvalidArgumentError(
            f"upsert of {len(records)} records; at most {MAX_UPSERT_BATCH} records per request"
        )
    if vector_type != "sparse" and _plain_dense_batch(records):
        return
    for i, rec in enumerate(records):
        check_id(rec.id, f"vectors[{i}].id")
        if vector_type == "sparse":
            if rec.values is not None and len(rec.values):
                raise InvalidArgumentError(
                    f"vectors[{i}] ({rec.id!r}) has dense values, but the index is sparse"
                )
            if rec.sparse_values is None or len(rec.sparse_values.indices) == 0:
                raise InvalidArgumentError(f"vectors[{i}] ({rec.id!r}) needs sparse_values in a sparse index")
        elif rec.values is None:
            raise InvalidArgumentError(f"vectors[{i}] ({rec.id!r}) needs values (dimension {dimension})")


def _plain_dense_batch(records: Sequence[Record]) -> bool:
    """Whether every record of a dense batch has a valid id and values, judged for the whole batch in
    a few C loops; False sends the batch through the per-record checks, which name the culprit."""
    ids = [r.id for r in records]
    if not all(type(i) is str for i in ids):
        return False
    lengths = list(map(len, ids))
    if min(lengths) < 1 or max(lengths) > MAX_ID_LENGTH:
        return False
    # Printable ids (nearly all) are free of control characters; others take the careful check.
    return "".join(ids).isprintable() and all(r.values is not None for r in records)

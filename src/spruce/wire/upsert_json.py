"""The REST upsert body, decoded with simdjson so dense values never become Python floats.

A 1,000 x 768 upsert is ~15-17 MB of JSON, nearly all of it numbers. Through orjson every number became
a Python float, then a numpy array per record: 130-160 ms of server CPU per batch (80-90 ms decoding,
40-50 ms converting), ten times the engine's own work. simdjson parses the text in ~35 ms and hands
each `values` array over as a buffer of doubles; the batch's values become float32 in one conversion.
The whole decode is ~50 ms. Only the values take the shortcut: ids, metadata and sparse values are
converted to plain Python and checked by the same functions as the general path.

Anything the shortcut does not expect (see `simd`) goes to the general decoder, so every error still
names its field in the same words.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import simdjson

from spruce.types import FloatArray, Record, SparseVector
from spruce.wire import rest, simd, strict_json

_FIELDS = frozenset({"id", "metadata", "sparseValues", "sparse_values"})
# Either spelling of sparse values, and the other one: with both present the general rule (camelCase
# wins) applies, through the plain path.
_SPARSE = {"sparseValues": "sparse_values", "sparse_values": "sparseValues"}


def upsert_request(body: bytes | memoryview) -> tuple[list[Record], str]:
    """(records, namespace) of an upsert body; errors as `rest.upsert_request` raises them. Nothing
    returned refers to `body` (the REST route reuses its buffer)."""
    fast = _fast(body)
    if fast is not None:
        return fast
    return rest.upsert_request(rest.loads(bytes(body)))


def _fast(body: bytes | memoryview) -> tuple[list[Record], str] | None:
    try:
        with simd.document(body) as doc:
            records, namespace, arrays = _records(doc)
        if simd.count_brackets(body) != arrays:
            raise simd.Unexpected
    except simd.Unexpected:
        return None
    return records, namespace


def _records(doc: Any) -> tuple[list[Record], str, int]:
    """(records, namespace, number of JSON arrays in the document)."""
    if not isinstance(doc, simdjson.Object):
        raise simd.Unexpected
    vectors = namespace = None
    for key in strict_json.keys(doc, ""):
        if key == "vectors":
            vectors = doc[key]
        elif key == "namespace":
            namespace = doc[key]
        else:
            strict_json.check(doc[key], key)
    if not isinstance(vectors, simdjson.Array) or not 0 < len(vectors) <= rest.MAX_UPSERT_BATCH:
        raise simd.Unexpected
    if namespace is not None and not isinstance(namespace, str):
        raise simd.Unexpected
    plains: list[dict[str, Any]] = []
    buffers: list[FloatArray | None] = []
    sparses: list[SparseVector | None] = []
    arrays = 1  # `vectors`
    for i, item in enumerate(vectors):
        if not isinstance(item, simdjson.Object):
            raise simd.Unexpected
        if len(item) == 2:
            pair = _id_and_values(item)
            if pair is not None:
                plains.append({"id": pair[0]})
                buffers.append(pair[1])
                sparses.append(None)
                arrays += pair[2]
                continue
        plain: dict[str, Any] = {}
        doubles = None
        sv = None
        names = list(item.keys())
        if len(set(names)) != len(names) or not all(map(str.isprintable, names)):
            strict_json.keys(item, f"vectors[{i}]")  # raises, naming the key (or lets a harmless one by)
        for key in names:
            raw = item[key]
            if key == "values":
                doubles = simd.doubles(raw)
                arrays += isinstance(raw, simdjson.Array)
            elif key in _SPARSE and _SPARSE[key] not in names:
                sv = _sparse(raw, f"vectors[{i}].sparseValues")
                arrays += 2
            elif key in _FIELDS:
                value = plain[key] = simd.plain(raw)
                if isinstance(raw, simdjson.Object) and (
                    len(value) != len(raw) or not all(map(str.isprintable, value))
                ):
                    # `plain` kept the last of a repeated key (len counts them all): name it.
                    strict_json.check(raw, f"vectors[{i}].{key}")
                arrays += simd.count_arrays(value)
            else:
                strict_json.check(raw, f"vectors[{i}].{key}")
        plains.append(plain)
        buffers.append(doubles)
        sparses.append(sv)
    dense = _float32_rows(buffers)
    records = [
        # The common record, a non-empty id and dense values, needs none of `rest.record`'s checks;
        # anything else goes through them for its error message.
        Record(id=plain["id"], values=d)
        if d is not None and s is None and len(plain) == 1 and type(plain.get("id")) is str and plain["id"]
        else rest.record(plain, f"vectors[{i}]", dense=d, sparse_values=s)
        for i, (plain, d, s) in enumerate(zip(plains, dense, sparses, strict=True))
    ]
    return records, rest.namespace_in(namespace), arrays


def _id_and_values(item: Any) -> tuple[Any, FloatArray | None, bool] | None:
    """(id, values as float64 or None when null or empty, whether `values` is a JSON array) of a
    two-key object whose keys are exactly "id" and "values", else None (the general loop then looks at
    its keys). Two keys and both found means no other key and no repeated one. A missing key costs
    pysimdjson a C++ exception, but only objects of two keys get here and nearly all are this shape."""
    try:
        rid, raw = item["id"], item["values"]
    except KeyError:
        return None
    if isinstance(rid, simdjson.Object | simdjson.Array):
        return None  # the general loop converts and names it
    return rid, simd.doubles(raw), isinstance(raw, simdjson.Array)


def _sparse(raw: Any, field: str) -> SparseVector:
    """`{"indices": [...], "values": [...]}` straight from simdjson's buffers (no Python numbers; a
    boolean fails the buffer, so it never becomes 1); `Unexpected` for any other shape, which the
    general path judges. Nested arrays flatten in buffers: the caller counts these two arrays, so the
    bracket count sends such a body the general way."""
    if not isinstance(raw, simdjson.Object) or len(raw) != 2:
        raise simd.Unexpected
    indices, values = raw.get("indices"), raw.get("values")
    if not isinstance(indices, simdjson.Array) or not isinstance(values, simdjson.Array):
        raise simd.Unexpected
    try:
        idx = np.frombuffer(indices.as_buffer(of_type="u"), dtype=np.uint64)  # negatives fail here
        vals = np.frombuffer(values.as_buffer(of_type="d"), dtype=np.float64)
    except (TypeError, ValueError):
        raise simd.Unexpected from None
    if idx.size and int(idx.max()) > 0xFFFFFFFF:
        raise simd.Unexpected
    return rest.sparse_arrays(idx, simd.float32(vals), field)


def _float32_rows(rows: list[FloatArray | None]) -> list[FloatArray | None]:
    """The rows as float32 views of one array: one conversion and one range check for the batch."""
    present = [r for r in rows if r is not None]
    if not present:
        return list(rows)
    if len(present) == 1:
        flat = simd.float32(present[0])
    else:
        # Straight to float32: no float64 copy of the batch (6 MB of fresh pages per 1,000 x 768).
        # Out-of-range values become inf here and are refused just below, as in `simd.float32`.
        with np.errstate(over="ignore"):
            flat = np.concatenate(present, dtype=np.float32, casting="same_kind")
        if not np.isfinite(flat).all():
            raise simd.Unexpected
    if len(present) == len(rows) and all(r.size == present[0].size for r in present):
        return list(flat.reshape(len(rows), -1))  # row views in one C loop
    out: list[FloatArray | None] = []
    start = 0
    for r in rows:
        if r is None:
            out.append(None)
        else:
            out.append(flat[start : start + r.size])
            start += r.size
    return out

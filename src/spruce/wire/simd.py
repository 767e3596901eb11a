"""simdjson helpers for REST bodies whose float arrays should never become Python floats.

The upsert decoder (`upsert_json`) takes its shortcut only for bodies it fully understands and leaves
anything else to the general orjson path, which decodes it and raises its usual, field-naming errors.
Two things make a body "not understood" here:

* it is not valid JSON, or not an object (the general path says where);
* an array nests inside a float array: simdjson's buffers flatten ``[[0.1], [0.2]]`` into two values,
  so the decoder counts every '[' of the body against the arrays it saw.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt
import simdjson

from spruce.types import FloatArray


class Unexpected(Exception):
    """Raised inside a decoder to leave the body to the general path."""


@contextmanager
def document(body: bytes | bytearray | memoryview) -> Iterator[Any]:
    """The parsed document for the block's duration, or raise `Unexpected` for an empty or malformed
    body. Callers must not keep objects of it past the block: its parser goes back to the pool."""
    if not body:
        raise Unexpected
    parser = _take()
    try:
        try:
            doc = parser.parse(body)
        except RuntimeError:
            # A document from an earlier use is still referenced somewhere (a traceback, say): that
            # parser stays with it, and this call gets a fresh one.
            parser = simdjson.Parser()
            doc = parser.parse(body)
    except (RuntimeError, ValueError):
        _give(parser)
        raise Unexpected from None
    try:
        yield doc
    finally:
        del doc
        _give(parser)


# Idle parsers. A parser keeps its buffers (~3x the largest body it parsed) between documents, so
# reusing a few warm ones costs no page faults; one per thread (the request pool has dozens) made
# each large body fault in fresh buffers (the kernel zeroing pages: ~30% of the server's CPU with 8
# uploads in flight) and kept ~50 MB per thread alive.
_idle: list[simdjson.Parser] = []
_idle_lock = threading.Lock()
_MAX_IDLE = 2


def _take() -> simdjson.Parser:
    with _idle_lock:
        if _idle:
            return _idle.pop()
    return simdjson.Parser()


def _give(parser: simdjson.Parser) -> None:
    with _idle_lock:
        if len(_idle) < _MAX_IDLE:
            _idle.append(parser)


def doubles(raw: Any) -> FloatArray | None:
    """A JSON array of numbers as float64, None when null or empty; `Unexpected` for anything else."""
    if raw is None:
        return None
    if not isinstance(raw, simdjson.Array):
        raise Unexpected
    if len(raw) == 0:
        return None
    try:
        return np.frombuffer(raw.as_buffer(of_type="d"), dtype=np.float64)
    except (TypeError, ValueError):
        raise Unexpected from None  # booleans, strings: the general path names the problem


def float32(values: npt.NDArray[Any]) -> FloatArray:
    """float64 values as float32; `Unexpected` if one is out of float32's range."""
    with np.errstate(over="ignore"):
        out = values.astype(np.float32)
    if not np.isfinite(out).all():
        raise Unexpected
    return out


def plain(value: Any) -> Any:
    """A value as plain Python (dicts, lists, scalars). `as_dict` keeps the last of repeated keys at any
    depth, as orjson does: callers refuse those first (`strict_json.check`)."""
    if isinstance(value, simdjson.Object):
        return value.as_dict()
    if isinstance(value, simdjson.Array):
        return value.as_list()
    return value


def count_arrays(value: Any) -> int:
    """How many JSON arrays a plain value (metadata, sparse values) holds, at any depth. `Unexpected`
    for an object inside it, which is never valid there: the general path checks and names it.
    Iterative, so a body nested a thousand deep cannot exhaust the Python stack."""
    count = 0
    stack = list(value.values()) if isinstance(value, dict) else [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            raise Unexpected
        if isinstance(item, list):
            count += 1
            kinds = set(map(type, item))  # one C loop; nesting is rare
            if list in kinds or dict in kinds:
                stack.extend(item)
    return count


_CHUNK = 1 << 18


def count_brackets(body: bytes | memoryview) -> int:
    """How many b"[" the body holds: in chunks through one small scratch array, four times faster than
    bytes.count and without a body-sized temporary."""
    data = np.frombuffer(body, dtype=np.uint8)
    scratch = np.empty(min(_CHUNK, data.size), dtype=bool)
    count = 0
    for start in range(0, data.size, _CHUNK):
        chunk = data[start : start + _CHUNK]
        hits = scratch[: chunk.size]
        np.equal(chunk, 91, out=hits)
        count += int(np.count_nonzero(hits))
    return count

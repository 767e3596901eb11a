"""Pinecone metadata filters: parse/validate and a per-record reference evaluator (the columnar index
that must agree with it is metadata_columns.py).

Operators: `$eq $ne $gt $gte $lt $lte $in $nin $exists` on fields, `$and $or` to combine. A bare
value means `$eq`; several keys in one object (top level or on one field) are ANDed.

Validation (every failure is an `InvalidFilterError` naming the field and what is allowed): the
filter is an object (None or {} match everything); field names may not start with `$`; a bare
value is a string, number or boolean (a bare list is an error, use `$in`); operands are never
null, NaN or objects; ranges take numbers only (not booleans); `$exists` takes a boolean; `$in`/
`$nin` take a list of at most 10,000 strings/numbers/booleans (an empty list is allowed: `$in`
matches nothing, `$nin` everything); `$and`/`$or` take a non-empty list of non-empty objects;
nesting is at most 64 levels deep.

Semantics, chosen to follow Pinecone's documented behaviour and, where Pinecone's docs say nothing,
MongoDB's (Pinecone describes its filter language as based on MongoDB's query operators):

* Numbers are compared as float64 (Pinecone stores every number as a 64-bit float), so int 3 equals
  float 3.0. Booleans are not numbers: `{"$eq": true}` never matches 1, and range operators
  (`$gt` and friends) only take numbers and only match numeric fields.
* A list-of-strings field matches `$eq`/`$in` when ANY element matches.
* `$ne` is exactly "not `$eq`" and `$nin` is exactly "not `$in`". Consequences: a record that lacks
  the field matches `$ne`/`$nin` (MongoDB does the same; Pinecone's docs don't say otherwise), a
  field of another type matches `$ne` (`{"year": {"$ne": "x"}}` matches `year: 2000`), and a list
  field matches `$ne`/`$nin` only when no element matches.
* Every other field operator (`$eq`, `$in`, ranges, `$exists: true`) needs the field to be present,
  so a record with no metadata matches only `$ne`, `$nin`, `$exists: false` and combinations thereof.
* NaN stored in metadata compares unequal to everything (and never satisfies a range).
* Metadata values of unsupported types (None, dicts, non-string list elements) only count for
  `$exists`; they never equal anything. Validating metadata on write is someone else's job.

`matches` is the deliberately simple reference; `metadata_columns.MetadataColumns.evaluate` (typed numpy
columns in `filter_columns`) must agree with it on every input, which the property tests enforce.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import orjson

from spruce.engine.filter_columns import list_strings, to_float
from spruce.errors import InvalidFilterError

MAX_IN_VALUES: Final = 10_000
# Deep nesting has no legitimate use and would otherwise surface as RecursionError (a 500).
MAX_DEPTH: Final = 64

CompareOp: TypeAlias = Literal["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]
# Numbers are normalised to float at parse time, so a value is a str, a float or a bool.
Scalar: TypeAlias = str | float | bool

_FIELD_OPS: Final = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists")
_RANGE_OPS: Final = ("$gt", "$gte", "$lt", "$lte")
_LOGICAL_OPS: Final = ("$and", "$or")
# Maps the validated operator string to its Literal type for the AST.
_COMPARE_OPS: Final[dict[str, CompareOp]] = {
    "$eq": "$eq",
    "$ne": "$ne",
    "$gt": "$gt",
    "$gte": "$gte",
    "$lt": "$lt",
    "$lte": "$lte",
}


@dataclass(frozen=True, slots=True, eq=False)
class Compare:
    field: str
    op: CompareOp
    value: Scalar

    # Python has True == 1 and hash(True) == hash(1), but `{"b": true}` and `{"b": 1}` match
    # different records: the per-block caches keyed by parsed filters (meta_index, hot_rows) answered
    # one with the other's rows. A bool compares equal only to a bool.
    def _key(self) -> tuple[str, str, bool, Scalar]:
        return (self.field, self.op, type(self.value) is bool, self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Compare) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(frozen=True, slots=True)
class InSet:
    """`$in` (negate=False) or `$nin` (negate=True), with the values split by type."""

    field: str
    strings: frozenset[str]
    numbers: frozenset[float]
    bools: frozenset[bool]
    negate: bool


@dataclass(frozen=True, slots=True)
class Exists:
    field: str
    exists: bool


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Filter, ...]


Filter: TypeAlias = Compare | InSet | Exists | And | Or


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_filter(raw: object) -> Filter | None:
    """Validate a Pinecone filter object; None or {} means "match everything" and returns None.

    Parsed filters are cached by their JSON text (a query path repeats the same few filters; parsing
    cost more than the lookup), and a hit returns the same immutable object, which also lets per-block
    caches keyed by the filter hit. Only valid filters are cached: errors are raised every time.
    """
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidFilterError(f"filter must be a JSON object, got {_type_name(raw)}")
    if not raw:
        return None
    key = _cache_key(raw)
    if key is not None:
        hit = _PARSED.get(key)
        if hit is not None:
            return hit
    parsed = _parse_object(raw, depth=1)
    if key is not None:
        if len(_PARSED) >= _PARSED_MAX:
            # Oldest first (dicts keep insertion order); concurrent evictions may race harmlessly.
            _PARSED.pop(next(iter(_PARSED), key), None)
        _PARSED[key] = parsed
    return parsed


_PARSED: Final[dict[bytes, Filter]] = {}
_PARSED_MAX: Final = 1024


def _cache_key(raw: Mapping[Any, Any]) -> bytes | None:
    """The filter's JSON text, or None when it cannot stand for the filter: not plain JSON types
    (numpy scalars, Mapping subclasses, huge ints: orjson refuses them) or holding `null`, which is
    also what orjson writes for NaN and for both infinities (so `$lt: inf` and `$lt: -inf` collide)."""
    try:
        key = orjson.dumps(raw)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return None
    return None if b"null" in key else key


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _combine_and(parts: list[Filter]) -> Filter:
    return parts[0] if len(parts) == 1 else And(tuple(parts))


def _parse_object(obj: Mapping[Any, Any], depth: int) -> Filter:
    if depth > MAX_DEPTH:
        raise InvalidFilterError(f"filter is nested too deeply; at most {MAX_DEPTH} levels are allowed")
    parts: list[Filter] = []
    for key, value in obj.items():
        if not isinstance(key, str):
            raise InvalidFilterError(f"filter keys must be strings, got {_type_name(key)}")
        if key in _LOGICAL_OPS:
            parts.append(_parse_logical(key, value, depth))
        elif key.startswith("$"):
            raise InvalidFilterError(
                f"unknown filter operator '{key}' at the top level of a filter; allowed there: "
                f"$and, $or, or a field name (field names may not start with '$')"
            )
        else:
            parts.extend(_parse_field(key, value))
    return _combine_and(parts)


def _parse_logical(op: str, value: object, depth: int) -> Filter:
    if not isinstance(value, list | tuple):
        raise InvalidFilterError(f"{op} takes a non-empty list of filter objects, got {_type_name(value)}")
    if not value:
        raise InvalidFilterError(f"{op} takes a non-empty list of filter objects, got an empty list")
    children: list[Filter] = []
    for item in value:
        if not isinstance(item, Mapping):
            raise InvalidFilterError(
                f"{op} takes a non-empty list of filter objects, but one element is {_type_name(item)}"
            )
        if not item:
            raise InvalidFilterError(f"{op} takes a list of non-empty filter objects, but one is empty")
        children.append(_parse_object(item, depth + 1))
    if len(children) == 1:
        return children[0]
    return And(tuple(children)) if op == "$and" else Or(tuple(children))


def _parse_field(field: str, value: object) -> list[Filter]:
    if isinstance(value, Mapping):
        if not value:
            raise InvalidFilterError(
                f"filter for field '{field}' is an empty object; give a value or an operator "
                f"({', '.join(_FIELD_OPS)})"
            )
        return [_parse_operator(field, op, operand) for op, operand in value.items()]
    if isinstance(value, list | tuple):
        raise InvalidFilterError(
            f"filter value for field '{field}' is a list; a bare value must be a string, number or "
            f"boolean; use {{'$in': [...]}} to match any of several values"
        )
    return [Compare(field, "$eq", _scalar(field, "$eq", value))]


def _parse_operator(field: str, op: object, operand: object) -> Filter:
    if not isinstance(op, str) or op not in _FIELD_OPS:
        if isinstance(op, str) and not op.startswith("$"):
            raise InvalidFilterError(
                f"expected operators in the object for field '{field}', got key '{op}'; "
                f"allowed: {', '.join(_FIELD_OPS)} (nested fields are not supported)"
            )
        raise InvalidFilterError(
            f"unknown filter operator '{op}' for field '{field}'; allowed: {', '.join(_FIELD_OPS)}"
        )
    if op == "$exists":
        if not isinstance(operand, bool):
            raise InvalidFilterError(
                f"$exists for field '{field}' needs true or false, got {_type_name(operand)}"
            )
        return Exists(field, operand)
    if op in ("$in", "$nin"):
        return _parse_in(field, op, operand)
    if op in _RANGE_OPS and (isinstance(operand, bool) or not isinstance(operand, int | float)):
        raise InvalidFilterError(f"{op} for field '{field}' needs a number, got {_type_name(operand)}")
    return Compare(field, _COMPARE_OPS[op], _scalar(field, op, operand))


def _parse_in(field: str, op: str, operand: object) -> InSet:
    if not isinstance(operand, list | tuple):
        raise InvalidFilterError(
            f"{op} for field '{field}' takes a list of at most {MAX_IN_VALUES} values, "
            f"got {_type_name(operand)}"
        )
    if len(operand) > MAX_IN_VALUES:
        raise InvalidFilterError(
            f"{op} for field '{field}' takes a list of at most {MAX_IN_VALUES} values, got {len(operand)}"
        )
    strings: set[str] = set()
    numbers: set[float] = set()
    bools: set[bool] = set()
    for item in operand:
        value = _scalar(field, op, item)
        if isinstance(value, bool):
            bools.add(value)
        elif isinstance(value, float):
            numbers.add(value)
        else:
            strings.add(value)
    return InSet(field, frozenset(strings), frozenset(numbers), frozenset(bools), negate=op == "$nin")


def _scalar(field: str, op: str, value: object) -> Scalar:
    """A filter operand: str, bool, or a finite-or-infinite number normalised to float."""
    if isinstance(value, str | bool):
        return value
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise InvalidFilterError(
                f"{op} for field '{field}' has a number too large for a 64-bit float"
            ) from None
        if math.isnan(number):
            raise InvalidFilterError(f"{op} for field '{field}' has NaN, which is not a valid value")
        return number
    if value is None:
        raise InvalidFilterError(
            f"{op} for field '{field}' has null, which is not supported; "
            f"use {{'$exists': false}} to find records without the field"
        )
    raise InvalidFilterError(
        f"{op} for field '{field}' needs a string, number or boolean, got {_type_name(value)}"
    )


# ---------------------------------------------------------------------------------------------
# Reference evaluator


_MISSING: Final = object()


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _stored_equals(stored: object, value: Scalar) -> bool:
    if isinstance(value, bool):
        return isinstance(stored, bool) and stored == value
    if isinstance(value, float):
        if isinstance(stored, bool) or not isinstance(stored, int | float):
            return False
        return to_float(stored) == value
    if isinstance(stored, str):
        return stored == value
    return any(item == value for item in list_strings(stored))


def _stored_in(stored: object, f: InSet) -> bool:
    """Same as any(_stored_equals(stored, v) for v in the set), without a loop over the set."""
    if isinstance(stored, bool):
        return stored in f.bools
    if isinstance(stored, int | float):
        return to_float(stored) in f.numbers
    if isinstance(stored, str):
        return stored in f.strings
    return any(item in f.strings for item in list_strings(stored))


def _range_holds(stored: float, op: str, value: float) -> bool:
    if op == "$gt":
        return stored > value
    if op == "$gte":
        return stored >= value
    if op == "$lt":
        return stored < value
    return stored <= value


def matches(f: Filter | None, metadata: Mapping[str, Any] | None) -> bool:
    """Whether one record's metadata satisfies a parsed filter (None matches everything)."""
    if f is None:
        return True
    md: Mapping[str, Any] = metadata if metadata is not None else {}
    if isinstance(f, And):
        return all(matches(child, md) for child in f.children)
    if isinstance(f, Or):
        return any(matches(child, md) for child in f.children)
    stored = md.get(f.field, _MISSING)
    if isinstance(f, Exists):
        return (stored is not _MISSING) == f.exists
    if isinstance(f, InSet):
        return _stored_in(stored, f) != f.negate
    if f.op == "$eq":
        return _stored_equals(stored, f.value)
    if f.op == "$ne":
        return not _stored_equals(stored, f.value)
    if not _is_number(stored):
        return False
    return _range_holds(to_float(stored), f.op, float(f.value))

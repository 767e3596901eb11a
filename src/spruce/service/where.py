"""Chroma / pyseekdb `where` and `where_document` filters, parsed into engine row predicates.

`where` (metadata): `{field: value}` means `$eq`; field operators `$eq $ne $gt $gte $lt $lte $in $nin
$exists`, plus Chroma's `$contains` / `$not_contains` on a list field (list membership, i.e. `$eq` /
`$ne`); `$and` / `$or` take a non-empty list, `$not` one filter object; several keys in one object
are ANDed (Pinecone's rule; Chroma insists on one key). Field semantics are Pinecone's (see
engine/filter.py): `$eq` / `$in` match any element of a list field, `$ne` / `$nin` match a record
without the field.

`where_document`: `$contains` / `$not_contains` (case-sensitive substring), `$regex` / `$not_regex`
(Python `re` syntax, searched anywhere in the text), `$and` / `$or`. A record without a document
matches only the negative forms.

Any unknown operator is an InvalidFilterError naming the allowed ones; nothing is ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from spruce.engine.filter import MAX_DEPTH, parse_filter
from spruce.engine.predicate import AllOf, AnyOf, MetaLeaf, Node, Not, TextContains, TextRegex
from spruce.errors import InvalidFilterError

_FIELD_OPS = (
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$exists",
    "$contains",
    "$not_contains",
)
_LOGICAL = ("$and", "$or", "$not")
_DOC_OPS = ("$contains", "$not_contains", "$regex", "$not_regex", "$and", "$or")
_ALIAS = {"$contains": "$eq", "$not_contains": "$ne"}


def parse_where(raw: object) -> Node | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidFilterError(f"where must be an object, got {type(raw).__name__}")
    if not raw:
        return None
    return _where(raw, 1)


def _combine(parts: list[Node]) -> Node:
    return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _where(obj: Mapping[Any, Any], depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise InvalidFilterError(f"where is nested too deeply; at most {MAX_DEPTH} levels")
    parts: list[Node] = []
    for key, value in obj.items():
        if not isinstance(key, str):
            raise InvalidFilterError(f"where keys must be strings, got {key!r}")
        if key in ("$and", "$or"):
            if not isinstance(value, list | tuple) or not value:
                raise InvalidFilterError(f"{key} takes a non-empty list of filter objects")
            children = []
            for item in value:
                if not isinstance(item, Mapping) or not item:
                    raise InvalidFilterError(f"{key} takes a list of non-empty filter objects")
                children.append(_where(item, depth + 1))
            parts.append(
                children[0] if len(children) == 1 else (AllOf if key == "$and" else AnyOf)(tuple(children))
            )
        elif key == "$not":
            if not isinstance(value, Mapping) or not value:
                raise InvalidFilterError("$not takes one non-empty filter object")
            parts.append(Not(_where(value, depth + 1)))
        elif key.startswith("$"):
            raise InvalidFilterError(
                f"unknown where operator '{key}'; "
                f"allowed at this level: {', '.join(_LOGICAL)} or a field name"
            )
        else:
            parts.append(_field(key, value))
    return _combine(parts)


def _field(field: str, value: object) -> Node:
    if not isinstance(value, Mapping):
        flt = parse_filter({field: value})
        assert flt is not None
        return MetaLeaf(flt)
    if not value:
        raise InvalidFilterError(f"where for field '{field}' is an empty object")
    ops: dict[str, Any] = {}
    for op, operand in value.items():
        if op not in _FIELD_OPS:
            raise InvalidFilterError(
                f"unknown where operator '{op}' for field '{field}'; allowed: {', '.join(_FIELD_OPS)}"
            )
        ops[_ALIAS.get(str(op), str(op))] = operand
    if len(ops) < len(value):
        raise InvalidFilterError(f"where for field '{field}' repeats an operator")
    flt = parse_filter({field: ops})
    assert flt is not None
    return MetaLeaf(flt)


def parse_where_document(raw: object, field: str) -> Node | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidFilterError(f"where_document must be an object, got {type(raw).__name__}")
    if not raw:
        return None
    return _doc(raw, field, 1)


def _doc(obj: Mapping[Any, Any], field: str, depth: int) -> Node:
    if depth > MAX_DEPTH:
        raise InvalidFilterError(f"where_document is nested too deeply; at most {MAX_DEPTH} levels")
    parts: list[Node] = []
    for op, value in obj.items():
        if op in ("$and", "$or"):
            if not isinstance(value, list | tuple) or not value:
                raise InvalidFilterError(f"where_document {op} takes a non-empty list of objects")
            children = []
            for item in value:
                if not isinstance(item, Mapping) or not item:
                    raise InvalidFilterError(f"where_document {op} takes a list of non-empty objects")
                children.append(_doc(item, field, depth + 1))
            parts.append(
                children[0] if len(children) == 1 else (AllOf if op == "$and" else AnyOf)(tuple(children))
            )
        elif op in ("$contains", "$not_contains"):
            if not isinstance(value, str) or not value:
                raise InvalidFilterError(f"where_document {op} takes a non-empty string")
            parts.append(TextContains(field, value, negate=op == "$not_contains"))
        elif op in ("$regex", "$not_regex"):
            if not isinstance(value, str) or not value:
                raise InvalidFilterError(f"where_document {op} takes a non-empty string")
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise InvalidFilterError(f"where_document {op}: invalid regular expression: {exc}") from None
            parts.append(TextRegex(field, compiled, negate=op == "$not_regex"))
        else:
            raise InvalidFilterError(
                f"unknown where_document operator {op!r}; allowed: {', '.join(_DOC_OPS)}"
            )
    return _combine(parts)


def contains_terms(raw: object) -> list[str]:
    """The strings of a where_document's positive `$contains` (for BM25 query terms)."""
    out: list[str] = []
    if isinstance(raw, Mapping):
        for op, value in raw.items():
            if op == "$contains" and isinstance(value, str):
                out.append(value)
            elif op in ("$and", "$or") and isinstance(value, list | tuple):
                for item in value:
                    out.extend(contains_terms(item))
    return out

"""What a request body's JSON may not do although JSON parsers let it: repeat a key, or use a control
character in a key.

orjson (like most parsers) keeps the last of repeated keys without a word, so `{"namespace":"a",
"namespace":"b"}` would silently write to `b`, and a proxy or a log that keeps the first would see `a`.
Such a body is ambiguous, so it is a 400 that names the key and where it is.

The check walks simdjson's document, which is already in C memory: an object costs one key listing, an
array of numbers one `as_buffer` call (no Python float is made), so a 768-d query body costs a parse and a
few lookups on top of its orjson decode. The upsert decoder (`upsert_json`) walks its own document and
calls `check` only on the parts it hands over as plain Python (metadata, sparse values).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import simdjson

from spruce.errors import InvalidArgumentError
from spruce.service.validation import control_character
from spruce.wire import simd


def check(value: Any, where: str) -> None:
    """Refuse repeated keys and control characters in keys anywhere inside a simdjson value. Iterative:
    simdjson and orjson accept ~1,000 levels of nesting, more than Python's stack would."""
    stack = [(value, where)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, simdjson.Object):
            for name in keys(node, at):
                child = node[name]
                if isinstance(child, simdjson.Object | simdjson.Array):
                    stack.append((child, f"{at}.{name}" if at else name))
        elif isinstance(node, simdjson.Array):
            try:
                node.as_buffer(of_type="d")
                continue  # numbers only: nothing inside can hold a key
            except (TypeError, ValueError):
                pass
            for i, child in enumerate(node):
                if isinstance(child, simdjson.Object | simdjson.Array):
                    stack.append((child, f"{at}[{i}]"))


def keys(obj: Any, where: str) -> list[str]:
    """An object's keys, after checking that none repeats or holds a control character."""
    names: list[str] = list(obj.keys())
    if len(set(names)) != len(names):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise duplicate(name, where)
            seen.add(name)
    for name in names:
        bad = None if name.isprintable() else control_character(name)
        if bad is not None:
            raise InvalidArgumentError(
                f"field name {name[:40]!r} in {where or 'the request body'} contains a control character "
                f"({bad}); field names must not contain NUL or other control characters"
            )
    return names


def duplicate(name: str, where: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"key {name!r} appears more than once in {where or 'the request body'}; "
        "each key may appear only once in a JSON object"
    )


def check_body(body: bytes) -> None:
    """`check` for a whole body that orjson has already accepted."""
    try:
        with simd.document(body) as doc:
            check(doc, "")
    except simd.Unexpected:
        # Valid for orjson but not for simdjson (very rare, e.g. an exotic number): the slow stdlib path.
        _check_stdlib(body)


def _check_stdlib(body: bytes) -> None:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in items:
            if name in out:
                raise duplicate(name, "a JSON object of the request body")
            bad = None if name.isprintable() else control_character(name)
            if bad is not None:
                raise InvalidArgumentError(
                    f"field name {name[:40]!r} contains a control character ({bad}); field names must "
                    "not contain NUL or other control characters"
                )
            out[name] = value
        return out

    # orjson accepted the body; whatever else the stdlib dislikes is not a repeated key.
    with contextlib.suppress(ValueError):
        json.loads(body, object_pairs_hook=pairs)

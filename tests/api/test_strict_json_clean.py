"""`rest.loads` skips the second (simdjson) parse when orjson's result proves the body clean: it must
accept and refuse exactly what the full check accepts and refuses, in the same words."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.errors import InvalidArgumentError
from spruce.wire import rest, strict_json

# Keys from a tiny alphabet so repeats are common; colons, quotes and control characters included.
key = st.sampled_from(["a", "b", "id", "a:b", 'q"', "\\u0000", "\\u0001x", "\\u00a0", "k\\n", ":"])
scalar = st.one_of(
    st.integers(-5, 5).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda f: orjson.dumps(f).decode()),
    st.sampled_from(["true", "false", "null", '"x"', '"a:b"', '"::"', '"\\"c\\":1"', '""']),
)


def _render(pairs_or_items: Any) -> str:
    kind, content = pairs_or_items
    if kind == "obj":
        return "{" + ", ".join(f'"{k}": {_render(v)}' for k, v in content) + "}"
    if kind == "arr":
        return "[" + ",".join(_render(v) for v in content) + "]"
    return str(content)


values = st.recursive(
    scalar.map(lambda s: ("raw", s)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda xs: ("arr", xs)),
        st.lists(st.tuples(key, inner), max_size=4).map(lambda kv: ("obj", kv)),
    ),
    max_leaves=12,
)
bodies = st.lists(st.tuples(key, values), max_size=5).map(lambda kv: _render(("obj", kv)).encode())


def _full(body: bytes) -> str | None:
    try:
        strict_json.check_body(body)
    except InvalidArgumentError as exc:
        return exc.message
    return None


@settings(max_examples=400, deadline=None)
@given(bodies)
def test_loads_refuses_exactly_what_the_full_check_refuses(body: bytes) -> None:
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return  # not JSON at all: the same 400 either way, before any key check
    expected = _full(body)
    if expected is None:
        assert rest.loads(body) == orjson.loads(body)
    else:
        with pytest.raises(InvalidArgumentError) as caught:
            rest.loads(body)
        assert caught.value.message == expected


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": 1, "a": 2}',
        b'{"a": {"b": 1, "b": 1}}',
        b'{"x": [1, {"k": 1, "k": 2}]}',
        b'{"s": "has: a colon", "a": 1, "a": 1}',  # a colon in a string must not hide the repeat
        b'{"a\\u0000": 1}',
    ],
)
def test_known_bad_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(InvalidArgumentError):
        rest.loads(body)


def test_a_clean_query_body_needs_no_second_parse() -> None:
    body = orjson.dumps({"vector": [0.25] * 768, "topK": 10, "namespace": "n", "filter": {"g": {"$eq": "x"}}})
    assert strict_json.clean(body, orjson.loads(body))
    colon = orjson.dumps({"namespace": "a:b"})
    assert not strict_json.clean(colon, orjson.loads(colon))  # left to the full check, which accepts it
    assert rest.loads(colon) == {"namespace": "a:b"}

"""The simdjson upsert decoder gives exactly what the general decoder gives, and the same errors."""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.errors import InvalidArgumentError
from spruce.types import Record
from spruce.wire import rest, simd, upsert_json


def general(body: bytes) -> tuple[list[Record], str]:
    return rest.upsert_request(rest.loads(body))


def same(a: tuple[list[Record], str], b: tuple[list[Record], str]) -> None:
    assert a[1] == b[1]
    assert len(a[0]) == len(b[0])
    for x, y in zip(a[0], b[0], strict=True):
        assert x.id == y.id and x.metadata == y.metadata
        if x.values is None:
            assert y.values is None
        else:
            assert y.values is not None and x.values.dtype == y.values.dtype == np.float32
            np.testing.assert_array_equal(x.values, y.values)
        if x.sparse_values is None:
            assert y.sparse_values is None
        else:
            assert y.sparse_values is not None
            np.testing.assert_array_equal(x.sparse_values.indices, y.sparse_values.indices)
            np.testing.assert_array_equal(x.sparse_values.values, y.sparse_values.values)


VALID: list[dict[str, Any]] = [
    {"vectors": [{"id": "a", "values": [0.1, 0.2, 0.3]}]},
    {"vectors": [{"id": "a", "values": [1, 2, 3]}], "namespace": "ns"},  # integers are numbers too
    {"vectors": [{"id": "a", "values": [0.5, -1e30, 3.25], "metadata": {"g": "x", "n": 2, "t": ["a", "b"]}}]},
    {"vectors": [{"id": "s", "values": [], "sparseValues": {"indices": [3, 1], "values": [0.5, 0.25]}}]},
    {"vectors": [{"id": "h", "values": [0.1, 0.2], "sparse_values": {"indices": [7], "values": [2.0]}}]},
    {"vectors": [{"id": str(i), "values": [float(i)] * 4} for i in range(50)], "namespace": "__default__"},
    {  # rows without dense values between rows with them: each row gets its own slice of the batch
        "vectors": [
            {"id": "d1", "values": [0.1, 0.2]},
            {"id": "s1", "values": [], "sparseValues": {"indices": [1], "values": [0.5]}},
            {"id": "d2", "values": [0.3, 0.4, 0.5]},
            {"id": "s2", "sparseValues": {"indices": [2], "values": [1.5]}},
            {"id": "d3", "values": [0.6]},
        ]
    },
]


@pytest.mark.parametrize("body", VALID, ids=range(len(VALID)))
def test_fast_path_matches_general_decoder(body: dict[str, Any]) -> None:
    raw = orjson.dumps(body)
    fast = upsert_json._fast(raw)
    assert fast is not None, "the fast path fell back on a plain body: it would never be used"
    same(fast, general(raw))
    same(upsert_json.upsert_request(raw), general(raw))


INVALID: list[bytes] = [
    b'{"vectors": [{"id": "a", "values": [0.1, true]}]}',
    b'{"vectors": [{"id": "a", "values": [true, false]}]}',
    b'{"vectors": [{"id": "a", "values": ["0.1"]}]}',
    b'{"vectors": [{"id": "a", "values": [[0.1]]}]}',
    b'{"vectors": [{"id": "a", "values": [1e400]}]}',
    b'{"vectors": [{"id": "a", "values": [1e39]}]}',  # finite double, infinite as float32
    b'{"vectors": [{"id": "a", "values": "0.1"}]}',
    b'{"vectors": [{"id": 5, "values": [0.1]}]}',
    b'{"vectors": [{"values": [0.1]}]}',
    b'{"vectors": [{"id": "a"}]}',
    b'{"vectors": [{"id": "a", "values": [0.1], "metadata": [1]}]}',
    b'{"vectors": [{"id": "a", "values": [0.1]}], "namespace": 3}',
    b'{"vectors": {"id": "a"}}',
    b'{"vectors": [5]}',
    b"[1, 2]",
    b'{"vectors": [{"id": "a", "values": [0.1,]}]}',
    b'{"vectors": [{"id": "a", "values": [NaN]}]}',
    b"",
    b"{",
    orjson.dumps({"vectors": [{"id": str(i), "values": [0.1]} for i in range(1001)]}),
]


@pytest.mark.parametrize("body", INVALID, ids=range(len(INVALID)))
def test_errors_are_the_general_decoders(body: bytes) -> None:
    try:
        expected: str | None = None
        result = general(body)
    except InvalidArgumentError as exc:
        expected = exc.message
    if expected is None:
        same(upsert_json.upsert_request(body), result)  # e.g. an empty body: nothing to reject here
        return
    with pytest.raises(InvalidArgumentError) as caught:
        upsert_json.upsert_request(body)
    assert caught.value.message == expected


finite = st.floats(min_value=-1e30, max_value=1e30, allow_nan=False)
records = st.lists(
    st.fixed_dictionaries(
        {"id": st.text(min_size=1, max_size=8), "values": st.lists(finite, min_size=1, max_size=6)},
        optional={
            "metadata": st.dictionaries(
                st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=4),
                st.one_of(
                    st.text(max_size=5), st.integers(-5, 5), st.booleans(), st.lists(st.text(max_size=3))
                ),
                max_size=3,
            )
        },
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(records, st.one_of(st.none(), st.text(max_size=5)))
def test_generated_bodies_decode_alike(vectors: list[dict[str, Any]], namespace: str | None) -> None:
    body: dict[str, Any] = {"vectors": vectors}
    if namespace is not None:
        body["namespace"] = namespace
    raw = orjson.dumps(body)
    same(upsert_json.upsert_request(raw), general(raw))


REPEATED: list[tuple[bytes, str]] = [
    (b'{"vectors": [{"id": "a", "id": "b", "values": [0.1]}]}', "'id' appears more than once in vectors[0]"),
    (b'{"vectors": [{"id": "a", "values": [0.1], "values": [0.2]}]}', "'values' appears more than once"),
    (b'{"vectors": [{"id": "a", "values": [0.1]}], "namespace": "x", "namespace": "y"}', "'namespace'"),
    (
        b'{"vectors": [{"id": "a", "values": [0.1], "metadata": {"g": 1, "g": 2}}]}',
        "'g' appears more than once in vectors[0].metadata",
    ),
    (
        b'{"vectors": [{"id": "a", "values": [0.1], "sparseValues": {"indices": [1], "indices": [2],'
        b' "values": [1]}}]}',
        "in vectors[0].sparseValues",
    ),
    (b'{"vectors": [{"id": "a", "values": [0.1], "x": {"y": {"z": 1, "z": 1}}}]}', "vectors[0].x.y"),
    (b'{"vectors": [{"id": "a", "values": [0.1]}], "extra": [{"k": 1, "k": 2}]}', "extra[0]"),
    (b'{"vectors": [{"id": "a", "id\\u0000": "b", "values": [0.1]}]}', "control character (U+0000)"),
    (b'{"vectors": [{"id": "a", "values": [0.1], "metadata": {"g\\u0001": 1}}]}', "U+0001"),
]


@pytest.mark.parametrize(("body", "needle"), REPEATED, ids=range(len(REPEATED)))
def test_repeated_keys_and_control_characters_are_refused_alike(body: bytes, needle: str) -> None:
    # orjson keeps the last of repeated keys, simdjson's lookups the first: both paths refuse them, in the
    # same words, at any depth.
    with pytest.raises(InvalidArgumentError) as fast:
        upsert_json.upsert_request(body)
    with pytest.raises(InvalidArgumentError) as slow:
        general(body)
    assert fast.value.message == slow.value.message
    assert needle in fast.value.message


def test_booleans_never_become_numbers() -> None:
    for values in ("[true, 0.5]", "[0.5, false]", "[1, true]", "[true]"):
        body = f'{{"vectors": [{{"id": "a", "values": {values}}}]}}'.encode()
        with pytest.raises(InvalidArgumentError, match="values"):
            upsert_json.upsert_request(body)
    for field in ('"indices": [true, 2], "values": [0.1, 0.2]', '"indices": [1, 2], "values": [0.1, true]'):
        body = f'{{"vectors": [{{"id": "a", "sparseValues": {{{field}}}}}]}}'.encode()
        with pytest.raises(InvalidArgumentError, match="sparseValues"):
            upsert_json.upsert_request(body)


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="at least one vector"):
        upsert_json.upsert_request(b'{"vectors": []}')


def big_body(bad_row: int | None) -> bytes:
    """~1.1 MB: several of the bracket counter's chunks; `bad_row` gets nested values."""
    vectors: list[dict[str, Any]] = [{"id": str(i), "values": [0.123456789] * 64} for i in range(1000)]
    if bad_row is not None:
        vectors[bad_row]["values"] = [[0.5], [0.25]]
    return orjson.dumps({"vectors": vectors})


def test_a_nested_array_far_into_a_large_body_is_still_caught() -> None:
    good = big_body(None)
    assert len(good) > 3 * simd._CHUNK
    assert upsert_json._fast(good) is not None
    bad = big_body(998)
    assert upsert_json._fast(bad) is None
    with pytest.raises(InvalidArgumentError) as caught:
        upsert_json.upsert_request(bad)
    with pytest.raises(InvalidArgumentError) as expected:
        general(bad)
    assert caught.value.message == expected.value.message


@pytest.mark.parametrize("size", [0, 1, simd._CHUNK - 1, simd._CHUNK, 2 * simd._CHUNK + 7])
def test_bracket_count_across_chunk_edges(size: int) -> None:
    rng = np.random.default_rng(size)
    body = rng.choice(np.frombuffer(b"[]a,", dtype=np.uint8), size).tobytes()
    assert simd.count_brackets(body) == body.count(b"[")


def test_a_document_still_referenced_does_not_break_the_next_parse() -> None:
    # A pooled parser whose document is still referenced (kept past its block, as a lingering
    # traceback would): the next parse takes a fresh parser instead of failing.
    with simd.document(b'{"vectors": [{"id": "x", "values": [1.0]}]}') as doc:
        held = doc["vectors"]
    raw = orjson.dumps(VALID[0])
    same(upsert_json.upsert_request(raw), general(raw))
    del held
    assert upsert_json._fast(raw) is not None


def test_parsers_are_reused() -> None:
    raw = orjson.dumps(VALID[0])
    upsert_json.upsert_request(raw)
    idle = list(simd._idle)
    upsert_json.upsert_request(raw)
    assert simd._idle and simd._idle[-1] in idle


@pytest.mark.parametrize("depth", [900, 1015])
def test_deep_nesting_is_a_clear_error_not_a_stack_overflow(depth: int) -> None:
    # orjson and simdjson accept ~1,000 levels; the checks walk them without recursion, so the client
    # gets a 400 (or the body is accepted), never a RecursionError.
    deep_list = b"[" * depth + b"]" * depth
    deep_dup = b'{"k": 1, "k": 2}'
    for _ in range(depth - 2):
        deep_dup = b'{"a": ' + deep_dup + b"}"
    metadata = b'{"vectors": [{"id": "a", "values": [1], "metadata": {"t": ' + deep_list + b"}}]}"
    with contextlib.suppress(InvalidArgumentError):
        upsert_json.upsert_request(metadata)
    for body in (
        b'{"vectors": [{"id": "a", "values": [1], "x": ' + deep_dup + b"}]}",
        b'{"vectors": [{"id": "a", "values": [1]}], "extra": ' + deep_dup + b"}",
    ):
        with pytest.raises(InvalidArgumentError, match="'k' appears more than once"):
            upsert_json.upsert_request(body)
        with pytest.raises(InvalidArgumentError, match="'k' appears more than once"):
            general(body)


def outcome(decode: Any, body: bytes) -> tuple[list[Record], str] | str:
    try:
        result: tuple[list[Record], str] = decode(body)
    except InvalidArgumentError as exc:
        return exc.message
    return result


index_values = st.one_of(
    st.integers(0, 40), st.integers(-3, 2**33), st.booleans(), st.floats(-2, 2, allow_nan=False)
)
sparse_dicts = st.fixed_dictionaries(
    {
        "indices": st.lists(st.one_of(st.integers(0, 40), index_values), max_size=6),
        "values": st.lists(st.one_of(finite, st.booleans(), st.just(1e39)), max_size=6),
    }
)
sparse_records = st.tuples(
    st.text("abc", min_size=1, max_size=3),
    st.sampled_from(["sparseValues", "sparse_values"]),
    sparse_dicts,
    st.one_of(st.none(), st.lists(finite, min_size=1, max_size=3)),
).map(lambda t: {"id": t[0], t[1]: t[2], **({} if t[3] is None else {"values": t[3]})})
sparse_bodies = st.lists(sparse_records, min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(sparse_bodies)
def test_sparse_values_decode_alike_valid_or_not(vectors: list[dict[str, Any]]) -> None:
    # The fast path reads sparse values from simdjson's buffers: same records, or the same error.
    raw = orjson.dumps({"vectors": vectors})
    fast, slow = outcome(upsert_json.upsert_request, raw), outcome(general, raw)
    if isinstance(slow, str):
        assert fast == slow
    else:
        assert not isinstance(fast, str), fast
        same(fast, slow)

"""Metadata filters: validation errors, Pinecone semantics, and columnar == reference evaluator."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spruce.engine.filter import (
    MAX_IN_VALUES,
    And,
    Compare,
    Exists,
    Filter,
    InSet,
    Or,
    matches,
    parse_filter,
)
from spruce.engine.metadata_columns import MetadataColumns
from spruce.errors import InvalidArgumentError, InvalidFilterError

# ---------------------------------------------------------------------------------------------
# Parsing


def test_none_and_empty_match_everything() -> None:
    assert parse_filter(None) is None
    assert parse_filter({}) is None
    assert matches(None, None)
    assert MetadataColumns.from_rows([None, {"a": 1}]).evaluate(None).tolist() == [True, True]


def test_bare_value_is_eq_and_numbers_become_float() -> None:
    assert parse_filter({"genre": "drama"}) == Compare("genre", "$eq", "drama")
    f = parse_filter({"year": 2000})
    assert f == Compare("year", "$eq", 2000.0)
    assert isinstance(f, Compare) and isinstance(f.value, float)
    assert parse_filter({"flag": True}) == Compare("flag", "$eq", True)


def test_several_keys_and_operators_are_anded() -> None:
    f = parse_filter({"genre": "drama", "year": {"$gte": 2000, "$lt": 2010}})
    assert f == And(
        (
            Compare("genre", "$eq", "drama"),
            Compare("year", "$gte", 2000.0),
            Compare("year", "$lt", 2010.0),
        )
    )


def test_logical_operators_parse() -> None:
    f = parse_filter({"$or": [{"a": 1}, {"$and": [{"b": "x"}, {"c": {"$exists": False}}]}]})
    assert f == Or((Compare("a", "$eq", 1.0), And((Compare("b", "$eq", "x"), Exists("c", False)))))
    # A single-element $and/$or is just its element.
    assert parse_filter({"$and": [{"a": 1}]}) == Compare("a", "$eq", 1.0)


def test_in_splits_values_by_type() -> None:
    f = parse_filter({"x": {"$nin": ["a", 1, 2.5, True]}})
    assert f == InSet("x", frozenset({"a"}), frozenset({1.0, 2.5}), frozenset({True}), negate=True)


def test_filter_is_immutable() -> None:
    f = parse_filter({"a": 1})
    with pytest.raises(AttributeError):
        f.field = "b"  # type: ignore[union-attr, misc]


def test_error_is_an_invalid_argument() -> None:
    assert issubclass(InvalidFilterError, InvalidArgumentError)


@pytest.mark.parametrize(
    ("raw", "fragments"),
    [
        # not an object
        ([{"a": 1}], ["filter must be a JSON object", "list"]),
        ("genre", ["filter must be a JSON object", "string"]),
        (3, ["filter must be a JSON object"]),
        # unknown operators
        ({"genre": {"$foo": 1}}, ["unknown filter operator '$foo'", "'genre'", "$eq", "$exists"]),
        ({"genre": {"$regex": "a"}}, ["unknown filter operator '$regex'"]),
        ({"$foo": [{"a": 1}]}, ["unknown filter operator '$foo'", "$and", "$or"]),
        ({"$not": {"a": 1}}, ["unknown filter operator '$not'"]),
        ({"$eq": 1}, ["unknown filter operator '$eq'", "top level"]),
        ({"genre": {"sub": 1}}, ["field 'genre'", "'sub'", "nested fields"]),
        ({"genre": {}}, ["field 'genre'", "empty object"]),
        ({1: "a"}, ["keys must be strings"]),
        # bare list / bad bare values
        ({"tags": ["a", "b"]}, ["field 'tags'", "list", "$in"]),
        ({"genre": None}, ["null", "'genre'", "$exists"]),
        ({"x": math.nan}, ["NaN", "'x'"]),
        ({"x": {"$eq": {"a": 1}}}, ["$eq", "'x'", "object"]),
        ({"x": {"$ne": None}}, ["$ne", "null"]),
        ({"x": {"$eq": ["a"]}}, ["$eq", "'x'", "list"]),
        ({"x": {"$eq": 10**400}}, ["too large"]),
        # range operators need numbers
        ({"year": {"$gt": "2000"}}, ["$gt for field 'year' needs a number", "string"]),
        ({"year": {"$gte": True}}, ["$gte for field 'year' needs a number", "boolean"]),
        ({"year": {"$lt": None}}, ["$lt for field 'year' needs a number", "null"]),
        ({"year": {"$lte": [1]}}, ["$lte for field 'year' needs a number"]),
        ({"year": {"$lt": math.nan}}, ["NaN"]),
        # $exists
        ({"x": {"$exists": 1}}, ["$exists for field 'x' needs true or false", "number"]),
        ({"x": {"$exists": "true"}}, ["$exists", "string"]),
        # $in / $nin
        ({"x": {"$in": "a"}}, ["$in for field 'x' takes a list", "string"]),
        ({"x": {"$nin": 1}}, ["$nin for field 'x' takes a list"]),
        (
            {"x": {"$in": list(range(MAX_IN_VALUES + 2000))}},
            [f"$in for field 'x' takes a list of at most {MAX_IN_VALUES} values, got 12000"],
        ),
        ({"x": {"$in": ["a", None]}}, ["$in", "null"]),
        ({"x": {"$in": [["a"]]}}, ["$in", "list"]),
        ({"x": {"$nin": [{"a": 1}]}}, ["$nin", "object"]),
        ({"x": {"$in": [math.nan]}}, ["NaN"]),
        # $and / $or
        ({"$and": []}, ["$and takes a non-empty list", "empty list"]),
        ({"$or": []}, ["$or takes a non-empty list"]),
        ({"$and": {"a": 1}}, ["$and takes a non-empty list", "object"]),
        ({"$or": [1]}, ["$or", "number"]),
        ({"$and": [{}]}, ["$and", "empty"]),
        ({"$or": [{"a": {"$bad": 1}}]}, ["unknown filter operator '$bad'"]),
    ],
)
def test_parse_errors(raw: object, fragments: list[str]) -> None:
    with pytest.raises(InvalidFilterError) as info:
        parse_filter(raw)
    for fragment in fragments:
        assert fragment in info.value.message


def test_in_at_the_limit_is_fine() -> None:
    assert parse_filter({"x": {"$in": list(range(MAX_IN_VALUES))}}) is not None


def test_deep_nesting_is_a_clean_error() -> None:
    raw: dict[str, Any] = {"a": 1}
    for _ in range(500):
        raw = {"$and": [raw, {"b": 2}]}
    with pytest.raises(InvalidFilterError, match="nested too deeply"):
        parse_filter(raw)


# ---------------------------------------------------------------------------------------------
# Semantics (each case checked with both evaluators)


def check(raw: object, rows: list[dict[str, Any] | None], expected: list[bool]) -> None:
    f = parse_filter(raw)
    assert [matches(f, row) for row in rows] == expected
    mask = MetadataColumns.from_rows(rows).evaluate(f)
    assert mask.dtype == np.bool_
    assert mask.tolist() == expected


ROWS: list[dict[str, Any] | None] = [
    {"genre": "drama", "year": 2000, "tags": ["a", "b"], "flag": True},  # 0
    {"genre": "comedy", "year": 2005.0, "tags": ["c"], "flag": False},  # 1
    {"genre": "drama", "year": 2010.5, "tags": [], "flag": 1},  # 2
    {"year": "2000", "tags": "a"},  # 3: string year, scalar-string tags
    {},  # 4
    None,  # 5
]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"genre": "drama"}, [True, False, True, False, False, False]),
        ({"genre": {"$eq": "drama"}}, [True, False, True, False, False, False]),
        # $ne: missing field matches
        ({"genre": {"$ne": "drama"}}, [False, True, False, True, True, True]),
        # int equals float
        ({"year": 2005}, [False, True, False, False, False, False]),
        ({"year": 2000.0}, [True, False, False, False, False, False]),
        # a string "2000" is not the number 2000
        ({"year": "2000"}, [False, False, False, True, False, False]),
        ({"year": {"$ne": 2000}}, [False, True, True, True, True, True]),
        # ranges only match numbers
        ({"year": {"$gt": 2000}}, [False, True, True, False, False, False]),
        ({"year": {"$gte": 2000}}, [True, True, True, False, False, False]),
        ({"year": {"$lt": 2005}}, [True, False, False, False, False, False]),
        ({"year": {"$lte": 2005}}, [True, True, False, False, False, False]),
        ({"year": {"$gte": 2000, "$lt": 2010}}, [True, True, False, False, False, False]),
        # bool vs number
        ({"flag": True}, [True, False, False, False, False, False]),
        ({"flag": 1}, [False, False, True, False, False, False]),
        ({"flag": {"$ne": True}}, [False, True, True, True, True, True]),
        ({"flag": {"$gte": 0}}, [False, False, True, False, False, False]),
        ({"flag": {"$in": [True, False]}}, [True, True, False, False, False, False]),
        # list of strings: any element for $eq/$in, no element for $ne/$nin
        ({"tags": "a"}, [True, False, False, True, False, False]),
        ({"tags": {"$in": ["b", "c"]}}, [True, True, False, False, False, False]),
        ({"tags": {"$ne": "a"}}, [False, True, True, False, True, True]),
        ({"tags": {"$nin": ["a", "c"]}}, [False, False, True, False, True, True]),
        ({"tags": {"$in": []}}, [False] * 6),
        ({"tags": {"$nin": []}}, [True] * 6),
        # $in across types
        ({"year": {"$in": [2000, "2000"]}}, [True, False, False, True, False, False]),
        ({"year": {"$nin": [2000, 2005]}}, [False, False, True, True, True, True]),
        # $exists
        ({"genre": {"$exists": True}}, [True, True, True, False, False, False]),
        ({"genre": {"$exists": False}}, [False, False, False, True, True, True]),
        ({"tags": {"$exists": True}}, [True, True, True, True, False, False]),
        # a field nobody has
        ({"nope": "x"}, [False] * 6),
        ({"nope": {"$ne": "x"}}, [True] * 6),
        ({"nope": {"$nin": ["x"]}}, [True] * 6),
        ({"nope": {"$exists": False}}, [True] * 6),
        ({"nope": {"$gt": 1}}, [False] * 6),
        # nesting
        ({"$or": [{"genre": "comedy"}, {"year": {"$gt": 2010}}]}, [False, True, True, False, False, False]),
        (
            {"$and": [{"genre": "drama"}, {"$or": [{"tags": "a"}, {"flag": 1}]}]},
            [True, False, True, False, False, False],
        ),
        (
            {"$or": [{"$and": [{"genre": {"$exists": False}}, {"tags": "a"}]}, {"year": 2005}]},
            [False, True, False, True, False, False],
        ),
        (
            {"genre": "drama", "$or": [{"flag": True}, {"flag": False}]},
            [True, False, False, False, False, False],
        ),
    ],
)
def test_semantics(raw: object, expected: list[bool]) -> None:
    check(raw, ROWS, expected)


def test_no_metadata_matches_only_absent_friendly_filters() -> None:
    rows: list[dict[str, Any] | None] = [None, {}]
    check({"a": {"$ne": 1}}, rows, [True, True])
    check({"a": {"$nin": ["x"]}}, rows, [True, True])
    check({"a": {"$exists": False}}, rows, [True, True])
    check({"a": 1}, rows, [False, False])
    check({"a": {"$in": [1]}}, rows, [False, False])
    check({"a": {"$exists": True}}, rows, [False, False])
    check({"a": {"$lt": 1}}, rows, [False, False])


def test_mixed_types_in_one_field() -> None:
    rows: list[dict[str, Any] | None] = [{"v": "1"}, {"v": 1}, {"v": True}, {"v": ["1"]}, {"v": 1.5}]
    check({"v": "1"}, rows, [True, False, False, True, False])
    check({"v": 1}, rows, [False, True, False, False, False])
    check({"v": True}, rows, [False, False, True, False, False])
    check({"v": {"$in": ["1", 1.5]}}, rows, [True, False, False, True, True])
    check({"v": {"$gt": 0}}, rows, [False, True, False, False, True])


def test_large_and_odd_numbers() -> None:
    rows: list[dict[str, Any] | None] = [{"n": 10**400}, {"n": -(10**400)}, {"n": math.nan}, {"n": 2**53 + 1}]
    check({"n": {"$gt": 1e308}}, rows, [True, False, False, False])
    check({"n": {"$lt": 0}}, rows, [False, True, False, False])
    check({"n": {"$ne": 1}}, rows, [True, True, True, True])
    check({"n": {"$exists": True}}, rows, [True, True, True, True])
    # Numbers are float64, so 2**53 + 1 is stored as 2**53, like Pinecone does.
    check({"n": 2**53}, rows, [False, False, False, True])
    check({"n": {"$eq": math.inf}}, rows, [True, False, False, False])


def test_unsupported_metadata_values_only_count_as_present() -> None:
    rows: list[dict[str, Any] | None] = [{"v": None}, {"v": {"a": 1}}, {"v": [1, "x", None]}]
    check({"v": {"$exists": True}}, rows, [True, True, True])
    check({"v": "x"}, rows, [False, False, True])
    check({"v": 1}, rows, [False, False, False])
    check({"v": {"$ne": 1}}, rows, [True, True, True])


def test_duplicate_list_elements() -> None:
    check({"t": "a"}, [{"t": ["a", "a"]}, {"t": ["b"]}], [True, False])
    check({"t": {"$nin": ["a"]}}, [{"t": ["a", "a"]}, {"t": ["b"]}], [False, True])


def test_columns_grow_and_stay_consistent() -> None:
    columns = MetadataColumns()
    assert len(columns) == 0
    f = parse_filter({"k": {"$ne": "x"}})
    assert columns.evaluate(f).tolist() == []
    rows: list[dict[str, Any] | None] = []
    for i in range(300):
        row: dict[str, Any] | None = None if i % 7 == 0 else {"k": "x" if i % 3 == 0 else f"v{i % 5}"}
        if i > 100 and i % 11 == 0:
            row = {"late": i, "tags": ["x", f"t{i % 4}"]}
        rows.append(row)
        columns.append(row)
        if i % 37 == 0:  # evaluating mid-way must not disturb later appends
            for raw in ({"k": {"$ne": "x"}}, {"late": {"$gt": 150}}, {"tags": "t1"}):
                g = parse_filter(raw)
                assert columns.evaluate(g).tolist() == [matches(g, r) for r in rows]
    assert len(columns) == 300
    final: list[dict[str, Any]] = [
        {"k": {"$ne": "x"}},
        {"late": {"$gt": 150}},
        {"tags": "t1"},
        {"k": {"$exists": False}},
    ]
    for raw in final:
        g = parse_filter(raw)
        assert columns.evaluate(g).tolist() == [matches(g, r) for r in rows]


def test_evaluate_returns_fresh_arrays() -> None:
    columns = MetadataColumns.from_rows([{"a": 1}, {}])
    f = parse_filter({"a": {"$exists": True}})
    mask = columns.evaluate(f)
    mask[:] = False
    assert columns.evaluate(f).tolist() == [True, False]


# ---------------------------------------------------------------------------------------------
# Property: columnar evaluation == reference evaluation

FIELDS = ["a", "b", "c"]
STRINGS = ["x", "y", "z", ""]
NUMBERS: list[int | float] = [-2, 0, 1, 1.0, 2.5, 3, -0.0]

stored_values = st.one_of(
    st.sampled_from(STRINGS),
    st.sampled_from(NUMBERS),
    st.booleans(),
    st.lists(st.sampled_from(STRINGS), max_size=3),
)


@st.composite
def _row(draw: st.DrawFn) -> dict[str, Any] | None:
    # Hypothesis favours small dicts; drawing each field's presence keeps rows dense enough that
    # boundary cases (a stored value equal to the operand) come up often.
    if draw(st.integers(0, 9)) == 0:
        return None
    return {name: draw(stored_values) for name in FIELDS if draw(st.integers(0, 3)) > 0}


rows_strategy = st.lists(_row(), max_size=30)
scalars = st.one_of(st.sampled_from(STRINGS), st.sampled_from(NUMBERS), st.booleans())
numbers = st.sampled_from([*NUMBERS, -1.5, 10])
fields = st.sampled_from([*FIELDS, "missing"])


OPERATORS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists"]


@st.composite
def _operand(draw: st.DrawFn, op: str) -> Any:
    if op in ("$gt", "$gte", "$lt", "$lte"):
        return draw(numbers)
    if op in ("$in", "$nin"):
        return draw(st.lists(scalars, max_size=4))
    if op == "$exists":
        return draw(st.booleans())
    return draw(scalars)


@st.composite
def _operator_object(draw: st.DrawFn) -> dict[str, Any]:
    # Several operators on one field are ANDed; distinct keys keep every drawn operator.
    ops = draw(st.lists(st.sampled_from(OPERATORS), min_size=1, max_size=3, unique=True))
    return {op: draw(_operand(op)) for op in ops}


field_conditions = st.one_of(scalars, _operator_object(), _operator_object())
leaf_filters = st.dictionaries(fields, field_conditions, min_size=1, max_size=2)
raw_filters = st.recursive(
    leaf_filters,
    lambda children: st.one_of(
        st.builds(lambda cs: {"$and": cs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda cs: {"$or": cs}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c, f: {**f, "$or": [c]}, children, leaf_filters),
    ),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy, raw=raw_filters)
def test_columns_agree_with_reference(rows: list[dict[str, Any] | None], raw: dict[str, Any]) -> None:
    f: Filter | None = parse_filter(raw)
    expected = [matches(f, row) for row in rows]

    built = MetadataColumns.from_rows(rows)
    assert len(built) == len(rows)
    assert built.evaluate(f).tolist() == expected

    appended = MetadataColumns()
    for i, row in enumerate(rows):
        appended.append(row)
        if i == len(rows) // 2:  # an evaluation in the middle must not disturb later appends
            assert appended.evaluate(f).tolist() == expected[: i + 1]
    assert appended.evaluate(f).tolist() == expected

    extended = MetadataColumns()
    extended.extend(rows[:5])
    extended.extend(rows[5:])
    assert extended.evaluate(f).tolist() == expected


single_conditions = st.builds(lambda field, cond: {field: cond}, st.sampled_from(FIELDS), field_conditions)


# Deep trees hide a wrong leaf behind other conditions, so leaves get their own, denser check.
@settings(max_examples=1000, deadline=None)
@given(rows=rows_strategy, raw=single_conditions)
def test_columns_agree_with_reference_on_single_conditions(
    rows: list[dict[str, Any] | None], raw: dict[str, Any]
) -> None:
    f = parse_filter(raw)
    assert MetadataColumns.from_rows(rows).evaluate(f).tolist() == [matches(f, row) for row in rows]


def test_columns_agree_with_reference_exhaustively_on_leaves() -> None:
    stored: list[Any] = [*STRINGS, *NUMBERS, True, False, [], ["x"], ["x", "y"], ["", "z"], math.nan]
    rows: list[dict[str, Any] | None] = [{"v": value} for value in stored]
    rows += [None, {}, {"w": 1}]
    columns = MetadataColumns.from_rows(rows)
    operands: list[Any] = [*STRINGS, *NUMBERS, True, False, -1.5, 10]
    raws: list[dict[str, Any]] = [{"v": {"$exists": True}}, {"v": {"$exists": False}}]
    for operand in operands:
        raws.append({"v": operand})
        raws.extend({"v": {op: operand}} for op in ("$eq", "$ne"))
        raws.extend({"v": {op: [operand, "y"]}} for op in ("$in", "$nin"))
        if not isinstance(operand, str | bool):
            raws.extend({"v": {op: operand}} for op in ("$gt", "$gte", "$lt", "$lte"))
    for raw in raws:
        f = parse_filter(raw)
        assert columns.evaluate(f).tolist() == [matches(f, row) for row in rows], raw


@settings(max_examples=200, deadline=None)
@given(raw=raw_filters)
def test_parse_is_deterministic_and_hashable(raw: dict[str, Any]) -> None:
    f = parse_filter(raw)
    assert f == parse_filter(raw)
    hash(f)

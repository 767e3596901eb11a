"""Filter columns built by Arrow from encoded metadata (engine/filter_arrow.py) equal the ones the
row-by-row path builds, on generated metadata of every kind the validators store, and answer every
filter the same way."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spruce.engine import filter_arrow
from spruce.engine.filter import parse_filter
from spruce.engine.filter_arrow import columns_from_json
from spruce.engine.filter_columns import FieldColumns
from spruce.engine.lazy_meta import LazyMetadata, encode_column
from spruce.engine.metadata_columns import MetadataColumns

FIELDS = ("a", "b", "tag", "é.x")
strings = st.sampled_from(["", "x", "y", "zz", "ünï", "a b"])
numbers = st.one_of(
    st.integers(-(2**63), 2**64 - 1),
    st.sampled_from([0, 1, -1, 2**53 + 1, 2**63, 10**19]),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from([0.0, -0.0, 0.5, 1e300, -2.5]),
)
scalars = st.one_of(strings, numbers, st.booleans(), st.lists(strings, max_size=4))


def _field_kinds() -> st.SearchStrategy[dict[str, st.SearchStrategy[Any]]]:
    """One value kind per field for most examples (what real data looks like), sometimes mixed."""
    kinds = st.sampled_from([strings, numbers, st.booleans(), st.lists(strings, max_size=4), scalars])
    return st.fixed_dictionaries({f: kinds for f in FIELDS})


@st.composite
def metadata_rows(draw: st.DrawFn) -> list[dict[str, Any] | None]:
    kinds = draw(_field_kinds())
    n = draw(st.integers(1, 40))
    rows: list[dict[str, Any] | None] = []
    for _ in range(n):
        if draw(st.integers(0, 9)) == 0:
            rows.append(None)
            continue
        present = draw(st.sets(st.sampled_from(FIELDS)))
        rows.append({f: draw(kinds[f]) for f in FIELDS if f in present})
    return rows


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string" if isinstance(value, str) else "array"


def _strings_by_row(cols: FieldColumns, n: int) -> list[str | None]:
    if cols.codes is None:
        return [None] * n
    names = {code: s for s, code in cols.string_codes.items()}
    return [names.get(int(c)) for c in cols.codes.view(n)]


def _same(arrow: FieldColumns, rows: FieldColumns, n: int) -> None:
    np.testing.assert_array_equal(arrow.present.view(n), rows.present.view(n))
    for kind, fill in (("numbers", np.nan), ("bools", -1)):
        a, r = getattr(arrow, kind), getattr(rows, kind)
        if a is None or r is None:
            # A column absent on one side holds only its fill value on the other.
            other = a if a is not None else r
            if other is not None:
                assert np.all(np.isnan(other.view(n)) if kind == "numbers" else other.view(n) == fill)
            continue
        np.testing.assert_array_equal(a.view(n), r.view(n))
    assert _strings_by_row(arrow, n) == _strings_by_row(rows, n)
    assert {k: v.view().tolist() for k, v in arrow.lists.items()} == {
        k: v.view().tolist() for k, v in rows.lists.items()
    }


def _filters(rows: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    values = [v for r in rows if r for v in r.values()]
    plain = [v for v in values if not isinstance(v, list)] + ["x", 0, True, 1.5]
    out: list[dict[str, Any]] = []
    for field in FIELDS:
        for v in plain[:6]:
            out.append({field: {"$eq": v}})
            out.append({field: {"$ne": v}})
        out.append({field: {"$in": ["x", "zz", 1, False]}})
        out.append({field: {"$nin": ["y", 0]}})
        out.append({field: {"$exists": True}})
        out.append({field: {"$gte": 0}})
        out.append({field: {"$lt": 1e18}})
    return out


@pytest.fixture(autouse=True)
def _arrow_for_any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filter_arrow, "MIN_ROWS", 1)  # the generated blocks are small


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(metadata_rows())
def test_arrow_columns_equal_row_by_row_columns(rows: list[dict[str, Any] | None]) -> None:
    n = len(rows)
    arrow = columns_from_json(encode_column(rows, n))
    reference = MetadataColumns.from_rows(LazyMetadata(encode_column(rows, n))[:])
    if arrow is None:
        # Only a field holding values of different JSON kinds may send it back to the row path.
        kinds: dict[str, set[str]] = {}
        for r in rows:
            for f, v in (r or {}).items():
                kinds.setdefault(f, set()).add(_json_kind(v))
        assert any(len(k) > 1 for k in kinds.values()), f"Arrow gave up on uniform metadata: {kinds}"
        return
    assert len(arrow) == len(reference) == n
    for field in FIELDS:
        a, r = arrow.field(field), reference.field(field)
        assert (a is None) == (r is None), field
        if a is not None and r is not None:
            _same(a, r, n)
    for raw in _filters(rows):
        flt = parse_filter(raw)
        np.testing.assert_array_equal(arrow.evaluate(flt), reference.evaluate(flt), err_msg=str(raw))


def test_uniform_metadata_takes_the_arrow_path() -> None:
    rows: list[dict[str, Any] | None] = [
        {"bucket": i % 7, "name": f"n{i % 3}", "ok": i % 2 == 0, "tags": ["a", "b"][: i % 3]}
        for i in range(1_000)
    ]
    rows[5] = None
    cols = columns_from_json(encode_column(rows, len(rows)))
    assert cols is not None
    reference = MetadataColumns.from_rows(rows)
    for raw in ({"bucket": {"$lt": 3}}, {"name": "n1"}, {"ok": True}, {"tags": {"$in": ["b"]}}):
        flt = parse_filter(raw)
        np.testing.assert_array_equal(cols.evaluate(flt), reference.evaluate(flt))


def test_small_blocks_take_the_row_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filter_arrow, "MIN_ROWS", 2_048)
    rows: list[dict[str, Any] | None] = [{"bucket": i} for i in range(100)]
    assert columns_from_json(encode_column(rows, 100)) is None

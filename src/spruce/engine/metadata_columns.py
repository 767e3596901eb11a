"""The columnar filter index of a block's metadata: typed numpy columns per field, evaluated per filter.

`filter.matches` is the reference it must agree with on every input (the property tests enforce it);
the per-field typed columns are `filter_columns.FieldColumns`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spruce.engine.filter import And, Compare, Exists, Filter, InSet, Or, Scalar
from spruce.engine.filter_columns import FieldColumns
from spruce.types import BoolArray


def _split(value: Scalar) -> tuple[list[str], list[float], list[bool]]:
    if isinstance(value, bool):
        return [], [], [value]
    if isinstance(value, float):
        return [], [value], []
    return [value], [], []


class MetadataColumns:
    """Append-only columnar index over rows 0..n-1 of metadata, evaluated with numpy.

    Each field keeps one column per stored type, since a field may hold different types in
    different rows (see `filter_columns.FieldColumns`). Concurrent evaluations are safe with
    each other, but appends must be serialised against everything else.
    """

    def __init__(self) -> None:
        self._fields: dict[str, FieldColumns] = {}
        self._n = 0

    @classmethod
    def from_rows(cls, rows: Sequence[Mapping[str, Any] | None]) -> MetadataColumns:
        columns = cls()
        columns.extend(rows)
        return columns

    def __len__(self) -> int:
        return self._n

    def field(self, name: str) -> FieldColumns | None:
        """One field's typed columns (None: no row has the field); callers must not modify them."""
        return self._fields.get(name)

    def append(self, metadata: Mapping[str, Any] | None) -> None:
        self.extend((metadata,))

    def extend(self, rows: Sequence[Mapping[str, Any] | None]) -> None:
        # Gather per field first so each column is written with one numpy call per batch.
        start = self._n
        per_field: dict[str, tuple[list[int], list[object]]] = {}
        for row, metadata in enumerate(rows, start):
            if not metadata:
                continue
            for key, value in metadata.items():
                pending = per_field.get(key)
                if pending is None:
                    pending = per_field[key] = ([], [])
                pending[0].append(row)
                pending[1].append(value)
        for key, (field_rows, values) in per_field.items():
            columns = self._fields.get(key)
            if columns is None:
                columns = self._fields[key] = FieldColumns()
            columns.add_many(field_rows, values)
        self._n = start + len(rows)

    def evaluate(self, f: Filter | None) -> BoolArray:
        """Bool mask of length len(self): which rows match `f` (all of them when f is None)."""
        if f is None:
            return np.ones(self._n, dtype=np.bool_)
        return self._eval(f)

    def _eval(self, f: Filter) -> BoolArray:
        n = self._n
        if isinstance(f, And | Or):
            out = self._eval(f.children[0])
            for child in f.children[1:]:
                if isinstance(f, And):
                    out &= self._eval(child)
                else:
                    out |= self._eval(child)
            return out
        columns = self._fields.get(f.field)
        if columns is None:
            # Nobody has this field: only the "absent matches" operators hold, for every row.
            absent_matches = (
                (isinstance(f, Exists) and not f.exists)
                or (isinstance(f, InSet) and f.negate)
                or (isinstance(f, Compare) and f.op == "$ne")
            )
            return np.full(n, absent_matches, dtype=np.bool_)
        if isinstance(f, Exists):
            present = columns.present.view(n)
            return present.copy() if f.exists else ~present
        if isinstance(f, InSet):
            hit = columns.equals_any(n, f.strings, f.numbers, f.bools)
            return ~hit if f.negate else hit
        if f.op in ("$eq", "$ne"):
            hit = columns.equals_any(n, *_split(f.value))
            return ~hit if f.op == "$ne" else hit
        return columns.compare_range(n, f.op, float(f.value))

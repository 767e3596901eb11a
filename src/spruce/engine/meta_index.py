"""Sorted per-field indexes over a sealed block's metadata: a narrow filter costs O(matching rows).

`MetadataColumns.evaluate` answers any filter with a bool mask over all n rows, so a 1% filter on a
20k-row block pays for 20k comparisons, a 20k mask and a `flatnonzero` over it before scoring 200 rows.
A sealed block's metadata never changes (deletes only clear `alive`), so once per field it can sort its
rows by value (stable, so each value's rows stay ascending) and answer `$eq`/`$in` with slices of that
order, and ranges with a `searchsorted` slice. Invalidation is free: the index lives as long as the
block. The memtable keeps the mask path (it grows; re-sorting on every append would cost more).

Results come back as a `Selection`: ascending row numbers while the selection is narrow, or a mask
when it is wide (`$ne`, `$nin`, `$exists: false` and broad ranges: a mask is then as cheap as any row
list). Anything an index would not speed up (many `$in` values) falls back to the columns' own mask,
so the answer is always exactly `MetadataColumns.evaluate`'s; the property tests hold it to that.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final

import numpy as np

from spruce.engine.filter import And, Compare, Exists, Filter, InSet, Or
from spruce.engine.filter_columns import FieldColumns
from spruce.engine.metadata_columns import MetadataColumns
from spruce.types import BoolArray, IntArray

# A slice longer than n / _WIDE is returned as a mask: sorting it back into row order would cost more.
_WIDE: Final = 16
# More `$in` values than this are answered by the column mask (one vectorised lookup) instead.
_MAX_SLICES: Final = 64
# The result cache of a small block may still hold this many rows (a few filters' worth).
_MIN_CACHED_ROWS: Final = 4096


@dataclass(frozen=True, slots=True)
class Selection:
    """Rows of a block: `rows` (ascending, unique, read-only) or, when wide, `mask` (length n)."""

    n: int
    rows: IntArray | None = None
    mask: BoolArray | None = None

    def to_mask(self) -> BoolArray:
        """A fresh mask the caller may write to."""
        if self.mask is not None:
            return self.mask.copy()
        out = np.zeros(self.n, dtype=np.bool_)
        assert self.rows is not None
        out[self.rows] = True
        return out

    def to_rows(self) -> IntArray:
        if self.rows is not None:
            return self.rows
        assert self.mask is not None
        return np.flatnonzero(self.mask)


def _frozen(a: IntArray) -> IntArray:
    a.setflags(write=False)
    return a


_EMPTY: Final = _frozen(np.zeros(0, dtype=np.int64))


class _SortedColumn:
    """Rows holding a value of one type, ordered by value (stable: ties keep row order)."""

    __slots__ = ("order", "values")

    def __init__(self, column: np.ndarray, valid: BoolArray) -> None:
        rows = np.flatnonzero(valid)
        order = rows[np.argsort(column[rows], kind="stable")]
        self.order: IntArray = _frozen(order.astype(np.int64, copy=False))
        self.values = column[order]

    def equal(self, value: float | int) -> IntArray:
        lo = int(np.searchsorted(self.values, value, side="left"))
        hi = int(np.searchsorted(self.values, value, side="right"))
        return self.order[lo:hi]

    def range(self, op: str, value: float) -> IntArray:
        """Rows of `$gt/$gte/$lt/$lte value`, in value order (not row order)."""
        values = self.values
        if op == "$gt":
            return self.order[int(np.searchsorted(values, value, side="right")) :]
        if op == "$gte":
            return self.order[int(np.searchsorted(values, value, side="left")) :]
        if op == "$lt":
            return self.order[: int(np.searchsorted(values, value, side="left"))]
        return self.order[: int(np.searchsorted(values, value, side="right"))]


class _FieldIndex:
    __slots__ = ("bools", "codes", "columns", "numbers", "present")

    def __init__(self, columns: FieldColumns, n: int) -> None:
        self.columns = columns
        self.present = _frozen(np.flatnonzero(columns.present.view(n)))
        self.numbers: _SortedColumn | None = None
        if columns.numbers is not None:
            col = columns.numbers.view(n)
            self.numbers = _SortedColumn(col, ~np.isnan(col))  # NaN never equals nor compares
        self.codes: _SortedColumn | None = None
        if columns.codes is not None:
            col = columns.codes.view(n)
            self.codes = _SortedColumn(col, col >= 0)
        self.bools: _SortedColumn | None = None
        if columns.bools is not None:
            col = columns.bools.view(n)
            self.bools = _SortedColumn(col, col >= 0)

    def equal_any(self, f: InSet | Compare) -> list[IntArray] | None:
        """Ascending row lists whose union is the rows equal to any value; None: too many values."""
        strings: tuple[str, ...] = ()
        numbers: tuple[float, ...] = ()
        bools: tuple[bool, ...] = ()
        if isinstance(f, InSet):
            strings, numbers, bools = tuple(f.strings), tuple(f.numbers), tuple(f.bools)
        elif isinstance(f.value, bool):
            bools = (f.value,)
        elif isinstance(f.value, float):
            numbers = (f.value,)
        else:
            strings = (f.value,)
        if len(strings) + len(numbers) + len(bools) > _MAX_SLICES:
            return None
        parts: list[IntArray] = []
        cols = self.columns
        for s in strings:
            code = cols.string_codes.get(s)
            if code is not None and self.codes is not None:
                parts.append(self.codes.equal(code))
            row_list = cols.lists.get(s)
            if row_list is not None:
                parts.append(row_list.view())
        if self.numbers is not None:
            parts.extend(self.numbers.equal(x) for x in numbers)
        if self.bools is not None:
            parts.extend(self.bools.equal(int(b)) for b in bools)
        return [p for p in parts if len(p)]


def _union(parts: list[IntArray]) -> IntArray:
    if not parts:
        return _EMPTY
    if len(parts) == 1:
        return _frozen(parts[0].view())  # a list field's row list is the index itself: read-only
    return _frozen(np.unique(np.concatenate(parts)))


class MetaIndex:
    """Lazily built per-field indexes over one sealed block's first n rows (its whole metadata)."""

    def __init__(self, columns: MetadataColumns) -> None:
        self._columns = columns
        self._n = len(columns)
        self._fields: dict[str, _FieldIndex] = {}
        self._lock = threading.Lock()
        # Narrow results by filter (parsed filters are hashable, and cached by the parser, so a
        # repeated filter is one dict lookup), holding at most n row numbers in all.
        self._results: dict[Filter, Selection] = {}
        self._cached_rows = 0

    def select(self, f: Filter) -> Selection:
        """The rows matching `f`, exactly as `MetadataColumns.evaluate(f)` would mark them."""
        hit = self._results.get(f)
        if hit is not None:
            return hit
        out = self._select(f)
        if out.rows is not None:
            with self._lock:
                if self._cached_rows + len(out.rows) > max(self._n, _MIN_CACHED_ROWS):
                    self._results.clear()
                    self._cached_rows = 0
                self._results[f] = out
                self._cached_rows += len(out.rows)
        return out

    def _field(self, name: str) -> _FieldIndex | None:
        index = self._fields.get(name)
        if index is None:
            columns = self._columns.field(name)
            if columns is None:
                return None
            with self._lock:
                index = self._fields.get(name)
                if index is None:
                    index = self._fields[name] = _FieldIndex(columns, self._n)
        return index

    def _mask(self, f: Filter) -> Selection:
        return Selection(self._n, mask=self._columns.evaluate(f))

    def _rows(self, rows: IntArray) -> Selection:
        if len(rows) * _WIDE > self._n:
            mask = np.zeros(self._n, dtype=np.bool_)
            mask[rows] = True
            return Selection(self._n, mask=mask)
        return Selection(self._n, rows=rows)

    def _select(self, f: Filter) -> Selection:
        if isinstance(f, And):
            return self._and([self._select(child) for child in f.children])
        if isinstance(f, Or):
            return self._or([self._select(child) for child in f.children])
        negate = (isinstance(f, InSet) and f.negate) or (isinstance(f, Compare) and f.op == "$ne")
        if negate or (isinstance(f, Exists) and not f.exists):
            return self._mask(f)  # wide by nature: most rows match a negation
        index = self._field(f.field)
        if index is None:
            return Selection(self._n, rows=_EMPTY)  # nobody has the field, and f needs it
        if isinstance(f, Exists):
            return self._rows(index.present)
        if isinstance(f, Compare) and f.op != "$eq":
            if index.numbers is None:
                return Selection(self._n, rows=_EMPTY)
            hit = index.numbers.range(f.op, float(f.value))
            if len(hit) * _WIDE > self._n:
                return self._rows(hit)  # a mask: order does not matter
            return Selection(self._n, rows=_frozen(np.sort(hit)))
        parts = index.equal_any(f)
        if parts is None:
            return self._mask(f)
        return self._rows(_union(parts))

    def _and(self, parts: list[Selection]) -> Selection:
        row_parts = sorted((p.rows for p in parts if p.rows is not None), key=len)
        masks = [p.mask for p in parts if p.mask is not None]
        if not row_parts:
            out = masks[0].copy()
            for m in masks[1:]:
                out &= m
            return Selection(self._n, mask=out)
        rows = row_parts[0]
        for other in row_parts[1:]:
            if not len(rows):
                break
            rows = np.intersect1d(rows, other, assume_unique=True)
        for m in masks:
            rows = rows[m[rows]]
        return Selection(self._n, rows=_frozen(rows) if rows.flags.writeable else rows)

    def _or(self, parts: list[Selection]) -> Selection:
        masks = [p.mask for p in parts if p.mask is not None]
        row_parts = [p.rows for p in parts if p.rows is not None]
        if not masks:
            return self._rows(_union([r for r in row_parts if len(r)]))
        out = masks[0].copy()
        for m in masks[1:]:
            out |= m
        for r in row_parts:
            out[r] = True
        return Selection(self._n, mask=out)

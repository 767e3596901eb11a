"""Typed, growable numpy columns behind `spruce.engine.filter.MetadataColumns`.

Also holds the two rules for reading stored metadata values (numbers as float64, which list
elements count) so that the columnar and the reference evaluator cannot drift apart.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from spruce.types import BoolArray


def to_float(value: int | float) -> float:
    """A stored number as float64, the way Pinecone keeps every number."""
    try:
        return float(value)
    except OverflowError:
        # Only huge ints get here; they sort beyond every finite float.
        return math.inf if value > 0 else -math.inf


def list_strings(value: object) -> Iterable[str]:
    """The string elements of a stored list; anything else in a list can never match."""
    if isinstance(value, list | tuple):
        return (item for item in value if isinstance(item, str))
    return ()


class Growable:
    """A 1-D array that grows by doubling; positions never written read as `fill`."""

    __slots__ = ("data", "fill")

    def __init__(self, dtype: type[np.generic], fill: Any) -> None:
        self.fill = fill
        self.data: npt.NDArray[Any] = np.full(16, fill, dtype=dtype)

    def reserve(self, size: int) -> None:
        capacity = len(self.data)
        if size <= capacity:
            return
        grown = np.full(max(size, 2 * capacity), self.fill, dtype=self.data.dtype)
        grown[:capacity] = self.data
        self.data = grown

    def set_many(self, indices: Sequence[int], values: Sequence[Any] | Any) -> None:
        """Write values at ascending indices."""
        if not indices:
            return
        self.reserve(indices[-1] + 1)
        if len(indices) == 1:
            # Fancy indexing costs microseconds; single-row appends are the common write.
            self.data[indices[0]] = values[0] if isinstance(values, list) else values
        else:
            self.data[np.asarray(indices, dtype=np.int64)] = values

    def view(self, n: int) -> npt.NDArray[Any]:
        """The first n positions; callers must not write into it."""
        self.reserve(n)
        return self.data[:n]


class RowList:
    """Ascending row numbers holding one value in a list-of-strings field."""

    __slots__ = ("count", "rows")

    def __init__(self) -> None:
        self.rows = Growable(np.int64, 0)
        self.count = 0

    def extend(self, rows: list[int]) -> None:
        start = self.count
        self.count += len(rows)
        self.rows.set_many(range(start, self.count), rows)

    def view(self) -> npt.NDArray[np.int64]:
        return self.rows.data[: self.count]


class FieldColumns:
    """All typed columns of one field; each is allocated the first time a row uses that type."""

    __slots__ = ("bools", "codes", "lists", "numbers", "present", "string_codes")

    def __init__(self) -> None:
        self.present = Growable(np.bool_, False)
        self.numbers: Growable | None = None  # float64, NaN where not a number
        self.codes: Growable | None = None  # int32 dictionary codes, -1 where not a string
        self.string_codes: dict[str, int] = {}
        self.bools: Growable | None = None  # int8: 0/1, -1 where not a boolean
        self.lists: dict[str, RowList] = {}  # inverted index of list-of-strings elements

    def add_many(self, rows: list[int], values: list[object]) -> None:
        """Record `values[i]` at `rows[i]`; rows ascend and are beyond any row written before."""
        bool_rows: list[int] = []
        bool_values: list[int] = []
        number_rows: list[int] = []
        number_values: list[float] = []
        string_rows: list[int] = []
        string_values: list[int] = []
        list_rows: dict[str, list[int]] = {}
        codes = self.string_codes
        for row, value in zip(rows, values, strict=True):
            if isinstance(value, bool):
                bool_rows.append(row)
                bool_values.append(int(value))
            elif isinstance(value, int | float):
                number_rows.append(row)
                number_values.append(to_float(value))
            elif isinstance(value, str):
                string_rows.append(row)
                string_values.append(codes.setdefault(value, len(codes)))
            else:
                # A set, so each row appears once per value in the inverted index.
                for item in set(list_strings(value)):
                    list_rows.setdefault(item, []).append(row)
        self.present.set_many(rows, True)
        if bool_rows:
            if self.bools is None:
                self.bools = Growable(np.int8, -1)
            self.bools.set_many(bool_rows, bool_values)
        if number_rows:
            if self.numbers is None:
                self.numbers = Growable(np.float64, np.nan)
            self.numbers.set_many(number_rows, number_values)
        if string_rows:
            if self.codes is None:
                self.codes = Growable(np.int32, -1)
            self.codes.set_many(string_rows, string_values)
        for item, item_rows in list_rows.items():
            row_list = self.lists.get(item)
            if row_list is None:
                row_list = self.lists[item] = RowList()
            row_list.extend(item_rows)

    def equals_any(
        self, n: int, strings: Iterable[str], numbers: Iterable[float], bools: Iterable[bool]
    ) -> BoolArray:
        """Fresh mask of rows whose value equals any of the given values."""
        out = np.zeros(n, dtype=np.bool_)
        strings = list(strings)
        if strings and self.codes is not None:
            wanted = [code for s in strings if (code := self.string_codes.get(s)) is not None]
            if len(wanted) == 1:
                out |= self.codes.view(n) == wanted[0]
            elif wanted:
                # The extra trailing False is what code -1 (no string in this row) indexes.
                lookup = np.zeros(len(self.string_codes) + 1, dtype=np.bool_)
                lookup[wanted] = True
                out |= lookup[self.codes.view(n)]
        for s in strings:
            row_list = self.lists.get(s)
            if row_list is not None:
                out[row_list.view()] = True
        numbers = list(numbers)
        if numbers and self.numbers is not None:
            column = self.numbers.view(n)
            if len(numbers) == 1:
                out |= column == numbers[0]
            else:
                out |= np.isin(column, np.asarray(numbers, dtype=np.float64))
        bools = list(bools)
        if bools and self.bools is not None:
            column = self.bools.view(n)
            for b in bools:
                out |= column == int(b)
        return out

    def compare_range(self, n: int, op: str, value: float) -> BoolArray:
        """Fresh mask for `$gt/$gte/$lt/$lte value`; only numeric rows can match."""
        if self.numbers is None:
            return np.zeros(n, dtype=np.bool_)
        column = self.numbers.view(n)
        # NaN (not a number in this row) is false under every comparison, which is what we want.
        if op == "$gt":
            return column > value
        if op == "$gte":
            return column >= value
        if op == "$lt":
            return column < value
        return column <= value

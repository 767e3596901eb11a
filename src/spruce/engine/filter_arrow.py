"""A sealed segment's filter columns built from its encoded metadata column by Arrow, not row by row.

A segment keeps its metadata as one JSON document per row (lazy_meta.py). The first filtered query
on a block builds its `MetadataColumns`; done in Python (decode each row, then append field by
field) that took 1.2 s for 400,000 GloVe rows with one field, and every restart pays it again on the
first filtered query. Here the documents are joined into newline-delimited JSON and parsed by
pyarrow's JSON reader (C++, one typed column per field), and each typed column becomes the numpy
arrays of a `FieldColumns` directly.

The result must be exactly what `MetadataColumns.extend` builds (tests/engine/test_filter_arrow.py
checks it on generated metadata): numbers as float64 (ints through the same round-to-nearest as
Python's `float`), booleans as 0/1, strings as dictionary codes in first-seen order, lists of
strings as an inverted index. Anything the reader cannot type in one way (a field holding a number
in one row and a string in another), or a type stored metadata never has, returns None and the
caller takes the row-by-row path.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from spruce.engine.filter_columns import FieldColumns, Growable, RowList
from spruce.engine.metadata_columns import MetadataColumns

_NUMBER_TYPES = (pa.int64(), pa.uint64(), pa.float64())
# Below this many rows the row path is faster: the reader's fixed cost is ~0.5 ms (10 rows: 470 us
# against 24 us row by row; 1,000 rows: 1.1 ms against 1.6 ms; 20,000: 14 ms against 30 ms).
MIN_ROWS = 2_048
_BLOCK_BYTES = 16 << 20  # the reader infers each field's type per block, then unifies


def columns_from_json(encoded: pa.Array) -> MetadataColumns | None:
    """Filter columns over the rows of a string column of JSON objects (null: no metadata); None
    when the row path should build them (too few rows, or values Arrow cannot type one way)."""
    n = len(encoded)
    if n < MIN_ROWS:
        return None  # small blocks (a pack's namespaces) are quicker row by row
    table = _parse(encoded)
    if table is None or table.num_rows != n:
        return None
    out = MetadataColumns()
    for name in table.column_names:
        column = table.column(name).combine_chunks()
        built = _field(column)
        if built is None:
            return None
        out._fields[name] = built
    out._n = n
    return out


def _parse(encoded: pa.Array) -> pa.Table | None:
    """The documents as one newline-delimited JSON buffer, parsed into a table of typed columns."""
    docs = pc.fill_null(encoded.cast(pa.string()), "{}")
    if isinstance(docs, pa.ChunkedArray):
        docs = docs.combine_chunks()
    offsets = np.frombuffer(docs.buffers()[1], dtype=np.int32)[docs.offset : docs.offset + len(docs) + 1]
    data = np.frombuffer(docs.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    # One newline after each document: document i then starts at offsets[i] + i.
    joined = np.empty(len(data) + len(docs), dtype=np.uint8)
    ends = offsets[1:] - offsets[0] + np.arange(len(docs))
    text = np.ones(len(joined), dtype=np.bool_)
    text[ends] = False
    joined[text] = data
    joined[ends] = ord("\n")
    try:
        return pa_json.read_json(
            pa.BufferReader(pa.py_buffer(joined)),
            read_options=pa_json.ReadOptions(use_threads=True, block_size=_BLOCK_BYTES),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _growable(data: np.ndarray[Any, Any], fill: Any) -> Growable:
    grown = Growable(data.dtype.type, fill)
    grown.data = np.ascontiguousarray(data)
    return grown


def _field(column: pa.Array) -> FieldColumns | None:
    cols = FieldColumns()
    valid = np.asarray(column.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    cols.present = _growable(valid, False)
    kind = column.type
    if kind in _NUMBER_TYPES:
        # Unsafe: an int beyond 2**53 rounds to the nearest double, as Python's float() does.
        numbers = column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False)  # NaN: absent
        cols.numbers = _growable(np.asarray(numbers, dtype=np.float64), np.nan)
    elif kind == pa.bool_():
        truth = np.asarray(pc.fill_null(column, False).to_numpy(zero_copy_only=False), dtype=np.int8)
        cols.bools = _growable(np.where(valid, truth, np.int8(-1)).astype(np.int8), -1)
    elif kind == pa.string():
        encoded = pc.dictionary_encode(column)  # codes in first-seen order, as add_many assigns them
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
        cols.codes = _growable(codes, -1)
        cols.string_codes = {s: i for i, s in enumerate(encoded.dictionary.to_pylist())}
    elif pa.types.is_list(kind) and kind.value_type in (pa.string(), pa.null()):
        if kind.value_type == pa.string():
            _lists(cols, column)
    else:
        return None  # nested objects, lists of numbers: never stored by the validators
    return cols


def _lists(cols: FieldColumns, column: pa.Array) -> None:
    """The inverted index of list elements: for each string, the ascending rows holding it once."""
    items = pc.list_flatten(column)
    rows = np.asarray(pc.list_parent_indices(column).to_numpy(zero_copy_only=False), dtype=np.int64)
    present = np.asarray(items.is_valid().to_numpy(zero_copy_only=False), dtype=np.bool_)
    encoded = pc.dictionary_encode(items)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    rows, codes = rows[present], codes[present]
    if not len(rows):
        return
    # One (code, row) pair per row and element (a row listing "x" twice holds it once).
    width = int(rows.max()) + 1
    pairs = np.unique(codes * width + rows)
    pair_codes, pair_rows = pairs // width, pairs % width
    bounds = np.flatnonzero(np.diff(pair_codes)) + 1
    names = encoded.dictionary.to_pylist()
    for chunk_codes, chunk_rows in zip(
        np.split(pair_codes, bounds), np.split(pair_rows, bounds), strict=True
    ):
        row_list = RowList()
        row_list.rows = _growable(chunk_rows.astype(np.int64), 0)
        row_list.count = len(chunk_rows)
        cols.lists[names[int(chunk_codes[0])]] = row_list

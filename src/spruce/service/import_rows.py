"""Pinecone's import schema, checked a whole Arrow batch at a time.

Files hold `id STRING`, `values LIST<FLOAT>` (dense), `sparse_values STRUCT<indices LIST<INT>,
values LIST<FLOAT>>` (sparse) and `metadata STRING` (a JSON object, NULL to omit). Every rule that
an upsert checks per record is checked here with Arrow compute kernels and numpy over the batch's flat
buffers, so no Python object is made per record; a batch whose metadata the batch JSON parser cannot
vouch for (odd types, explicit nulls, parse errors) is checked row by row, which only names the bad rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from spruce.engine.bulk import SparseColumns
from spruce.errors import InvalidArgumentError
from spruce.service import validation as v
from spruce.types import BoolArray, FloatArray, IndexInfo

ALLOWED_COLUMNS = ("id", "values", "sparse_values", "metadata")
_UINT32_MAX = 2**32 - 1
_JSON_SCALARS = (pa.types.is_string, pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean)


@dataclass(frozen=True, slots=True)
class CleanBatch:
    ids: pa.Array
    dense: FloatArray | None
    sparse: SparseColumns | None
    metadata: pa.Array
    bad_rows: int
    first_error: str | None  # "row R (id 'x'): reason" for the earliest bad row


def _is_float_list(t: pa.DataType) -> bool:
    listy = pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
    return bool(listy and (pa.types.is_floating(t.value_type) or pa.types.is_integer(t.value_type)))


def _is_int_list(t: pa.DataType) -> bool:
    listy = pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)
    return bool(listy and pa.types.is_integer(t.value_type))


def check_schema(schema: pa.Schema, info: IndexInfo, where: str) -> None:
    """Raise a clear InvalidArgumentError if a file's columns do not fit the index."""
    names = list(schema.names)
    extra = [n for n in names if n not in ALLOWED_COLUMNS]
    if extra:
        raise InvalidArgumentError(
            f"{where} has additional columns {extra}; an import file holds only id, values, "
            "sparse_values and metadata"
        )
    if "id" not in names:
        raise InvalidArgumentError(f"{where} has no 'id' column")
    if not (pa.types.is_string(schema.field("id").type) or pa.types.is_large_string(schema.field("id").type)):
        raise InvalidArgumentError(f"{where}: column 'id' must be STRING, got {schema.field('id').type}")
    if info.vector_type == "dense":
        if "values" not in names:
            raise InvalidArgumentError(f"{where} has no 'values' column; index {info.name!r} is dense")
        if not _is_float_list(schema.field("values").type):
            raise InvalidArgumentError(
                f"{where}: column 'values' must be LIST<FLOAT>, got {schema.field('values').type}"
            )
    elif "values" in names:
        raise InvalidArgumentError(
            f"{where} has a 'values' column but index {info.name!r} is sparse; use sparse_values only"
        )
    if info.vector_type == "sparse" and "sparse_values" not in names:
        raise InvalidArgumentError(f"{where} has no 'sparse_values' column; index {info.name!r} is sparse")
    if "sparse_values" in names:
        t = schema.field("sparse_values").type
        ok = (
            pa.types.is_struct(t)
            and t.get_field_index("indices") >= 0
            and t.get_field_index("values") >= 0
            and t.num_fields == 2
            and _is_int_list(t.field("indices").type)
            and _is_float_list(t.field("values").type)
        )
        if not ok:
            raise InvalidArgumentError(
                f"{where}: column 'sparse_values' must be "
                f"STRUCT<indices LIST<INT>, values LIST<FLOAT>>, got {t}"
            )
    if "metadata" in names:
        t = schema.field("metadata").type
        if not (pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t)):
            raise InvalidArgumentError(f"{where}: column 'metadata' must be STRING (JSON), got {t}")


class _Bad:
    """Bad-row mask of a batch with the reason of the earliest bad row."""

    def __init__(self, n: int) -> None:
        self.mask: BoolArray = np.zeros(n, dtype=np.bool_)
        self.first: tuple[int, str] | None = None

    def add(self, mask: BoolArray, reason: str) -> None:
        hits = np.flatnonzero(mask)
        if len(hits) == 0:
            return
        self.mask |= mask
        row = int(hits[0])
        if self.first is None or row < self.first[0]:
            self.first = (row, reason)

    def add_rows(self, rows: np.ndarray, reason: str) -> None:
        if len(rows):
            mask = np.zeros(len(self.mask), dtype=np.bool_)
            mask[rows] = True
            self.add(mask, reason)


def _np_mask(arr: pa.Array | pa.ChunkedArray) -> BoolArray:
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.bool_)


def _matrix(values: pa.Array, dim: int) -> FloatArray:
    """(rows, dim) float32 from a list column whose rows all have `dim` values (no copy if float32)."""
    flat = pc.list_flatten(values).to_numpy(zero_copy_only=False)
    return np.asarray(flat, dtype=np.float32).reshape(-1, dim)


def _flat(lists: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(flat values, parent row of each value) of a list array, nulls in lists dropped from both."""
    flat = pc.list_flatten(lists)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    return flat.to_numpy(zero_copy_only=False), np.asarray(parents, dtype=np.int64)


def clean(batch: pa.RecordBatch, info: IndexInfo) -> CleanBatch:
    n = batch.num_rows
    bad = _Bad(n)
    names = batch.schema.names
    ids = batch.column("id")
    id_len = pc.utf8_length(ids)
    bad.add(_np_mask(pc.is_null(ids)), "id is null")
    bad.add(_np_mask(pc.fill_null(pc.equal(id_len, 0), False)), "id is empty")
    bad.add(_np_mask(pc.fill_null(pc.greater(id_len, v.MAX_ID_LENGTH), False)), "id is longer than 512")
    dim = info.dimension or 0
    dense_all: FloatArray | None = None
    if dim:
        values = batch.column("values")
        lengths = pc.fill_null(pc.list_value_length(values), dim)
        wrong = _np_mask(pc.not_equal(lengths, dim))
        if values.null_count == 0 and not wrong.any() and pc.list_flatten(values).null_count == 0:
            # The usual case: one float matrix straight from the list's flat buffer.
            dense_all = _matrix(values, dim)
            bad.add(
                np.asarray(~np.isfinite(dense_all).all(axis=1), dtype=np.bool_),
                "values contains NaN or infinity",
            )
        else:
            bad.add(_np_mask(pc.is_null(values)), "values is null")
            if wrong.any():
                got = int(np.asarray(lengths)[np.flatnonzero(wrong)[0]])
                bad.add(wrong, f"values has {got} dimensions; index {info.name!r} has dimension {dim}")
            flat, parents = _flat(values)
            if flat.dtype.kind == "f":
                bad.add_rows(np.unique(parents[~np.isfinite(flat)]), "values contains NaN, infinity or null")
    sparse_col = batch.column("sparse_values") if "sparse_values" in names else None
    if sparse_col is not None:
        _check_sparse(sparse_col, info, bad)
    meta = batch.column("metadata") if "metadata" in names else pa.nulls(n, pa.string())
    _check_metadata(meta.cast(pa.string()), bad)

    good = ~bad.mask
    if bad.mask.any():
        keep = pa.array(good)
        batch = batch.filter(keep)
        meta = meta.filter(keep)
    dense = None
    if dim:
        if dense_all is not None:
            dense = dense_all if not bad.mask.any() else dense_all[good]
        else:
            dense = _matrix(batch.column("values"), dim)
    sparse = _sparse_csr(batch.column("sparse_values")) if sparse_col is not None else None
    first = None
    if bad.first is not None:
        row, reason = bad.first
        rid = ids[row].as_py()
        first = f"row {row} (id {rid!r}): {reason}"
    return CleanBatch(batch.column("id"), dense, sparse, meta.cast(pa.string()), int(bad.mask.sum()), first)


def _check_sparse(col: pa.Array, info: IndexInfo, bad: _Bad) -> None:
    null = _np_mask(pc.is_null(col))
    indices = pc.struct_field(col, "indices")
    values = pc.struct_field(col, "values")
    n_idx = np.asarray(pc.fill_null(pc.list_value_length(indices), 0).to_numpy(zero_copy_only=False))
    n_val = np.asarray(pc.fill_null(pc.list_value_length(values), 0).to_numpy(zero_copy_only=False))
    n_idx = np.where(null, 0, n_idx)
    n_val = np.where(null, 0, n_val)
    if info.vector_type == "sparse":
        bad.add((n_idx == 0) & (n_val == 0), "sparse_values is null or empty; a sparse index needs it")
    bad.add(n_idx != n_val, "sparse_values indices and values differ in length")
    bad.add(n_idx > v.MAX_SPARSE_NNZ, f"sparse_values has more than {v.MAX_SPARSE_NNZ} non-zeros")
    fi, pi = _flat(indices)
    if len(fi):
        fi = fi.astype(np.int64, copy=False) if fi.dtype.kind in "iu" else fi
        bad.add_rows(np.unique(pi[(fi < 0) | (fi > _UINT32_MAX)]), "sparse index outside 0..2**32-1")
        order = np.lexsort((fi, pi))
        sf, sp = fi[order], pi[order]
        dup = (sf[1:] == sf[:-1]) & (sp[1:] == sp[:-1])
        bad.add_rows(np.unique(sp[1:][dup]), "sparse_values indices repeat")
    fv, pv = _flat(values)
    if len(fv) and fv.dtype.kind == "f":
        bad.add_rows(np.unique(pv[~np.isfinite(fv)]), "sparse_values contains NaN, infinity or null")


def _sparse_csr(col: pa.Array) -> SparseColumns:
    """CSR arrays of an all-valid sparse column, each row's indices sorted ascending."""
    n = len(col)
    valid = ~_np_mask(pc.is_null(col))
    indices = pc.struct_field(col, "indices")
    values = pc.struct_field(col, "values")
    counts = np.asarray(pc.fill_null(pc.list_value_length(indices), 0).to_numpy(zero_copy_only=False))
    counts = np.where(valid, counts, 0).astype(np.int64)
    fi, pi = _flat(indices)
    fv, _ = _flat(values)
    if not valid.all() and len(fi):
        keep = valid[pi]
        fi, pi, fv = fi[keep], pi[keep], fv[keep]
    order = np.lexsort((fi, pi))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return SparseColumns(
        indptr, np.asarray(fi[order], dtype=np.uint32), np.asarray(fv[order], dtype=np.float32)
    )


def _check_metadata(meta: pa.Array, bad: _Bad) -> None:
    present = ~_np_mask(pc.is_null(meta))
    if not present.any():
        return
    size = np.asarray(pc.fill_null(pc.binary_length(meta), 0).to_numpy(zero_copy_only=False))
    bad.add(size > v.MAX_METADATA_BYTES, f"metadata is larger than {v.MAX_METADATA_BYTES} bytes")
    # Rows the batch parser cannot judge (explicit nulls, line breaks inside a value) go row by row.
    odd = _np_mask(pc.fill_null(pc.match_substring_regex(meta, r"null|\n|\r"), False))
    fast = present & ~odd & ~bad.mask
    slow = present & odd & ~bad.mask
    if fast.any() and not _batch_json_ok(meta.filter(pa.array(fast))):
        slow |= fast
    for row in np.flatnonzero(slow):
        text = meta[int(row)].as_py()
        try:
            parsed = orjson.loads(text)
            if parsed is not None:
                v.metadata(parsed, "metadata")
        except orjson.JSONDecodeError as exc:
            bad.add_rows(np.array([row]), f"metadata is not valid JSON ({exc})")
        except InvalidArgumentError as exc:
            bad.add_rows(np.array([row]), exc.message)


def _batch_json_ok(texts: pa.Array) -> bool:
    """Whether every string is a flat JSON object of allowed value types, judged in one parse."""
    # Each string plus "\n", contiguous in one buffer: that buffer is the NDJSON document.
    lines = pc.binary_join_element_wise(texts, "", "\n")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    payload = lines.buffers()[2].slice(int(offsets[0]), int(offsets[-1] - offsets[0]))
    try:
        table = pajson.read_json(
            pa.BufferReader(payload),
            # One small document: the thread pool's hand-offs cost more than they save on 2 cores.
            read_options=pajson.ReadOptions(use_threads=False),
            parse_options=pajson.ParseOptions(newlines_in_values=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False
    if table.num_rows != len(texts):
        return False
    for f in table.schema:
        if not f.name or f.name.startswith("$"):
            return False
        t = f.type
        if pa.types.is_null(t) or any(check(t) for check in _JSON_SCALARS):
            continue
        if pa.types.is_list(t) and (pa.types.is_string(t.value_type) or pa.types.is_null(t.value_type)):
            continue
        return False
    return True

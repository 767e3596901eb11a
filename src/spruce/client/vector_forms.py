"""The vector forms the pinecone SDK's `upsert` accepts, as Spruce `Record`s.

A vector is a dict (`id`, `values`, `sparse_values` / `sparseValues`, `metadata`), an
`(id, values[, metadata])` tuple, or an object with those attributes (the SDK's `Vector`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spruce.errors import InvalidArgumentError
from spruce.types import Record, SparseVector


def to_records(vectors: Sequence[Any] | np.ndarray[Any, Any]) -> list[Record]:
    """The records of an upsert. Dicts of only id, values and metadata (what most callers send) are
    converted in one comprehension, without `_to_record`'s checks per record; any other batch goes
    record by record."""
    if isinstance(vectors, list) and all(
        type(v) is dict and "id" in v and v.keys() <= _SIMPLE_KEYS for v in vectors
    ):
        records = [Record(id=v["id"], values=v.get("values"), metadata=v.get("metadata")) for v in vectors]
        if not all(type(r.values) is np.ndarray and r.values.size for r in records):
            for rec in records:
                values = rec.values
                if isinstance(values, list | tuple | np.ndarray) and len(values) == 0:
                    rec.values = None  # sparse-only records send `values: []`
        return records
    return [_to_record(v, i) for i, v in enumerate(vectors)]


_SIMPLE_KEYS = frozenset({"id", "values", "metadata"})


def _to_record(v: Any, i: int) -> Record:
    """Accept the SDK's vector forms: dict, (id, values[, metadata]) tuple, or an object with .id."""
    if isinstance(v, Mapping):
        if "id" not in v:
            raise InvalidArgumentError(f"vectors[{i}] has no 'id'")
        values = v.get("values")
        sparse = v.get("sparse_values", v.get("sparseValues"))
        meta = v.get("metadata")
        rid = v["id"]
    elif isinstance(v, tuple):
        if len(v) == 2:
            rid, values = v
            meta = None
        elif len(v) == 3:
            rid, values, meta = v
        else:
            raise InvalidArgumentError(f"vectors[{i}]: tuples are (id, values) or (id, values, metadata)")
        sparse = None
    elif hasattr(v, "id"):
        rid, values = v.id, getattr(v, "values", None)
        sparse, meta = getattr(v, "sparse_values", None), getattr(v, "metadata", None)
    else:
        raise InvalidArgumentError(
            f"vectors[{i}] must be a dict, an (id, values[, metadata]) tuple or a Vector, "
            f"got {type(v).__name__}"
        )
    if sparse is not None and not isinstance(sparse, SparseVector | Mapping) and hasattr(sparse, "indices"):
        sparse = {"indices": sparse.indices, "values": sparse.values}
    if isinstance(values, list | tuple | np.ndarray) and len(values) == 0:
        values = None  # sparse-only records send `values: []`
    # Values stay as given: the service converts the whole batch to one float32 matrix at once.
    return Record(id=rid, values=values, sparse_values=sparse, metadata=meta)

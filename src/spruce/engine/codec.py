"""Binary encoding of the operations the WAL carries (no pickle).

Layout of one payload:

    u8   op code (PUT=1, DELETE=2, DROP_NAMESPACE=3, CREATE_NAMESPACE=4)
    u32  header length H (little endian)
    H    header: compact JSON (orjson) with the namespace, ids, metadata and section sizes
    ...  PUT only: dense float32 block (n x d, little endian), then sparse indices (uint32) and
         values (float32) of all rows concatenated; per-row non-zero counts are in the header.

Operations are after-images (whole records, or ids to delete), never "update" deltas, so replaying
a frame twice, or on top of a newer checkpoint, leaves the same state.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson

from spruce.errors import WalCorruptionError
from spruce.types import FloatArray, Record, SparseVector

PUT, DELETE, DROP_NAMESPACE, CREATE_NAMESPACE = 1, 2, 3, 4
_HEAD = struct.Struct("<BI")
# A payload as parts the WAL writes as one frame (see `encode_put_parts`).
Parts = tuple[bytes | memoryview, ...]


@dataclass(slots=True)
class Op:
    code: int
    namespace: str
    records: list[Record]
    ids: list[str]
    dense: FloatArray | None = None  # the records' values stacked, when the caller has them


def encode_put(
    namespace: str, records: Sequence[Record], dimension: int, dense: FloatArray | None = None
) -> bytes:
    return b"".join(encode_put_parts(namespace, records, dimension, dense))


def encode_put_parts(
    namespace: str, records: Sequence[Record], dimension: int, dense: FloatArray | None = None
) -> Parts:
    """`encode_put` as the parts it joins, the dense block a view of `dense` (no copy) when it is
    already little-endian float32 and contiguous: the WAL writes the parts as one frame. The caller
    must not change `dense` until the WAL has written it."""
    has_dense = dimension > 0
    nnz = [0 if r.sparse_values is None else len(r.sparse_values.indices) for r in records]
    header = orjson.dumps(
        {
            "ns": namespace,
            "ids": [r.id for r in records],
            "meta": [r.metadata for r in records],
            "d": dimension if has_dense else 0,
            "nnz": nnz,
        }
    )
    parts: list[bytes | memoryview] = [_HEAD.pack(PUT, len(header)), header]
    if has_dense:
        if dense is None:
            dense = np.zeros((len(records), dimension), dtype="<f4")
            for i, r in enumerate(records):
                if r.values is not None:
                    dense[i] = r.values
        parts.append(np.ascontiguousarray(dense, dtype="<f4").data.cast("B"))
    if any(nnz):
        parts.append(
            np.concatenate([r.sparse_values.indices for r in records if r.sparse_values is not None])
            .astype("<u4")
            .tobytes()
        )
        parts.append(
            np.concatenate([r.sparse_values.values for r in records if r.sparse_values is not None])
            .astype("<f4")
            .tobytes()
        )
    return tuple(parts)


def encode_ids(code: int, namespace: str, ids: Sequence[str] = ()) -> bytes:
    header = orjson.dumps({"ns": namespace, "ids": list(ids)})
    return _HEAD.pack(code, len(header)) + header


def decode(payload: bytes) -> Op:
    try:
        code, hlen = _HEAD.unpack_from(payload, 0)
        start = _HEAD.size
        header = orjson.loads(payload[start : start + hlen])
        pos = start + hlen
    except (struct.error, orjson.JSONDecodeError) as exc:
        raise WalCorruptionError(f"undecodable WAL operation: {exc}") from exc
    ns = header["ns"]
    if code != PUT:
        return Op(code, ns, [], list(header.get("ids", [])))
    ids: list[str] = header["ids"]
    n, d = len(ids), int(header["d"])
    dense = None
    if d:
        dense = np.frombuffer(payload, dtype="<f4", count=n * d, offset=pos).reshape(n, d)
        pos += n * d * 4
    nnz: list[int] = header["nnz"]
    total = sum(nnz)
    s_idx = np.frombuffer(payload, dtype="<u4", count=total, offset=pos)
    s_val = np.frombuffer(payload, dtype="<f4", count=total, offset=pos + 4 * total)
    records: list[Record] = []
    off = 0
    for i, rid in enumerate(ids):
        sv = None
        if nnz[i]:
            sv = SparseVector(
                s_idx[off : off + nnz[i]].astype(np.uint32), s_val[off : off + nnz[i]].astype(np.float32)
            )
            off += nnz[i]
        values = None if dense is None else dense[i].astype(np.float32)
        records.append(Record(rid, values, sv, header["meta"][i]))
    return Op(PUT, ns, records, ids)

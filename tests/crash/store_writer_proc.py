"""Subprocess for test_store_crash: writes through `spruce.Client(path)` until killed.

    python store_writer_proc.py <data_dir> <round>

Runs the deterministic operation sequence `operation(round, 0), operation(round, 1), ...` and prints
one JSON line per operation only after the call has returned (so the write is acknowledged and must
survive a crash): {"round": r, "i": i, "kind": ...}. Prints "READY" once the index is open.

Everything a record holds is derived from its id and version, and its metadata names its batch and
the batch's size, so the test can recompute the expected state from the acknowledged lines alone and
see a partially applied batch. The engine runs with tiny memtables and background maintenance, so
checkpoints, segment writes, HNSW builds and compactions happen while it is being killed.
"""

from __future__ import annotations

import json
import random
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

DIM = 8
INDEX = "crash"
SIDE = "side"  # a second namespace that is filled and dropped wholesale (delete_all)


def writer_config() -> Any:
    from spruce.config import EngineConfig

    # ingest_quiet_ms=0: compaction and HNSW builds run while the writer writes, so kills land in them.
    return EngineConfig(memtable_max_rows=64, ann_min_rows=100, compaction_min_segments=3, ingest_quiet_ms=0)


@dataclass(frozen=True)
class Operation:
    kind: str  # upsert | delete | update | delete_filter | update_filter | side_upsert | side_drop
    ids: tuple[str, ...] = ()
    op: int = -1  # the batch an id- or filter-based operation targets
    version: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def record_id(round_no: int, op: int, j: int) -> str:
    return f"r{round_no}-{op:05d}-{j:02d}"


def vector_for(rid: str, version: int) -> np.ndarray:
    rng = np.random.default_rng([zlib.crc32(rid.encode()), version])
    return rng.standard_normal(DIM).astype(np.float32)


def batch_size(round_no: int, op: int) -> int:
    return random.Random(f"size:{round_no}:{op}").randint(1, 40)


def kind_of(round_no: int, i: int) -> str:
    if i < 3:
        return "upsert"
    roll = random.Random(f"kind:{round_no}:{i}").random()
    if roll < 0.65:
        return "upsert"
    if roll < 0.78:
        return "delete"
    if roll < 0.9:
        return "update"
    if roll < 0.94:
        return "delete_filter"
    if roll < 0.97:
        return "update_filter"
    if roll < 0.99:
        return "side_upsert"
    return "side_drop"


def operation(round_no: int, i: int) -> Operation:
    kind = kind_of(round_no, i)
    rng = random.Random(f"op:{round_no}:{i}")
    if kind in ("upsert", "side_upsert"):
        n = batch_size(round_no, i)
        return Operation(kind, tuple(record_id(round_no, i, j) for j in range(n)), op=i)
    if kind == "side_drop":
        return Operation(kind)
    target = rng.choice([k for k in range(i) if kind_of(round_no, k) == "upsert"])
    n = batch_size(round_no, target)
    if kind == "delete":
        js = sorted(rng.sample(range(n), rng.randint(1, min(n, 8))))
        return Operation(kind, tuple(record_id(round_no, target, j) for j in js), op=target)
    if kind == "update":
        return Operation(kind, (record_id(round_no, target, rng.randrange(n)),), op=target, version=i)
    return Operation(kind, op=target, version=i)


def batch_filter(round_no: int, op: int) -> dict[str, Any]:
    return {"$and": [{"round": round_no}, {"op": op}]}


def upsert_payload(round_no: int, i: int, ids: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "id": rid,
            "values": vector_for(rid, 0),
            "metadata": {"round": round_no, "op": i, "size": len(ids), "ver": 0},
        }
        for rid in ids
    ]


def run(index: Any, round_no: int, i: int, op: Operation) -> None:
    if op.kind == "upsert":
        index.upsert(vectors=upsert_payload(round_no, i, op.ids))
    elif op.kind == "side_upsert":
        index.upsert(vectors=upsert_payload(round_no, i, op.ids), namespace=SIDE)
    elif op.kind == "side_drop":
        index.delete(delete_all=True, namespace=SIDE)
    elif op.kind == "delete":
        index.delete(ids=list(op.ids))
    elif op.kind == "update":
        (rid,) = op.ids
        index.update(id=rid, values=vector_for(rid, op.version), set_metadata={"ver": op.version})
    elif op.kind == "delete_filter":
        index.delete(filter=batch_filter(round_no, op.op))
    else:
        index.update(filter=batch_filter(round_no, op.op), set_metadata={"tag": op.version})


def main() -> None:
    import spruce

    data_dir, round_no = Path(sys.argv[1]), int(sys.argv[2])
    client = spruce.Client(path=data_dir, config=writer_config())
    if not client.has_index(INDEX):
        client.create_index(INDEX, dimension=DIM, metric="euclidean")
    index = client.Index(INDEX)
    print("READY", flush=True)
    i = 0
    while True:
        op = operation(round_no, i)
        run(index, round_no, i, op)
        sys.stdout.write(json.dumps({"round": round_no, "i": i, "kind": op.kind}) + "\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    main()

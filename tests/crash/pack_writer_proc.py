"""Subprocess for test_pack_crash: many small namespaces written through `spruce.Client(path)`
until killed.

    python pack_writer_proc.py <data_dir> <round>

Runs the deterministic sequence `operation(round, 0), operation(round, 1), ...` over NAMESPACES and
prints one JSON line per operation once the call has returned (acknowledged: it must survive).
Memtables seal at 16 rows and a checkpoint seals every namespace's memtable, so nearly every
checkpoint writes a pack of many small blocks and folds small namespaces into one block each; an
explicit flush every FLUSH_EVERY operations adds more. The kills land in pack writes, bitmap writes,
manifest commits and sweeps.
"""

from __future__ import annotations

import json
import random
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DIM = 4
INDEX = "packs"
NAMESPACES = tuple(f"t{k:02d}" for k in range(24))
FLUSH_EVERY = 25


def writer_config() -> Any:
    from spruce.config import EngineConfig

    return EngineConfig(memtable_max_rows=16, ann_min_rows=1000, ingest_quiet_ms=0)


@dataclass(frozen=True)
class Operation:
    kind: str  # upsert | delete | drop | flush
    namespace: str = ""
    ids: tuple[str, ...] = ()
    version: int = 0


def vector_for(rid: str, version: int) -> np.ndarray:
    rng = np.random.default_rng([zlib.crc32(rid.encode()), version])
    return rng.standard_normal(DIM).astype(np.float32)


def operation(round_no: int, i: int) -> Operation:
    rng = random.Random(f"op:{round_no}:{i}")
    if i % FLUSH_EVERY == FLUSH_EVERY - 1:
        return Operation("flush")
    ns = rng.choice(NAMESPACES)
    roll = rng.random()
    # Ids repeat across rounds and operations: overwrites shadow rows in older packs.
    ids = tuple(sorted({f"r{rng.randrange(30)}" for _ in range(rng.randint(1, 6))}))
    if roll < 0.7:
        return Operation("upsert", ns, ids, version=round_no * 100_000 + i)
    if roll < 0.95:
        return Operation("delete", ns, ids)
    return Operation("drop", ns)


def run(index: Any, op: Operation) -> None:
    if op.kind == "upsert":
        index.upsert(
            vectors=[
                {"id": rid, "values": vector_for(rid, op.version), "metadata": {"v": op.version}}
                for rid in op.ids
            ],
            namespace=op.namespace,
        )
    elif op.kind == "delete":
        index.delete(ids=list(op.ids), namespace=op.namespace)
    elif op.kind == "drop":
        index.delete(delete_all=True, namespace=op.namespace)
    else:
        index.flush(optimize=False)


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
        run(index, op)
        sys.stdout.write(json.dumps({"round": round_no, "i": i, "kind": op.kind}) + "\n")
        sys.stdout.flush()
        i += 1


if __name__ == "__main__":
    main()

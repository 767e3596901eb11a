"""kill -9 a process writing many small namespaces (checkpoints that write packs); every
acknowledged write must survive, and nothing else may appear.

As test_store_crash: rounds on one data directory, each killed after a random delay, then reopened
here and compared exactly with the model after the acknowledged operations (or after one more: the
in-flight one may have reached the WAL). Also checks the directory holds exactly the packs the
manifest names once reopened (a pack cut short by the kill is swept, never served).
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pack_writer_proc import INDEX, NAMESPACES, Operation, operation, vector_for, writer_config
from test_store_crash import run_until_killed

import spruce

HELPER = Path(__file__).with_name("pack_writer_proc.py")
Model = dict[tuple[str, str], int]  # (namespace, id) -> version


def apply(model: Model, op: Operation) -> None:
    if op.kind == "upsert":
        for rid in op.ids:
            model[op.namespace, rid] = op.version
    elif op.kind == "delete":
        for rid in op.ids:
            model.pop((op.namespace, rid), None)
    elif op.kind == "drop":
        for key in [k for k in model if k[0] == op.namespace]:
            del model[key]


def read_state(index: spruce.Index) -> dict[tuple[str, str], tuple[np.ndarray, Any]]:
    out = {}
    for ns in NAMESPACES:
        ids = [rid for page in index.list(namespace=ns) for rid in page]
        got = index.fetch(ids=ids, namespace=ns).vectors if ids else {}
        assert set(got) == set(ids)
        for rid, v in got.items():
            out[ns, rid] = (np.asarray(v["values"], dtype=np.float32), v.metadata)
    return out


def differences(state: dict[tuple[str, str], Any], model: Model) -> list[str]:
    problems = [f"{k} lost" for k in sorted(set(model) - set(state))]
    problems += [f"{k} present but should not be" for k in sorted(set(state) - set(model))]
    for key in sorted(set(state) & set(model)):
        values, md = state[key]
        if md != {"v": model[key]} or not np.array_equal(values, vector_for(key[1], model[key])):
            problems.append(f"{key} holds {md}, not version {model[key]}")
    return problems


@pytest.mark.crash
def test_acknowledged_writes_survive_sigkill_during_pack_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import test_store_crash

    monkeypatch.setattr(test_store_crash, "HELPER", HELPER)
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"kill-delay seed {seed}")
    rng = random.Random(seed)
    data_dir = tmp_path / "db"
    index_dir = data_dir / "indexes" / INDEX
    model: Model = {}
    total_acked = 0
    packs_seen = 0
    for round_no in range(6):
        acked = run_until_killed(data_dir, round_no, rng.uniform(0.3, 2.5))
        assert [a["i"] for a in acked] == list(range(len(acked))), "acknowledgements out of order"
        for a in acked:
            apply(model, operation(round_no, a["i"]))
        total_acked += len(acked)
        with_next = dict(model)
        apply(with_next, operation(round_no, len(acked)))
        with spruce.Client(path=data_dir, config=writer_config()) as client:
            index = client.Index(INDEX)
            state = read_state(index)
            miss = differences(state, model)
            if miss and not differences(state, with_next):
                model = with_next  # the in-flight operation reached the log before the kill
            else:
                assert not miss, f"round {round_no}, {len(acked)} acknowledged:\n" + "\n".join(miss[:20])
            stats = index.describe_index_stats()
            assert stats.total_vector_count == len(model)
            assert set(stats.namespaces) == {ns for ns, _ in model}
        manifest = json.loads((index_dir / "manifest.json").read_bytes())
        named = {f"pack-{int(p):012d}" for p in manifest.get("packs", {})}
        on_disk = {p.name for p in (index_dir / "segments").iterdir() if p.name.startswith("pack-")}
        assert on_disk == named, "a pack the manifest does not name was left on disk"
        packs_seen += len(named)
    assert total_acked > 100, f"only {total_acked} operations were acknowledged: the test proved little"
    assert packs_seen, "no pack was ever committed: the kills never met a pack checkpoint"
    print(f"{total_acked} acknowledged ops, {len(model)} records, {packs_seen} packs seen")

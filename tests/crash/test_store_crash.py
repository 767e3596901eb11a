"""kill -9 a process writing through spruce.Client(path); every acknowledged write must survive.

Several rounds on one data directory: start the writer, SIGKILL it after a random delay, reopen the
directory in this process and compare the whole stored state with a model rebuilt from the
acknowledged operations, then start the next writer on the same directory.

The writer is sequential, so after `a` acknowledged operations at most one more (the one in flight)
can have reached the WAL. The stored state must therefore equal the model after `a` operations or
after `a + 1`, exactly: that one comparison checks that acknowledged upserts, updates and deletes
survived with identical values and metadata, and that the in-flight batch is all or nothing.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from store_writer_proc import INDEX, SIDE, Operation, operation, vector_for, writer_config

import spruce

HELPER = Path(__file__).with_name("store_writer_proc.py")
SRC = Path(__file__).resolve().parents[2] / "src"
# (namespace, id) -> metadata; the vector is vector_for(id, metadata["ver"]).
Model = dict[tuple[str, str], dict[str, Any]]


def run_until_killed(data_dir: Path, round_no: int, delay: float) -> list[dict[str, Any]]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), str(data_dir), str(round_no)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    acked: list[dict[str, Any]] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if not raw.endswith(b"\n"):
                break  # cut mid-line by the kill: not a complete acknowledgement
            if raw.strip() == b"READY":
                ready.set()
            else:
                acked.append(json.loads(raw))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        if not ready.wait(30):
            proc.kill()
            proc.wait(10)
            pytest.fail(f"writer did not start: {proc.stderr.read().decode()[-2000:]}")
        time.sleep(delay)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        reader.join(10)
        stderr = proc.stderr.read().decode()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL, (
        f"writer exited on its own ({proc.returncode}): {stderr[-3000:]}"
    )
    return acked


def apply(model: Model, round_no: int, op: Operation) -> None:
    def in_batch(md: dict[str, Any]) -> bool:
        return bool(md["round"] == round_no and md["op"] == op.op)

    if op.kind in ("upsert", "side_upsert"):
        ns = SIDE if op.kind == "side_upsert" else ""
        for rid in op.ids:
            model[ns, rid] = {"round": round_no, "op": op.op, "size": len(op.ids), "ver": 0}
    elif op.kind == "side_drop":
        for key in [k for k in model if k[0] == SIDE]:
            del model[key]
    elif op.kind == "delete":
        for rid in op.ids:
            model.pop(("", rid), None)
    elif op.kind == "update":
        (rid,) = op.ids
        if ("", rid) in model:  # updating a missing id changes nothing
            model["", rid] = {**model["", rid], "ver": op.version}
    elif op.kind == "delete_filter":
        for key in [k for k, md in model.items() if k[0] == "" and in_batch(md)]:
            del model[key]
    else:
        for key, md in model.items():
            if key[0] == "" and in_batch(md):
                model[key] = {**md, "tag": op.version}


def read_state(index: spruce.Index) -> dict[tuple[str, str], tuple[np.ndarray, dict[str, Any]]]:
    out = {}
    for ns in ("", SIDE):
        ids = [rid for page in index.list(namespace=ns) for rid in page]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            got = index.fetch(ids=chunk, namespace=ns).vectors
            assert set(got) == set(chunk), "listed ids that fetch cannot find"
            for rid, v in got.items():
                out[ns, rid] = (np.asarray(v["values"], dtype=np.float32), v.metadata)
    return out


def differences(state: dict[tuple[str, str], Any], model: Model) -> list[str]:
    problems = []
    for rid in sorted(set(model) - set(state)):
        problems.append(f"{rid} lost")
    for rid in sorted(set(state) - set(model)):
        problems.append(f"{rid} present but should not be: {state[rid][1]}")
    for key in sorted(set(state) & set(model)):
        values, md = state[key]
        if md != model[key]:
            problems.append(f"{key} metadata {md} != {model[key]}")
        if not np.array_equal(values, vector_for(key[1], model[key]["ver"])):
            problems.append(f"{key} values damaged")
    return problems


def check_searchable(index: spruce.Index, model: Model, rng: random.Random) -> None:
    """Recovered records are findable through search (filter columns, segments, HNSW)."""
    default = sorted(rid for ns, rid in model if ns == "")
    for rid in rng.sample(default, min(10, len(default))):
        md = model["", rid]
        vec = vector_for(rid, md["ver"])
        res = index.query(vector=vec, top_k=3, filter={"round": md["round"], "op": md["op"]})
        assert (
            res.matches and res.matches[0].id == rid and res.matches[0].score == pytest.approx(0.0, abs=1e-4)
        )
        res = index.query(vector=vec, top_k=1)  # unfiltered: through the HNSW graphs where built
        assert res.matches[0].score == pytest.approx(0.0, abs=1e-4)


@pytest.mark.crash
def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"kill-delay seed {seed}")  # shown with a failure, to replay the same kill schedule
    rng = random.Random(seed)
    data_dir = tmp_path / "db"
    model: Model = {}
    total_acked = 0
    in_flight_applied = 0
    for round_no in range(6):
        acked = run_until_killed(data_dir, round_no, rng.uniform(0.2, 2.0))
        assert [a["i"] for a in acked] == list(range(len(acked))), "acknowledgements out of order"
        for a in acked:
            op = operation(round_no, a["i"])
            assert a["kind"] == op.kind and a["round"] == round_no
            apply(model, round_no, op)
        total_acked += len(acked)
        with_next = {rid: dict(md) for rid, md in model.items()}
        apply(with_next, round_no, operation(round_no, len(acked)))
        with spruce.Client(path=data_dir, config=writer_config()) as client:
            index = client.Index(INDEX)
            state = read_state(index)
            miss_without = differences(state, model)
            miss_with = differences(state, with_next)
            if miss_without and not miss_with:
                model = with_next  # the in-flight operation reached the log before the kill
                in_flight_applied += 1
            else:
                assert not miss_without, (
                    f"round {round_no}, {len(acked)} acknowledged; state matches neither the acknowledged "
                    f"writes nor them plus the in-flight one:\n" + "\n".join(miss_without[:20])
                )
            stats = index.describe_index_stats()
            assert stats.total_vector_count == len(model)
            side = sum(1 for ns, _ in model if ns == SIDE)
            # An emptied namespace disappears (it was never created explicitly).
            assert (SIDE in stats.namespaces) == (side > 0)
            check_searchable(index, model, rng)
    assert total_acked > 50, f"only {total_acked} operations were acknowledged: the test proved little"
    # The kills must have hit a store with sealed segments and HNSW graphs, not only a WAL.
    manifest = json.loads((data_dir / "indexes" / INDEX / "manifest.json").read_bytes())
    assert manifest["namespaces"][""]["segments"], "no segment was ever committed"
    assert list((data_dir / "indexes" / INDEX / "segments").glob("*/hnsw.faiss")), "no HNSW graph was saved"
    print(f"{total_acked} acknowledged ops, {len(model)} records, in-flight op applied {in_flight_applied}x")

"""Writes made under the store lock never checkpoint (nor wait for an fsync) while holding it.

Without a background worker a checkpoint runs inline in the writer and takes the maintenance lock
before the store lock. A checkpoint started by a write made under the store lock (read-modify-write,
delete by filter, the collections service's checked writes) would take them in the opposite order,
and two writers could deadlock. The order is checked where it is decided: every checkpoint records
whether its thread held the store lock when it started.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from spruce.config import EngineConfig
from spruce.engine.filter import parse_filter
from spruce.engine.store import Store
from spruce.types import Record

DIM = 4


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "idx", DIM, "euclidean", EngineConfig(background=False, memtable_max_rows=8))
    yield s
    s.close()


def _records(prefix: str, n: int) -> list[Record]:
    rng = np.random.default_rng(len(prefix) + n)
    return [Record(f"{prefix}{i}", rng.random(DIM, dtype=np.float32), None, {"k": i}) for i in range(n)]


def _watch_checkpoints(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per checkpoint: whether its thread held the store lock."""
    held: list[bool] = []
    real = store.checkpoint

    def checkpoint() -> None:
        held.append(bool(store.lock._is_owned()))  # type: ignore[attr-defined]
        real()

    monkeypatch.setattr(store, "checkpoint", checkpoint)
    return held


def test_read_modify_write_checkpoints_after_releasing_the_lock(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put("ns", _records("a", 6))
    held = _watch_checkpoints(store, monkeypatch)
    # The after-images fill the memtable past its limit: this write is the one that checkpoints.
    n = store.read_modify_write("ns", lambda ns: _records("a", 6))
    assert n == 6
    assert held == [False]
    assert len(store.fetch("ns", [f"a{i}" for i in range(6)])) == 6


def test_delete_matching_checkpoints_after_releasing_the_lock(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = _watch_checkpoints(store, monkeypatch)
    with store.lock:
        store.put("ns", _records("a", 8))  # fills the memtable; the caller's lock defers the checkpoint
    assert held == []
    deleted = store.delete_matching("ns", parse_filter({"k": {"$lt": 3}}))
    assert deleted == 3
    assert held == [False]  # the delete found the memtable full and checkpointed, lock released
    assert store.fetch("ns", ["a0", "a2", "a3", "a7"]).keys() == {"a3", "a7"}


def test_writes_inside_a_caller_held_lock_leave_the_checkpoint_to_a_later_write(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = _watch_checkpoints(store, monkeypatch)
    with store.lock:
        store.put("ns", _records("a", 10))  # past the memtable limit, but the lock is the caller's
    assert held == []
    store.put("ns", _records("b", 1))
    assert held == [False]
    assert len(store.fetch("ns", [f"a{i}" for i in range(10)] + ["b0"])) == 11

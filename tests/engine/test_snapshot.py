"""Snapshots of a live store (engine/snapshot.py): consistent under concurrent writes, exact, checked.

The writer test is the heart: one thread writes a known sequence of puts and deletes (one WAL frame
each) while backups are taken; a restored copy must equal the state after exactly the first `lsn`
operations, and `lsn` must cover every write acknowledged before the backup began. Background
checkpoints and compactions run meanwhile (tiny memtables), so the capture races them too.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from spruce.config import EngineConfig
from spruce.engine import snapshot
from spruce.engine.search import QuerySpec
from spruce.engine.store import Store
from spruce.errors import BackupCorruptionError, InvalidArgumentError
from spruce.types import Record

DIM = 4
WAIT = 120.0


def _config(**kw: object) -> EngineConfig:
    # No fsync: what is under test is which frames a snapshot takes, not the disk; the shared test
    # machine's fsyncs would only make the writer slow.
    base: dict[str, object] = {
        "memtable_max_rows": 32,
        "ingest_quiet_ms": 0,
        "compaction_min_segments": 2,
        "fsync": False,
    }
    base.update(kw)
    return EngineConfig(**base)  # type: ignore[arg-type]


def _value(i: int) -> np.ndarray:
    # Every component derives from i, so a torn or mixed-up record cannot look right.
    return np.array([i, i + 0.5, -i, 1.0], dtype=np.float32)


def _ops(n: int) -> list[tuple[str, str, int]]:
    """(kind, id, seq): puts of fresh and of overwritten ids, and deletes, over two namespaces."""
    out: list[tuple[str, str, int]] = []
    for seq in range(n):
        if seq % 7 == 6:
            out.append(("del", f"r{seq - 4}", seq))
        elif seq % 5 == 4:
            out.append(("put", f"r{seq - 3}", seq))  # overwrite with new values
        else:
            out.append(("put", f"r{seq}", seq))
    return out


def _ns(rid: str) -> str:
    return "odd" if int(rid[1:]) % 2 else ""


def _state_after(ops: list[tuple[str, str, int]], m: int) -> dict[str, dict[str, int]]:
    state: dict[str, dict[str, int]] = {"": {}, "odd": {}}
    for kind, rid, seq in ops[:m]:
        if kind == "put":
            state[_ns(rid)][rid] = seq
        else:
            state[_ns(rid)].pop(rid, None)
    return state


def _contents(store: Store, ids: list[str]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {"": {}, "odd": {}}
    for ns in out:
        for rid, rec in store.fetch(ns, [r for r in ids if _ns(r) == ns]).items():
            assert rec.values is not None
            seq = int(rec.values[0])
            np.testing.assert_array_equal(rec.values, _value(seq))
            assert rec.metadata == {"seq": seq}
            out[ns][rid] = seq
    return out


def test_backup_while_writing_holds_exactly_a_prefix(tmp_path: Path) -> None:
    total = 1500
    ops = _ops(total)
    store = Store(tmp_path / "src", DIM, "euclidean", _config())
    acked = 0
    progress = threading.Condition()

    def writer() -> None:
        nonlocal acked
        for kind, rid, seq in ops:
            if kind == "put":
                store.put(_ns(rid), [Record(rid, _value(seq), None, {"seq": seq})])
            else:
                store.delete(_ns(rid), [rid])
            with progress:
                acked = seq + 1
                progress.notify_all()

    thread = threading.Thread(target=writer)
    thread.start()
    taken: list[tuple[int, snapshot.SnapshotInfo, Path]] = []
    crcs: snapshot.CrcCache = {}  # later backups reuse the checksums of segments linked before
    try:
        for n, at in enumerate((200, 700, 1200)):
            with progress:
                assert progress.wait_for(lambda at=at: acked >= at, timeout=WAIT)  # type: ignore[misc]
                before = acked
            dest = tmp_path / f"backup-{n}"
            taken.append((before, snapshot.take(store, dest, crcs), dest))
    finally:
        thread.join(WAIT)
    assert not thread.is_alive()
    assert crcs
    all_ids = sorted({rid for _, rid, _ in ops})
    for n, (before, info, dest) in enumerate(taken):
        assert before <= info.lsn <= total  # every acknowledged write is in; one frame per op
        expected = _state_after(ops, info.lsn)
        assert info.namespaces == {ns: len(rows) for ns, rows in expected.items() if rows}
        snapshot.restore(dest, tmp_path / f"restored-{n}")
        restored = Store(tmp_path / f"restored-{n}", DIM, "euclidean", _config())
        try:
            assert _contents(restored, all_ids) == expected
            assert restored.namespace_counts() == info.namespaces
        finally:
            restored.close()
    assert _contents(store, all_ids) == _state_after(ops, total)  # the source is unharmed
    store.close()


def test_restored_index_answers_like_the_source_at_capture(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    store = Store(tmp_path / "src", 16, "cosine", _config(memtable_max_rows=100, ann_min_rows=150))
    vectors = rng.standard_normal((600, 16)).astype(np.float32)
    meta = [{"color": ["red", "blue"][i % 2], "n": i} for i in range(600)]
    for start in range(0, 600, 50):
        store.put("", [Record(f"v{i}", vectors[i], None, meta[i]) for i in range(start, start + 50)])
    store.delete("", [f"v{i}" for i in range(0, 600, 9)])
    store.flush()  # segments with HNSW graphs and bitmaps, plus a WAL tail below
    store.put("", [Record(f"v{i}", vectors[i] * -1, None, meta[i]) for i in range(1, 40, 3)])
    live = {f"v{i}": vectors[i] for i in range(600) if i % 9}
    for i in range(1, 40, 3):
        if i % 9:
            live[f"v{i}"] = vectors[i] * -1
    snapshot.take(store, tmp_path / "bk")
    store.delete("", list(live)[:100])  # after the capture: must not show in the restore
    store.put("", [Record("extra", vectors[0])])
    store.close()

    snapshot.restore(tmp_path / "bk", tmp_path / "dst")
    assert list((tmp_path / "dst" / "segments").glob("*/hnsw.faiss"))  # graphs come along, not rebuilt
    restored = Store(tmp_path / "dst", 16, "cosine", _config(memtable_max_rows=100, ann_min_rows=150))
    try:
        ids = sorted(live)
        matrix = np.stack([live[r] for r in ids]).astype(np.float64)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        for q in rng.standard_normal((20, 16)).astype(np.float32):
            qn = q.astype(np.float64) / np.linalg.norm(q)
            order = np.argsort(-(matrix @ qn), kind="stable")[:10]
            spec = QuerySpec("cosine", 10, q, None, ef_search=2000, exact_max_rows=0)
            got = restored.query("", spec, None, False, False)
            assert [m.id for m in got] == [ids[i] for i in order]
        fetched = restored.fetch("", [*ids, "extra"])
        assert sorted(fetched) == ids
        for rid in ids[:50]:
            np.testing.assert_array_equal(fetched[rid].values, live[rid])
    finally:
        restored.close()


@pytest.mark.parametrize("victim", ["snapshot.json", "manifest.json", "wal", "alive", "vectors", "rows"])
def test_a_flipped_byte_is_found_before_restoring(tmp_path: Path, victim: str) -> None:
    store = Store(tmp_path / "src", DIM, "euclidean", _config())
    for i in range(100):
        store.put("", [Record(f"r{i}", _value(i), None, {"seq": i})])
    store.delete("", ["r1", "r2"])
    store.checkpoint()
    store.put("", [Record("tail", _value(7))])
    snapshot.take(store, tmp_path / "bk")
    store.remove_files()  # the backup's linked files are its own from now on
    paths = {
        "snapshot.json": [tmp_path / "bk" / "snapshot.json"],
        "manifest.json": [tmp_path / "bk" / "manifest.json"],
        "wal": sorted((tmp_path / "bk" / "wal").glob("wal-*.log")),
        "alive": sorted((tmp_path / "bk" / "segments").glob("*/alive-*.npy")),
        "vectors": sorted((tmp_path / "bk" / "segments").glob("*/vectors.npy")),
        "rows": sorted((tmp_path / "bk" / "segments").glob("*/rows.arrow")),
    }[victim]
    assert paths, f"no {victim} file in the backup"
    target = paths[0]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    with pytest.raises(BackupCorruptionError) as err:
        snapshot.restore(tmp_path / "bk", tmp_path / "dst")
    assert "damaged" in err.value.message or "checksum" in err.value.message
    if victim != "snapshot.json":
        assert target.name in err.value.message  # names the file
    assert not (tmp_path / "dst").exists()


def _other_filesystem(path: Path) -> Path | None:
    """A writable directory on another filesystem than `path` (tmpfs /dev/shm), or None."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK) and shm.stat().st_dev != path.stat().st_dev:
        return shm
    return None


def test_backup_to_another_filesystem_copies(tmp_path: Path) -> None:
    """Hard links cannot cross filesystems (EXDEV): the files are copied and the backup is the same."""
    other = _other_filesystem(tmp_path)
    if other is None:
        pytest.skip("no second filesystem (/dev/shm) to back up to")
    store = Store(tmp_path / "src", DIM, "euclidean", _config())
    for i in range(80):
        store.put("", [Record(f"r{i}", _value(i), None, {"seq": i})])
    store.checkpoint()
    dest = Path(tempfile.mkdtemp(dir=other)) / "bk"
    try:
        info = snapshot.take(store, dest)
        store.close()
        assert info.linked_bytes == 0 and info.size_bytes > 0
        snapshot.restore(dest, tmp_path / "dst")  # and back across: copied again
        restored = Store(tmp_path / "dst", DIM, "euclidean", _config())
        try:
            fetched = restored.fetch("", [f"r{i}" for i in range(80)])
            assert {rid: rec.metadata for rid, rec in fetched.items()} == {
                f"r{i}": {"seq": i} for i in range(80)
            }
        finally:
            restored.close()
    finally:
        shutil.rmtree(dest.parent, ignore_errors=True)


def test_in_memory_store_cannot_be_backed_up(tmp_path: Path) -> None:
    store = Store(None, DIM, "euclidean", _config())
    with pytest.raises(InvalidArgumentError):
        snapshot.take(store, tmp_path / "bk")
    store.close()

"""Pack segments (engine/pack.py, engine/packing.py): many small namespaces in one directory.

Round trip through a pack (dense, sparse, metadata, deletions), damage detected on disk, the old
one-segment-per-block layout still opening (and gaining packs), drop and compaction removing a pack
only once no block refers to it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import spruce
from spruce.config import EngineConfig
from spruce.engine import pack as packmod
from spruce.engine.check import check_index, set_aside_damaged_segments
from spruce.engine.compaction import compact_namespace
from spruce.errors import SpruceError

DIM = 4
CONFIG = EngineConfig(background=False, fsync=False, ann_min_rows=64, memtable_max_rows=1000)


def _records(ns: int, n: int, version: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        rec: dict[str, Any] = {
            "id": f"{ns}-{i}",
            "values": [float(ns), float(i), float(version), 1.0],
            "metadata": {"ns": ns, "i": i, "v": version},
        }
        if i % 3 == 0:
            rec["sparse_values"] = {"indices": [i, 100 + ns], "values": [1.0, float(version + 1)]}
        out.append(rec)
    return out


def _index_dir(root: Path) -> Path:
    return root / "indexes" / "t"


def _open(root: Path, create: bool = False) -> tuple[spruce.Client, spruce.Index]:
    client = spruce.Client(path=root, config=CONFIG)
    if create:
        client.create_index("t", dimension=DIM, metric="dotproduct")
    return client, client.Index("t")


def _state(index: spruce.Index, namespaces: list[str]) -> dict[tuple[str, str], Any]:
    out = {}
    for ns in namespaces:
        ids = [rid for page in index.list(namespace=ns) for rid in page]
        for rid, v in index.fetch(ids=ids, namespace=ns).vectors.items():
            sv = v.sparse_values
            sparse = None if sv is None else (tuple(sv.indices), tuple(sv.values))
            out[ns, rid] = (tuple(v.values), sparse, v.metadata)
    return out


def _dirs(root: Path) -> list[str]:
    return sorted(p.name for p in (_index_dir(root) / "segments").iterdir())


def test_round_trip_through_one_pack(tmp_path: Path) -> None:
    client, index = _open(tmp_path, create=True)
    names = [f"n{k}" for k in range(20)]
    for k, ns in enumerate(names):
        index.upsert(vectors=_records(k, 3 + k), namespace=ns)
    index.delete(ids=["4-1", "4-2"], namespace="n4")
    index.flush()
    before = _state(index, names)
    q = [1.0, -1.0, 2.0, 0.5]
    answers = {ns: index.query(vector=q, top_k=5, namespace=ns, include_metadata=True) for ns in names}
    client.close()
    dirs = _dirs(tmp_path)
    assert len(dirs) == 1 and dirs[0].startswith("pack-"), dirs
    manifest = json.loads((_index_dir(tmp_path) / "manifest.json").read_bytes())
    assert manifest["version"] == 3 and len(manifest["packs"]) == 1
    # The deletions before the checkpoint are in the pack's one bitmap.
    assert list((_index_dir(tmp_path) / "segments" / dirs[0]).glob("alive-*.npy"))

    client, index = _open(tmp_path)
    assert _state(index, names) == before
    assert ("n4", "4-1") not in before and ("n4", "4-0") in before
    for ns in names:
        again = index.query(vector=q, top_k=5, namespace=ns, include_metadata=True)
        assert [(m.id, m.score, m.metadata) for m in again.matches] == [
            (m.id, m.score, m.metadata) for m in answers[ns].matches
        ]
    stats = index.describe_index_stats()
    assert stats.namespaces["n4"].vector_count == 5
    assert stats.total_vector_count == len(before)
    # Deleting after the reopen writes the pack's bitmap again; it survives the next reopen.
    index.delete(ids=["7-0"], namespace="n7")
    index.flush()
    client.close()
    client, index = _open(tmp_path)
    assert index.fetch(ids=["7-0", "7-1"], namespace="n7").vectors.keys() == {"7-1"}
    assert check_index(_index_dir(tmp_path)) == []
    client.close()


def test_small_namespace_written_in_many_checkpoints_stays_one_block(tmp_path: Path) -> None:
    client, index = _open(tmp_path, create=True)
    names = [f"n{k}" for k in range(8)]
    expected: dict[tuple[str, str], Any] = {}
    for version in range(4):
        for k, ns in enumerate(names):
            index.upsert(vectors=_records(k, 2 + version, version), namespace=ns)
        index.flush(optimize=False)
    index.delete(ids=["3-0"], namespace="n3")
    index.flush(optimize=False)
    expected = _state(index, names)
    store = index._svc.store
    assert all(len(ns.sealed) == 1 for ns in store.namespaces.values())
    assert all(ns.sealed[0].pack_id is not None for ns in store.namespaces.values())
    # Only packs some namespace still refers to are on disk.
    assert all(d.startswith("pack-") for d in _dirs(tmp_path)) and len(_dirs(tmp_path)) <= 2
    client.close()
    client, index = _open(tmp_path)
    assert _state(index, names) == expected
    client.close()


def test_drop_and_compaction_release_a_pack(tmp_path: Path) -> None:
    client, index = _open(tmp_path, create=True)
    for k in range(6):
        index.upsert(vectors=_records(k, 5), namespace=f"n{k}")
    index.flush()
    (first,) = _dirs(tmp_path)
    for k in range(6):
        index.upsert(vectors=_records(k + 10, 5), namespace=f"m{k}")
    index.flush()
    assert len(_dirs(tmp_path)) == 2
    # n5 grows past the pack size (a segment with a graph) while its small block stays in the pack.
    big = [{"id": f"big-{i}", "values": [1.0, 0.0, float(i), 0.0]} for i in range(200)]
    index.upsert(vectors=big, namespace="n5")
    index.flush(optimize=False)
    for k in range(5):
        index.delete(delete_all=True, namespace=f"n{k}")
    index.flush(optimize=False)
    # Mostly dead, but n5 cannot move into a new pack (repack.py): the pack stays as it is.
    assert first in _dirs(tmp_path)
    # Compaction folds n5's small block into its segment, and no block names the pack any more.
    compact_namespace(index._svc.store, "n5", force=True)
    assert first not in _dirs(tmp_path)
    assert index.describe_index_stats().namespaces["n5"].vector_count == 205
    client.close()
    client, index = _open(tmp_path)
    assert index.describe_index_stats().namespaces["n5"].vector_count == 205
    assert sorted(index.describe_index_stats().namespaces) == ["m0", "m1", "m2", "m3", "m4", "m5", "n5"]
    client.close()


@pytest.mark.parametrize("victim", ["vectors.npy", "rows.arrow", "blocks.npy", "indptr.npy", "alive"])
def test_damaged_pack_is_reported_never_served(tmp_path: Path, victim: str) -> None:
    client, index = _open(tmp_path, create=True)
    for k in range(6):
        index.upsert(vectors=_records(k, 10), namespace=f"n{k}")
    index.delete(ids=["2-2"], namespace="n2")
    index.flush()
    client.close()
    (pack_dir,) = (_index_dir(tmp_path) / "segments").iterdir()
    target = next(pack_dir.glob("alive-*.npy")) if victim == "alive" else pack_dir / victim
    raw = bytearray(target.read_bytes())
    pos = len(raw) - 3  # in the data, past any header
    raw[pos] ^= 0x5A
    target.write_bytes(bytes(raw))
    client = spruce.Client(path=tmp_path, config=CONFIG)
    with pytest.raises(SpruceError, match="checksum mismatch"):
        client.Index("t").fetch(ids=["2-1"], namespace="n2")
    client.close()
    problems = check_index(_index_dir(tmp_path))
    assert [p.severity for p in problems] == ["error"] and pack_dir.name in str(problems[0].path)
    lost = set_aside_damaged_segments(_index_dir(tmp_path))
    assert len(lost) == 6  # every block of the pack is reported
    client, index = _open(tmp_path)
    assert index.describe_index_stats().total_vector_count == 0
    client.close()


def test_old_layout_opens_and_gains_packs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(packmod, "PACK_MIN_BLOCKS", 10**9)  # this checkpoint writes the old layout
    client, index = _open(tmp_path, create=True)
    names = [f"n{k}" for k in range(6)]
    for k, ns in enumerate(names):
        index.upsert(vectors=_records(k, 4), namespace=ns)
    index.delete(ids=["1-1"], namespace="n1")
    index.flush()
    client.close()
    manifest = json.loads((_index_dir(tmp_path) / "manifest.json").read_bytes())
    assert manifest["version"] == 2 and "packs" not in manifest
    assert len(_dirs(tmp_path)) == 6 and not any(d.startswith("pack-") for d in _dirs(tmp_path))
    monkeypatch.undo()

    client, index = _open(tmp_path)
    before = _state(index, names)
    assert len(before) == 23
    for k, ns in enumerate(names):
        index.upsert(vectors=_records(k, 6, version=1), namespace=ns)
    index.flush()
    after = _state(index, names)
    client.close()
    # Each namespace's old segment and new rows are one packed block now; the segments are gone.
    assert all(d.startswith("pack-") for d in _dirs(tmp_path))
    client, index = _open(tmp_path)
    assert _state(index, names) == after
    assert after["n1", "1-1"][2] == {"ns": 1, "i": 1, "v": 1}
    client.close()


def test_pack_block_views_share_the_pack_alive_array(tmp_path: Path) -> None:
    blocks = []
    from spruce.engine.rows import RowBlock
    from spruce.types import Record

    for b in range(3):
        blk = RowBlock(DIM, block_id=b + 1)
        blk.extend([Record(id=f"{b}-{i}", values=np.full(DIM, b + i, np.float32)) for i in range(b + 2)])
        blocks.append(blk)
    root = tmp_path / "segments"
    root.mkdir()
    packmod.write_pack(root, 99, blocks, DIM)
    pack = packmod.open_pack(root, 99, None)
    opened = pack.block(2)
    assert opened.ids == ["1-0", "1-1", "1-2"]
    np.testing.assert_array_equal(opened.dense, blocks[1].dense[:3])
    opened.kill(1)
    assert pack.alive.tolist() == [True, True, True, False, True, True, True, True, True]


def test_backup_and_restore_carry_packs(tmp_path: Path) -> None:
    from spruce.engine import snapshot

    client, index = _open(tmp_path / "src", create=True)
    names = [f"n{k}" for k in range(8)]
    for k, ns in enumerate(names):
        index.upsert(vectors=_records(k, 4 + k), namespace=ns)
    index.flush()
    index.delete(ids=["5-1"], namespace="n5")
    index.flush()  # the pack's bitmap is rewritten: the backup must take the current one
    index.upsert(vectors=_records(9, 2, version=3), namespace="n1")  # in the WAL only
    want = _state(index, names)
    snapshot.take(index._svc.store, tmp_path / "bk")
    client.close()
    snapshot.restore(tmp_path / "bk", tmp_path / "dst")
    from spruce.engine.store import Store

    store = Store(tmp_path / "dst", DIM, "dotproduct", CONFIG)
    got = {}
    assert store.namespace_counts() == {ns: sum(1 for k in want if k[0] == ns) for ns in names}
    for ns in names:
        for rid, rec in store.fetch(ns, [k[1] for k in want if k[0] == ns]).items():
            assert rec.values is not None
            sv = rec.sparse_values
            sparse = None if sv is None else (tuple(sv.indices.tolist()), tuple(sv.values.tolist()))
            got[ns, rid] = (tuple(rec.values.tolist()), sparse, rec.metadata)
    store.close()
    assert got == want and ("n5", "5-1") not in got


def test_reopen_leaves_small_namespaces_dormant_until_named(tmp_path: Path) -> None:
    client, index = _open(tmp_path, create=True)
    names = [f"n{k}" for k in range(6)]
    for k, ns in enumerate(names):
        index.upsert(vectors=_records(k, 3), namespace=ns)
    index.flush()
    client.close()
    client, index = _open(tmp_path)
    store = index._svc.store
    assert sorted(store.table.dormant) == names and not store.namespaces
    # Stats and listing answer from the manifest and the pack's bitmap, waking nothing.
    assert {ns: s.vector_count for ns, s in index.describe_index_stats().namespaces.items()} == {
        ns: 3 for ns in names
    }
    assert [n.name for n in index.list_namespaces()] == names
    assert not store.namespaces
    res = index.query(vector=[1.0, 0.0, 0.0, 0.0], top_k=1, namespace="n2")
    assert res.matches[0].id == "2-0" and list(store.namespaces) == ["n2"]
    index.delete(ids=["3-0"], namespace="n3")  # wakes n3
    index.delete(delete_all=True, namespace="n4")  # drops a dormant one without waking it
    index.flush()
    assert sorted(store.table.dormant) == ["n0", "n1", "n5"]
    client.close()
    client, index = _open(tmp_path)
    counts = {ns: s.vector_count for ns, s in index.describe_index_stats().namespaces.items()}
    assert counts == {"n0": 3, "n1": 3, "n2": 3, "n3": 2, "n5": 3}
    client.close()

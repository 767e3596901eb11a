"""Mostly-empty packs are rewritten (engine/repack.py): dropped namespaces and deleted rows give their
disk back at the next checkpoint, and nothing alive is lost on the way, after a reopen, or when the
checkpoint that repacks fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_packs import _index_dir, _open

import spruce
from spruce.engine import packing
from spruce.engine.check import check_index
from spruce.engine.repack import REPACK_LIVE_FRACTION


def _records(ns: int, n: int) -> list[dict[str, Any]]:
    return [
        {"id": f"{ns}-{i}", "values": [float(ns), float(i), 1.0, -1.0], "metadata": {"ns": ns, "i": i}}
        for i in range(n)
    ]


def _packs(root: Path) -> dict[str, int]:
    """Pack directory -> bytes of its files."""
    out = {}
    for d in (_index_dir(root) / "segments").iterdir():
        if d.name.startswith("pack-"):
            out[d.name] = sum(f.stat().st_size for f in d.iterdir())
    return out


def _contents(index: spruce.Index) -> dict[tuple[str, str], Any]:
    out = {}
    for ns in index.describe_index_stats().namespaces:
        ids = [rid for page in index.list(namespace=ns) for rid in page]
        for rid, v in index.fetch(ids=ids, namespace=ns).vectors.items():
            out[ns, rid] = (tuple(v.values), v.metadata)
    return out


def _fill(index: spruce.Index, namespaces: int, rows: int) -> dict[tuple[str, str], Any]:
    for k in range(namespaces):
        index.upsert(vectors=_records(k, rows), namespace=f"n{k}")
    index.flush()
    return _contents(index)


def _thin(index: spruce.Index, model: dict[tuple[str, str], Any], namespaces: int) -> None:
    """Drop all but every fourth namespace and delete half the rows of those left."""
    for k in range(namespaces):
        if k % 4:
            index.delete(delete_all=True, namespace=f"n{k}")
            for key in [key for key in model if key[0] == f"n{k}"]:
                del model[key]
        else:
            doomed = [f"{k}-{i}" for i in range(0, 20, 2)]
            index.delete(ids=doomed, namespace=f"n{k}")
            for rid in doomed:
                del model[f"n{k}", rid]


@pytest.mark.parametrize("reopen", [False, True], ids=["live", "dormant"])
def test_mostly_empty_pack_is_rewritten_with_its_live_rows_only(tmp_path: Path, reopen: bool) -> None:
    client, index = _open(tmp_path, create=True)
    model = _fill(index, 40, 20)
    (old,) = _packs(tmp_path)
    old_bytes = _packs(tmp_path)[old]
    if reopen:  # the small namespaces reopen dormant: the repack must wake the ones it moves
        client.close()
        client, index = _open(tmp_path)
        assert len(index._svc.store.table.dormant) == 40
    _thin(index, model, 40)
    assert len(model) == 10 * 10 <= REPACK_LIVE_FRACTION * 40 * 20
    index.flush()
    packs = _packs(tmp_path)
    (new,) = packs
    assert new != old, "the mostly-empty pack was kept"
    # The new pack holds the 100 live rows, not the 800 of the old one.
    assert index._svc.store.packs.by_id[int(new.removeprefix("pack-"))].n == 100
    assert packs[new] < old_bytes / 4
    assert _contents(index) == model
    q = [1.0, 0.5, 0.0, 0.0]
    before = index.query(vector=q, top_k=3, namespace="n8", include_metadata=True)
    client.close()

    client, index = _open(tmp_path)
    assert _contents(index) == model
    again = index.query(vector=q, top_k=3, namespace="n8", include_metadata=True)
    assert [(m.id, m.score) for m in again.matches] == [(m.id, m.score) for m in before.matches]
    assert check_index(_index_dir(tmp_path)) == []
    # A full pack is left alone by the next checkpoint.
    index.upsert(vectors=_records(99, 3), namespace="n0")
    index.flush()
    assert new in _packs(tmp_path)
    client.close()


def test_pack_more_than_half_alive_is_kept(tmp_path: Path) -> None:
    client, index = _open(tmp_path, create=True)
    model = _fill(index, 8, 20)
    (old,) = _packs(tmp_path)
    for k in range(3):  # 5 of 8 namespaces left: above the threshold
        index.delete(delete_all=True, namespace=f"n{k}")
        model = {key: v for key, v in model.items() if key[0] != f"n{k}"}
    index.flush()
    assert list(_packs(tmp_path)) == [old]
    assert _contents(index) == model
    client.close()


def test_failed_repack_loses_nothing_and_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client, index = _open(tmp_path, create=True)
    model = _fill(index, 40, 20)
    (old,) = _packs(tmp_path)
    _thin(index, model, 40)
    real = packing.write_pack

    def disk_error(*args: Any, **kwargs: Any) -> Path:
        raise OSError(5, "injected I/O error writing a pack")

    monkeypatch.setattr(packing, "write_pack", disk_error)
    with pytest.raises(OSError, match="injected"):
        index._svc.store.checkpoint()
    assert list(_packs(tmp_path)) == [old]  # nothing committed, nothing removed
    assert _contents(index) == model
    monkeypatch.setattr(packing, "write_pack", real)
    client.close()  # the deletes and drops are in the WAL only

    client, index = _open(tmp_path)
    assert _contents(index) == model
    index.flush()
    assert old not in _packs(tmp_path)
    assert _contents(index) == model
    client.close()
    client, index = _open(tmp_path)
    assert _contents(index) == model
    client.close()


def test_packs_are_looked_at_only_after_they_may_have_shrunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scan for mostly-empty packs reads every namespace (30 ms at 100,000 of them), so a
    checkpoint runs it only after a drop, a delete or an overwrite in a pack, or a compaction or fold
    that took blocks out of one."""
    scans: list[int] = []
    real = packing.namespaces_to_repack

    def counted(*args: Any, **kwargs: Any) -> tuple[list[str], bool]:
        scans.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(packing, "namespaces_to_repack", counted)
    client, index = _open(tmp_path, create=True)
    _fill(index, 8, 20)
    store = index._svc.store
    assert not store.table.packs_shrunk
    scans.clear()
    for k in range(8, 16):  # new namespaces only: no pack lost a row
        index.upsert(vectors=_records(k, 20), namespace=f"n{k}")
    index.flush()
    assert scans == []
    index.delete(ids=["3-0"], namespace="n3")  # a row dies in a pack
    index.flush()
    assert scans == [1]
    index.delete(delete_all=True, namespace="n9")  # a namespace goes
    index.flush()
    assert scans == [1, 1]
    client.close()


def test_namespaces_folded_out_of_a_pack_leave_it_rewritten_in_the_same_checkpoint(tmp_path: Path) -> None:
    """New rows in most namespaces of a pack fold each of them into the checkpoint's new pack; the
    few left behind must not keep the old pack on disk (nothing was dropped or deleted)."""
    client, index = _open(tmp_path, create=True)
    model = _fill(index, 8, 20)
    (old,) = _packs(tmp_path)
    for k in range(6):
        extra = [{**r, "id": f"{k}-new-{i}"} for i, r in enumerate(_records(k, 3))]
        index.upsert(vectors=extra, namespace=f"n{k}")
        model.update({(f"n{k}", r["id"]): (tuple(r["values"]), r["metadata"]) for r in extra})
    index.flush()
    assert old not in _packs(tmp_path), "two namespaces kept a mostly-folded pack on disk"
    assert len(_packs(tmp_path)) == 1
    assert _contents(index) == model
    client.close()
    client, index = _open(tmp_path)
    assert _contents(index) == model
    client.close()

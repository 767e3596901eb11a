"""A checkpoint of many small namespaces makes its segments durable with one syncfs, not an fsync per
file: the fsync count is the regression guard (2,000 namespaces took 430 s to flush at 10 fsyncs each)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

import spruce
from spruce.config import EngineConfig
from spruce.engine import fsutil

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="syncfs(2) is Linux-only")


class FsyncCounter:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = os.fsync

        def counting(fd: int) -> None:
            self.calls += 1
            real(fd)

        monkeypatch.setattr(os, "fsync", counting)


@linux_only
def test_fsyncs_inside_the_block_are_deferred_and_resume_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = FsyncCounter(monkeypatch)
    with fsutil.one_sync_for(tmp_path):
        for i in range(5):
            with open(tmp_path / f"f{i}", "wb") as f:
                f.write(b"x" * 100)
                fsutil.fsync_file(f)
            fsutil.fsync_dir(tmp_path)
        assert counter.calls == 0
    with open(tmp_path / "after", "wb") as f:
        fsutil.fsync_file(f)
    assert counter.calls == 1
    assert (tmp_path / "f4").read_bytes() == b"x" * 100


@linux_only
def test_a_failing_block_does_not_leave_fsyncs_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = FsyncCounter(monkeypatch)
    with pytest.raises(RuntimeError), fsutil.one_sync_for(tmp_path):
        raise RuntimeError("write failed")
    with open(tmp_path / "f", "wb") as f:
        fsutil.fsync_file(f)
    assert counter.calls == 1


def test_syncfs_of_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OSError), fsutil.one_sync_for(tmp_path / "missing"):
        pass


@linux_only
def test_checkpoint_of_many_namespaces_uses_few_fsyncs_and_reopens_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(0)
    data: dict[str, dict[str, list[float]]] = {}
    db = spruce.Client(path=tmp_path / "db", config=EngineConfig(ingest_quiet_ms=0))
    db.create_index(name="t", dimension=8, metric="cosine")
    ix = db.Index("t")
    for t in range(40):
        ns = f"tenant-{t}"
        recs = {f"{t}-{i}": rng.standard_normal(8).astype(np.float32).tolist() for i in range(5)}
        ix.upsert(vectors=list(recs.items()), namespace=ns)
        data[ns] = recs
    counter = FsyncCounter(monkeypatch)
    ix._svc.store.checkpoint()
    # Before: ten per segment (six files, segment.json, two directories, the bitmap-free rest), 400 here.
    assert counter.calls < 40, counter.calls
    db.close()
    monkeypatch.undo()

    db = spruce.Client(path=tmp_path / "db")
    ix = db.Index("t")
    # Small namespaces reopen dormant (engine/dormant.py): counted from their pack, built when named.
    assert sum(ix._svc.store.namespace_counts().values()) == 200
    for ns, recs in data.items():
        got = ix.fetch(ids=list(recs), namespace=ns).vectors
        assert {k: np.asarray(v.values, dtype=np.float32).tolist() for k, v in got.items()} == recs
    db.close()

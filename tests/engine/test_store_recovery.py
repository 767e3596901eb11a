"""Recovery through the engine and the embedded client: the issue's repro (kill -9, flipped byte in the
WAL), damaged segments and manifests, old format versions, and `spruce check` / `spruce repair`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import orjson
import pytest
from click.testing import CliRunner

import spruce
from spruce.cli import main as cli
from spruce.config import EngineConfig
from spruce.errors import CorruptionError, IndexFailedError

DIM = 4
BATCH = 10
SRC = Path(__file__).resolve().parents[2] / "src"

WRITER = textwrap.dedent(
    """
    import sys, numpy as np, spruce
    from spruce.config import EngineConfig
    db = spruce.Client(path=sys.argv[1], config=EngineConfig(memtable_max_rows=100_000))
    db.create_index("hit", dimension=4, metric="euclidean")
    db.create_index("other", dimension=4, metric="euclidean")
    db.Index("other").upsert(vectors=[("o1", [1.0, 2.0, 3.0, 4.0])])
    index = db.Index("hit")
    for b in range(60):
        index.upsert(vectors=[(f"b{b}-{j}", [float(b), float(j), 1.0, 2.0], {"b": b}) for j in range(10)])
    print("ACKED", flush=True)
    sys.stdin.read()  # wait to be killed
    """
)


def values(b: int, j: int) -> list[float]:
    return [float(b), float(j), 1.0, 2.0]


def write_60_batches_and_kill(data: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(SRC))
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == b"ACKED", line
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def flip_quarter(data: Path) -> Path:
    wal = sorted((data / "indexes" / "hit" / "wal").glob("wal-*.log"))[-1]
    raw = bytearray(wal.read_bytes())
    raw[len(raw) // 4] ^= 0x10
    wal.write_bytes(bytes(raw))
    return wal


def batches_served(index: spruce.Index) -> set[int]:
    got = index.fetch(ids=[f"b{b}-{j}" for b in range(60) for j in range(BATCH)]).vectors
    out = set()
    for b in range(60):
        ids = [f"b{b}-{j}" for j in range(BATCH)]
        if all(i in got for i in ids):
            for j, i in enumerate(ids):
                assert list(got[i].values) == values(b, j)
            out.add(b)
        else:
            assert not any(i in got for i in ids), f"batch {b} partially served"
    return out


def test_issue_repro_flip_at_a_quarter_of_the_wal(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_60_batches_and_kill(data)
    wal = flip_quarter(data)

    # Default policy: the damaged index refuses to open with the exact report; the other one serves.
    with spruce.Client(path=data) as db:
        with pytest.raises(IndexFailedError) as info:
            db.Index("hit")
        assert isinstance(info.value, CorruptionError)
        message = str(info.value)
        assert "1 acknowledged frame(s) unreadable" in message and wal.name in message
        health = db.catalog.health("hit")
        assert (health.ready, health.state) == (False, "InitializationFailed")
        assert db.Index("other").fetch(ids=["o1"]).vectors["o1"].values == [1.0, 2.0, 3.0, 4.0]
        with pytest.raises(IndexFailedError):
            db.Index("hit")  # stays failed, without rescanning

    result = CliRunner().invoke(cli, ["check", str(data)])
    assert result.exit_code == 1, result.output
    assert "index hit: 1 error(s)" in result.output and "(1) lost" in result.output
    assert "index other: OK" in result.output

    # Opt-in skip: every intact batch is back, exactly one is lost, and the loss is on record.
    with spruce.Client(path=data, config=EngineConfig(wal_recovery="skip-corrupted")) as db:
        served = batches_served(db.Index("hit"))
        assert len(served) == 59
        health = db.catalog.health("hit")
        assert health.ready and health.lost_frames == 1 and "skip-corrupted" in (health.reason or "")
    assert list(wal.parent.glob("*.corrupt-*"))
    log = orjson.loads((data / "indexes" / "hit" / "recovery.json").read_bytes())
    assert log["events"][0]["lost_frames"] == 1

    # Checkpointed at that open: the default policy opens it again, with the same records.
    with spruce.Client(path=data) as db:
        assert batches_served(db.Index("hit")) == served
    result = CliRunner().invoke(cli, ["check", str(data)])
    assert result.exit_code == 0, result.output
    assert "lost 1 WAL frame(s)" in result.output  # the history stays visible


def test_repair_command_recovers_the_intact_batches(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_60_batches_and_kill(data)
    flip_quarter(data)
    result = CliRunner().invoke(cli, ["repair", str(data)])
    assert result.exit_code == 0, result.output
    assert "LOST" in result.output and "(1) lost" in result.output
    assert "index other: OK, nothing to repair" in result.output
    with spruce.Client(path=data) as db:
        assert len(batches_served(db.Index("hit"))) == 59


def checkpointed(data: Path) -> None:
    config = EngineConfig(background=False, ann_min_rows=10_000)
    with spruce.Client(path=data, config=config) as db:
        db.create_index("seg", dimension=DIM, metric="euclidean")
        db.create_index("fine", dimension=DIM, metric="euclidean")
        index = db.Index("seg")
        for part in range(2):
            index.upsert(vectors=[(f"p{part}-{i}", [float(part), float(i), 0.0, 1.0]) for i in range(20)])
            index.flush(optimize=False)  # one segment per part
        index.delete(ids=["p0-3"])
        index.flush(optimize=False)  # a newer alive bitmap
        db.Index("fine").upsert(vectors=[("f", [1.0, 1.0, 1.0, 1.0])])


def segment_dirs(data: Path, name: str = "seg") -> list[Path]:
    return sorted(p for p in (data / "indexes" / name / "segments").iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("target", ["vectors.npy", "rows.arrow", "alive", "segment.json"])
def test_damaged_segment_is_detected_never_served(tmp_path: Path, target: str) -> None:
    data = tmp_path / "data"
    checkpointed(data)
    seg = segment_dirs(data)[0]
    path = next(seg.glob("alive-*.npy")) if target == "alive" else seg / target
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x01
    path.write_bytes(bytes(raw))
    with spruce.Client(path=data) as db:
        with pytest.raises(IndexFailedError, match="segment"):
            db.Index("seg")
        assert db.Index("fine").fetch(ids=["f"]).vectors["f"].values == [1.0, 1.0, 1.0, 1.0]
    result = CliRunner().invoke(cli, ["check", str(data)])
    assert result.exit_code == 1 and str(seg) in result.output
    result = CliRunner().invoke(cli, ["repair", str(data)])
    assert result.exit_code == 0, result.output
    assert "LOST segment" in result.output and "20 rows" in result.output
    with spruce.Client(path=data) as db:
        got = db.Index("seg").fetch(ids=[f"p{p}-{i}" for p in range(2) for i in range(20)]).vectors
        # One segment's rows are gone (reported); the other's are served, right.
        parts = {k.split("-")[0] for k in got}
        assert len(parts) == 1 and len(got) in (19, 20)
        for k, v in got.items():
            assert list(v.values)[1] == float(k.split("-")[1])


def test_damaged_manifest_is_detected(tmp_path: Path) -> None:
    data = tmp_path / "data"
    checkpointed(data)
    manifest = data / "indexes" / "seg" / "manifest.json"
    doc = orjson.loads(manifest.read_bytes())
    doc["checkpoint_lsn"] += 1  # still valid JSON: only the checksum catches it
    manifest.write_bytes(orjson.dumps(doc))
    with spruce.Client(path=data) as db:
        with pytest.raises(IndexFailedError, match="checksum mismatch"):
            db.Index("seg")
        db.Index("fine").fetch(ids=["f"])
    result = CliRunner().invoke(cli, ["check", str(data)])
    assert result.exit_code == 1 and "manifest.json" in result.output


def test_version_1_manifest_and_segments_are_still_read(tmp_path: Path) -> None:
    data = tmp_path / "data"
    checkpointed(data)
    root = data / "indexes" / "seg"
    manifest = orjson.loads((root / "manifest.json").read_bytes())
    for entry in manifest["namespaces"].values():
        for seg in entry["segments"]:
            seg_dir = root / "segments" / f"{seg[0]:012d}"
            info = orjson.loads((seg_dir / "segment.json").read_bytes())
            info.pop("checksum")
            info["version"] = 1
            info["crc32"] = {k: v for k, v in info["crc32"].items() if k not in ("vectors.npy", "norms.npy")}
            (seg_dir / "segment.json").write_bytes(orjson.dumps(info))
            if seg[1] is not None:
                old = f"alive-{seg[1].split('-')[1]}.npy"
                os.replace(seg_dir / seg[1], seg_dir / old)
                seg[1] = old
    manifest.pop("checksum")
    manifest["version"] = 1
    (root / "manifest.json").write_bytes(orjson.dumps(manifest))
    with spruce.Client(path=data) as db:
        got = db.Index("seg").fetch(ids=[f"p{p}-{i}" for p in range(2) for i in range(20)]).vectors
        assert len(got) == 39 and "p0-3" not in got
        assert np.allclose(got["p1-7"].values, [1.0, 7.0, 0.0, 1.0])


def test_embedded_describe_reports_a_failed_index(tmp_path: Path) -> None:
    data = tmp_path / "data"
    checkpointed(data)
    manifest = data / "indexes" / "seg" / "manifest.json"
    manifest.write_bytes(manifest.read_bytes()[:-5])  # cut: no longer JSON
    with spruce.Client(path=data) as db:
        status = db.describe_index("seg").status
        assert (status.ready, status.state) == (False, "InitializationFailed")
        assert "manifest.json" in status.reason
        listed = {m.name: m.status.ready for m in db.list_indexes()}
        assert listed == {"seg": False, "fine": True}


@pytest.mark.parametrize("damage", ["flip", "no-checksum"])
def test_damaged_graph_is_rebuilt_not_loaded(tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    config = EngineConfig(background=False, ann_min_rows=200)
    vectors = np.random.default_rng(3).standard_normal((300, DIM)).astype(np.float32)
    with spruce.Client(path=data, config=config) as db:
        db.create_index("g", dimension=DIM, metric="euclidean")
        db.Index("g").upsert(vectors=[(f"v{i}", vectors[i]) for i in range(300)])
        db.Index("g").flush(optimize=False)
    (seg,) = segment_dirs(data, "g")
    graph = seg / "hnsw.faiss"
    if damage == "flip":
        raw = bytearray(graph.read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        graph.write_bytes(bytes(raw))
    else:
        (seg / "hnsw.crc").unlink()  # as if the process died between the graph and its checksum
    before = graph.read_bytes()
    with spruce.Client(path=data, config=config) as db:
        index = db.Index("g")
        assert index._svc.store.namespaces[""].sealed[0].ann is not None  # rebuilt at open
        for i in range(0, 300, 37):
            assert index.query(vector=vectors[i], top_k=1).matches[0].id == f"v{i}"
    assert (seg / "hnsw.crc").exists()  # the rebuilt graph is saved with its checksum
    if damage == "flip":
        assert graph.read_bytes() != before

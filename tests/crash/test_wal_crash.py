"""kill -9 a process that is appending to a WAL; every acknowledged frame must survive intact."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from wal_writer_proc import decode_payload, expected_payload

from spruce.engine.wal import Wal

HELPER = Path(__file__).with_name("wal_writer_proc.py")
SRC = Path(__file__).resolve().parents[2] / "src"


def run_until_killed(wal_dir: Path, round_no: int, threads: int, delay: float) -> list[tuple[int, ...]]:
    """Start the writer, SIGKILL it `delay` seconds after it is ready; return acknowledged lines."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    proc = subprocess.Popen(
        [sys.executable, str(HELPER), str(wal_dir), str(round_no), str(threads), str(round_no)],
        stdout=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    acked: list[tuple[int, ...]] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if not raw.endswith(b"\n"):
                break  # cut mid-line by the kill: not a complete acknowledgement
            fields = raw.split()
            if fields[0] == b"READY":
                ready.set()
            else:
                acked.append(tuple(int(f) for f in fields))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert ready.wait(10), "writer did not start"
        time.sleep(delay)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        reader.join(10)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, "writer exited before it was killed"
    return acked


def check(wal_dir: Path, acked: list[tuple[int, ...]]) -> int:
    """Every acknowledged frame is present and intact, LSNs run 1..n; return the frame count."""
    wal, _ = Wal.open(wal_dir)
    try:
        frames = dict(wal.replay())
        assert sorted(frames) == list(range(1, wal.next_lsn))
    finally:
        wal.close()
    for lsn, writer, seq, size in acked:
        assert lsn in frames, f"acknowledged LSN {lsn} lost"
        assert frames[lsn] == expected_payload(writer, seq, size), f"LSN {lsn} payload damaged"
    for payload in frames.values():  # unacknowledged survivors must be whole too
        assert payload == expected_payload(*decode_payload(payload))
    return len(frames)


@pytest.mark.crash
def test_acknowledged_frames_survive_sigkill(tmp_path: Path) -> None:
    seed = int.from_bytes(os.urandom(4), "little")
    print(f"kill-delay seed {seed}")  # shown with a failure, to replay the same kill schedule
    rng = random.Random(seed)
    wal_dir = tmp_path / "wal"
    all_acked: list[tuple[int, ...]] = []
    for round_no in range(6):
        threads = 1 if round_no % 2 == 0 else 3
        acked = run_until_killed(wal_dir, round_no, threads, rng.uniform(0.05, 0.5))
        all_acked.extend(acked)
        # Reopening here also recovers the torn tail before the next writer opens the WAL.
        n = check(wal_dir, all_acked)
        assert n >= len(all_acked)
    assert len({lsn for lsn, *_ in all_acked}) == len(all_acked)
    assert all_acked, "no append was acknowledged in any round"
    quarantined = len(list(wal_dir.glob("*.torn-*")))
    print(f"{len(all_acked)} acknowledged frames, {n} recovered, {quarantined} torn tails quarantined")

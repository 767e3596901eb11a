"""Long embedded calls show progress on a terminal and print nothing otherwise."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

import spruce

SCRIPT = """
import sys, numpy as np, spruce
db = spruce.Client(sys.argv[1])
db.create_index(name="p", dimension=8)
ix = db.Index("p")
rng = np.random.default_rng(0)
vecs = [(f"v{i}", rng.standard_normal(8).tolist()) for i in range(3000)]
ix.upsert(vectors=vecs, batch_size=500, show_progress=True)
ix.flush()
db.close()
print("DONE")
"""


def test_quiet_off_a_terminal(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    with spruce.Client(tmp_path / "d") as db:
        db.create_index(name="p", dimension=2)
        ix = db.Index("p")
        ix.upsert(vectors=[(f"v{i}", [float(i), 1.0]) for i in range(50)], batch_size=10, show_progress=True)
        ix.flush()
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_bar_and_spinner_on_a_terminal(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(tmp_path / "d")], stdout=follower, stderr=follower, env=env
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=240) == 0
    os.close(leader)
    text = b"".join(chunks).decode(errors="replace")
    assert "DONE" in text
    assert "upsert p" in text and "3000/3000" in text
    assert "flush p" in text and "done" in text

"""Nothing downloads at run time: every model runs in a fresh process with the network cut off and an
empty home and cache, and nothing is written there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SCRIPT = r"""
import socket

def refuse(*args, **kwargs):
    raise RuntimeError("network access attempted")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse

from spruce.service.inference import get_registry

r = get_registry()
names = ["all-MiniLM-L6-v2", "multilingual-e5-large", "llama-text-embed-v2", "pinecone-sparse-english-v0"]
for name in names:
    out = r.embed(name, ["offline check"], input_type="query")
    assert len(out) == 1
res = r.rerank("bge-reranker-v2-m3", "capital of France", ["Paris is in France", "Bread"])
assert res.ranked[0][0] == 0
print("offline ok", r.loaded())
"""


def test_models_run_offline_with_empty_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SPRUCE_", "HF_", "XDG_"))}
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        HF_HOME=str(home / "hf"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
    )
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    assert proc.returncode == 0, proc.stderr
    assert "offline ok" in proc.stdout
    assert list(home.iterdir()) == []

"""Runs a list of collection operations on chromadb (in its own venv) and prints the results as JSON.

stdin: {"metric": "cosine" | "l2" | "ip", "ops": [{"op": name, "args": {...}}, ...]}
stdout: [{"ok": result} | {"error": class name}, ...], numpy turned into lists.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import chromadb
import numpy as np


def plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def main() -> None:
    spec = json.load(sys.stdin)
    client = chromadb.EphemeralClient()
    col = client.create_collection(
        "diff", configuration={"hnsw": {"space": spec["metric"]}}, embedding_function=None
    )
    out = []
    for step in spec["ops"]:
        try:
            if step["op"] == "count":
                result: Any = col.count()
            else:
                result = getattr(col, step["op"])(**step["args"])
            out.append({"ok": plain(result)})
        except Exception as exc:  # reported to the test, which decides
            out.append({"error": type(exc).__name__, "message": str(exc)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

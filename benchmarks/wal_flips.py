"""The issue's experiment, repeated: 60 acknowledged batches, kill -9, one flipped byte at a random offset of
the last `wal-*.log`, reopen. Before the fix a flip dropped every batch after it; now the default policy
refuses to open the index (naming what is damaged) and skip-corrupted serves every intact batch.

    python benchmarks/wal_flips.py [--trials 20] [--seed 1]

Prints per trial where the flip landed and what each policy did, then the totals: intact batches
recovered (must be all), batches lost (must be exactly those the flip hit), wrong or partial batches (0).
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import spruce
from spruce.config import EngineConfig
from spruce.engine.wal_format import FILE_HEADER_SIZE, FRAME_HEADER, FRAME_HEADER_SIZE
from spruce.errors import IndexFailedError

BATCHES, SIZE = 60, 10
WRITER = textwrap.dedent(
    """
    import sys, spruce
    from spruce.config import EngineConfig
    db = spruce.Client(path=sys.argv[1], config=EngineConfig(memtable_max_rows=100_000))
    db.create_index("hit", dimension=4, metric="euclidean")
    index = db.Index("hit")
    for b in range(60):
        index.upsert(vectors=[(f"b{b}-{j}", [float(b), float(j), 1.0, 2.0]) for j in range(10)])
    print("ACKED", flush=True)
    sys.stdin.read()
    """
)


def write_and_kill(data: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ACKED"
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def served(data: Path) -> tuple[set[int], int]:
    """Batches fully served with the right values, and the count of wrong or partial ones."""
    config = EngineConfig(wal_recovery="skip-corrupted")
    with spruce.Client(path=data, config=config) as db:
        ids = [f"b{b}-{j}" for b in range(BATCHES) for j in range(SIZE)]
        got = db.Index("hit").fetch(ids=ids).vectors
    ok, bad = set(), 0
    for b in range(BATCHES):
        rows = [got.get(f"b{b}-{j}") for j in range(SIZE)]
        if all(
            r is not None and list(r.values) == [float(b), float(j), 1.0, 2.0] for j, r in enumerate(rows)
        ):
            ok.add(b)
        elif any(r is not None for r in rows):
            bad += 1
    return ok, bad


def frame_starts(wal: Path) -> list[int]:
    raw = wal.read_bytes()
    starts, off = [], FILE_HEADER_SIZE
    while off < len(raw):
        starts.append(off)
        length, _, _ = FRAME_HEADER.unpack_from(raw, off)
        off += FRAME_HEADER_SIZE + length
    return starts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    logging.disable(logging.CRITICAL)  # each trial logs its damage at ERROR; the table says it all
    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="spruce-flips-"))
    base = tmp / "base"
    write_and_kill(base)
    wal = sorted((base / "indexes" / "hit" / "wal").glob("wal-*.log"))[-1]
    size = wal.stat().st_size
    starts = frame_starts(wal)
    assert len(starts) == BATCHES, "expected one WAL frame per batch"
    totals = {"refused": 0, "recovered": 0, "intact": 0, "lost": 0, "hit": 0, "bad": 0}
    try:
        for trial in range(args.trials):
            data = tmp / f"t{trial}"
            shutil.copytree(base, data)
            target = data / wal.relative_to(base)
            offset = rng.randrange(FILE_HEADER_SIZE, size)
            raw = bytearray(target.read_bytes())
            raw[offset] ^= 1 << rng.randrange(8)
            target.write_bytes(bytes(raw))
            hit = max(i for i, start in enumerate(starts) if start <= offset)
            try:
                with spruce.Client(path=data) as db:
                    db.Index("hit")
                refused = False
            except IndexFailedError:
                refused = True
            ok, bad = served(data)
            intact = BATCHES - 1
            torn = hit == BATCHES - 1  # the last frame: nothing after it, a torn tail
            totals["refused"] += refused
            totals["recovered"] += len(ok - {hit})
            totals["intact"] += intact
            totals["lost"] += BATCHES - len(ok)
            totals["hit"] += 1
            totals["bad"] += bad
            print(
                f"trial {trial:2d}: byte {offset:6d} (batch {hit:2d}{', torn tail' if torn else ''}): "
                f"default {'refused' if refused else 'opened'}, skip-corrupted served {len(ok)}/{BATCHES}",
                flush=True,
            )
            shutil.rmtree(data)
        print()
        print(
            f"default policy refused {totals['refused']}/{args.trials} damaged WALs (the others: torn tails)"
        )
        print(
            f"skip-corrupted: {totals['recovered']}/{totals['intact']} intact batches served, "
            f"{totals['lost']} lost for {totals['hit']} flipped frames, {totals['bad']} wrong or partial"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.sync()


if __name__ == "__main__":
    main()

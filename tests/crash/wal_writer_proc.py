"""Subprocess for test_wal_crash: appends frames until killed, printing each acknowledged one.

    python wal_writer_proc.py <wal_dir> <round> <threads> <seed>

Prints "READY <next_lsn>" once the WAL is open, then "<lsn> <writer> <seq> <size>" for every append
that has returned (and so must survive a crash).  Writer ids are unique per round (round * 100 + t),
so a payload can be recomputed from its line alone.
"""

from __future__ import annotations

import hashlib
import random
import struct
import sys
import threading
from pathlib import Path

from spruce.engine.wal import Wal

PAYLOAD_HEAD = struct.Struct("<4sIIQ")
TAG = b"CRSH"


def expected_payload(writer: int, seq: int, size: int) -> bytes:
    """A payload that names its writer, sequence number and size, followed by a derived pattern."""
    head = PAYLOAD_HEAD.pack(TAG, writer, seq, size)
    block = hashlib.sha256(head).digest()
    body_len = max(0, size - len(head))
    return head + (block * (body_len // len(block) + 1))[:body_len]


def decode_payload(payload: bytes) -> tuple[int, int, int]:
    tag, writer, seq, size = PAYLOAD_HEAD.unpack_from(payload)
    assert tag == TAG, payload[:16]
    return writer, seq, size


def pick_size(rng: random.Random) -> int:
    if rng.random() < 0.1:
        return rng.randint(700_000, 1_200_000)
    return rng.randint(PAYLOAD_HEAD.size, 8_000)


def main() -> None:
    wal_dir, round_no, threads, seed = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    wal, report = Wal.open(wal_dir)
    out_lock = threading.Lock()

    def emit(line: str) -> None:
        with out_lock:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    emit(f"READY {report.next_lsn}")

    def writer(t: int) -> None:
        rng = random.Random(seed * 1000 + t)
        wid = round_no * 100 + t
        seq = 0
        while True:
            size = pick_size(rng)
            lsn = wal.append(expected_payload(wid, seq, size))
            emit(f"{lsn} {wid} {seq} {size}")
            seq += 1
            if t == 0 and seq % 40 == 0:
                wal.rotate()  # so some kills land in or near a rotation

    workers = [threading.Thread(target=writer, args=(t,), daemon=True) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()

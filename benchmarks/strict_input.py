"""What strict input costs the REST decoders: repeated-key and control-character checks on every object,
the boolean check on float arrays.

    python benchmarks/strict_input.py [--rounds 30]

Baseline, measured in the same run on the same bodies: the same decoders with the checks switched off
(`strict_json.keys` reduced to listing the keys, `strict_json.check` / `check_body` to nothing, and
`rest.floats` as it was, scanning only integer arrays for booleans). The upsert fast path's own inline
checks (key listing, `isprintable`, lengths) stay on in both, so its ratio understates their cost a
little. Bodies:
  * upsert: 1,000 x 768-d records with 4 metadata fields (~16 MB, the simdjson fast path);
  * upsert-sparse: 1,000 records with 64-nnz sparse values and metadata (fast path, metadata/sparse
    walked by the check);
  * query: one 768-d query with a filter (~15 KB, the general orjson path plus the check's parse).
Prints the median time per decode with and without the checks and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import orjson

from spruce.errors import InvalidArgumentError
from spruce.wire import rest, strict_json, upsert_json


def bodies() -> dict[str, tuple[bytes, Callable[[bytes], object]]]:
    rng = np.random.default_rng(7)
    dense = {
        "vectors": [
            {
                "id": f"id-{i}",
                "values": rng.standard_normal(768).astype(np.float32).tolist(),
                "metadata": {"genre": "drama", "year": 2000 + i % 20, "ok": True, "tags": ["a", "b"]},
            }
            for i in range(1000)
        ],
        "namespace": "bench",
    }
    sparse = {
        "vectors": [
            {
                "id": f"s-{i}",
                "sparseValues": {
                    "indices": sorted(rng.choice(30_000, 64, replace=False).tolist()),
                    "values": rng.random(64).tolist(),
                },
                "metadata": {"genre": "drama", "year": 2000 + i % 20},
            }
            for i in range(1000)
        ]
    }
    query = {
        "topK": 10,
        "vector": rng.standard_normal(768).astype(np.float32).tolist(),
        "namespace": "bench",
        "filter": {"genre": {"$eq": "drama"}, "year": {"$gte": 2005}},
        "includeMetadata": True,
    }
    return {
        "upsert": (orjson.dumps(dense), upsert_json.upsert_request),
        "upsert-sparse": (orjson.dumps(sparse), upsert_json.upsert_request),
        "query": (orjson.dumps(query), lambda b: rest.query_request(rest.loads(b))),
    }


@contextmanager
def checks_off() -> Iterator[None]:
    saved = (strict_json.keys, strict_json.check, strict_json.check_body, rest.floats)

    def floats_unchecked(value: object, field: str) -> Any:
        # `rest.floats` as it was before the boolean check covered float arrays.
        if not isinstance(value, list):
            raise InvalidArgumentError(f"{field} must be an array of numbers")
        arr = np.asarray(value)
        if arr.size == 0:
            return np.zeros(0, dtype=np.float32)
        if arr.ndim != 1 or arr.dtype.kind not in "iuf":
            raise InvalidArgumentError(f"{field} must be an array of numbers")
        if arr.dtype.kind in "iu" and any(type(x) is bool for x in value):
            raise InvalidArgumentError(f"{field} must be an array of numbers, not booleans")
        with np.errstate(over="ignore"):
            out = arr.astype(np.float32)
        if not np.isfinite(out).all():
            raise InvalidArgumentError(f"{field} must hold finite numbers")
        return out

    strict_json.keys = lambda obj, where: list(obj.keys())  # type: ignore[assignment]
    strict_json.check = lambda value, where: None  # type: ignore[assignment]
    strict_json.check_body = lambda body: None  # type: ignore[assignment]
    rest.floats = floats_unchecked  # type: ignore[assignment]
    try:
        yield
    finally:
        strict_json.keys, strict_json.check, strict_json.check_body, rest.floats = saved  # type: ignore[assignment]


def median_ms(fn: Callable[[bytes], object], body: bytes, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn(body)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    print(f"{'body':<14} {'bytes':>10} {'strict ms':>10} {'baseline ms':>12} {'ratio':>7}")
    for name, (body, decode) in bodies().items():
        rounds = args.rounds if len(body) > 100_000 else args.rounds * 100
        decode(body)  # warm up (parser allocation, imports)
        strict: list[float] = []
        base: list[float] = []
        for _ in range(5):  # interleaved, so background load hits both alike
            strict.append(median_ms(decode, body, rounds // 5 or 1))
            with checks_off():
                base.append(median_ms(decode, body, rounds // 5 or 1))
        s, b = statistics.median(strict), statistics.median(base)
        print(f"{name:<14} {len(body):>10} {s:>10.3f} {b:>12.3f} {s / b:>7.3f}")


if __name__ == "__main__":
    main()

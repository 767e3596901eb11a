"""Self-calibrated search width: each HNSW graph learns the efSearch its own data needs.

One global efSearch cannot be right for every segment: synthetic clusters reach recall@10 0.99 at
ef 48 where real GloVe vectors need 128-384, and a segment of 5k rows needs less than one of 400k. So
each graph is measured on its own data while it is built:

- a random sample of the segment's rows is held out: the graph is built over the others first, and the
  held-out rows are the queries, so they are new points of the data's own distribution (querying with
  rows that are in the graph flatters it 3-4x, since their links lead straight to their neighbours;
  moving rows off by a random offset misjudged by 3-4x either way, depending on the data set; the last
  rows misjudge data inserted in sorted order: graph_order.py). Then they are added;
- the ground truth is a brute-force scan over every row in the graph at that point;
- the smallest efSearch on a ladder whose mean recall@k reaches the target (by two standard errors of
  the measurement, so a lucky sample cannot pick too narrow a beam) is kept, for k = 10 and k = 100,
  so the planner can scale it with the requested top_k.

The figures are stored beside the graph (`hnsw.calib.json`: format name, version, CRC-32) and
reported by describe_index_stats.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from spruce.types import FloatArray, IntArray

CALIBRATION_FORMAT = "spruce-ef-calibration"
CALIBRATION_VERSION = 1
# Steps of 1.08-1.2x. Steps of 1.33-1.5x gave a graph whose data needed ef 40 (100k x 768 clusters)
# 48 or 64, and GloVe's 192 got 256 (stop 21); at 1.14-1.33x a sample whose 40 fell just short of
# the margin still paid 48, 15-20% of the q/s (stop 22). A finer step costs one more probe of the
# bisection (a batch of searches) per k.
EF_LADDER: tuple[int, ...] = (
    *(10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 32, 36, 40, 44, 48, 52, 56, 64, 72, 80, 88, 96),
    *(104, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 448, 512),
    *(576, 640, 704, 768, 896, 1024, 1152, 1280, 1536, 1792, 2048),
)
CALIBRATION_KS: tuple[int, ...] = (10, 100)
# Measured too when a k of CALIBRATION_KS misses the target and the one below reaches it.
INTERMEDIATE_KS: tuple[int, ...] = (20, 50)
HELD_OUT_QUERIES = 2_000
_NEIGHBOURS_MEASURED = 20_000
_FIRST_LOOK_NEIGHBOURS = 5_000  # the sample of earlier versions: 500 queries at k=10, 50 at k=100

# (queries, k, ef) -> rows (q, k), -1 where fewer were found
BatchSearch = Callable[[FloatArray, int, int], IntArray]
# (queries, k) -> the k best rows of the graph per query by brute force, best first (queries arrive
# normalised for cosine)
ExactSearch = Callable[[FloatArray, int], IntArray]


@dataclass(frozen=True, slots=True)
class Calibration:
    """The smallest efSearch reaching `target_recall` at each k, with the recall it measured."""

    target_recall: float
    ks: tuple[int, ...]
    efs: tuple[int, ...]
    recalls: tuple[float, ...]
    queries: int
    rows: int

    def ef_for(self, top_k: int) -> int:
        """efSearch for a query of `top_k`: interpolated (log-log) between the measured ks, and
        scaled in proportion beyond the largest one."""
        ks, efs = self.ks, self.efs
        if top_k <= ks[0]:
            return max(efs[0], top_k)
        for (k0, e0), (k1, e1) in zip(
            zip(ks, efs, strict=True), zip(ks[1:], efs[1:], strict=True), strict=False
        ):
            if top_k <= k1:
                t = (math.log(top_k) - math.log(k0)) / (math.log(k1) - math.log(k0))
                ef = math.exp(math.log(e0) + t * (math.log(e1) - math.log(e0)))
                return max(math.ceil(ef - 1e-6), top_k)
        return max(math.ceil(efs[-1] * top_k / ks[-1]), top_k)

    def reaches(self, top_k: int) -> bool:
        """Whether the graph reached the target at every measured k that bounds `top_k`: a graph that
        cannot (e.g. inner product over vectors of very different norms, where HNSW's greedy walk
        misses large-norm rows) is not to be trusted with that query; scan exactly instead."""
        ok = [r >= self.target_recall for r in self.recalls]
        if top_k <= self.ks[0]:
            return ok[0]
        for i in range(1, len(self.ks)):
            if top_k <= self.ks[i]:
                return ok[i - 1] and ok[i]
        return ok[-1]

    def to_json(self) -> dict[str, object]:
        return {
            "target_recall": self.target_recall,
            "ks": list(self.ks),
            "efs": list(self.efs),
            "recalls": [round(r, 4) for r in self.recalls],
            "queries": self.queries,
            "rows": self.rows,
        }

    def save(self, path: Path) -> None:
        body = orjson.dumps(self.to_json(), option=orjson.OPT_SORT_KEYS)
        doc = {
            "format": CALIBRATION_FORMAT,
            "version": CALIBRATION_VERSION,
            "crc32": zlib.crc32(body),
            "calibration": orjson.loads(body),
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(orjson.dumps(doc))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> Calibration | None:
        """The saved calibration, or None if it is missing, of another format, or damaged (the
        graph is then calibrated again: the file is a cache of a measurement, never data)."""
        try:
            doc = orjson.loads(path.read_bytes())
            if doc.get("format") != CALIBRATION_FORMAT or doc.get("version") != CALIBRATION_VERSION:
                return None
            body = doc["calibration"]
            if zlib.crc32(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)) != doc["crc32"]:
                return None
            return cls(
                target_recall=float(body["target_recall"]),
                ks=tuple(int(k) for k in body["ks"]),
                efs=tuple(int(e) for e in body["efs"]),
                recalls=tuple(float(r) for r in body["recalls"]),
                queries=int(body["queries"]),
                rows=int(body["rows"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def held_out_count(n: int, queries: int = HELD_OUT_QUERIES) -> int:
    """How many of a segment's n rows to hold out as calibration queries (0: too few to measure)."""
    count = min(queries, n // 10)
    return count if count >= 10 else 0


def calibrate(
    n: int,
    queries: FloatArray,
    metric: str,
    search: BatchSearch,
    exact: ExactSearch,
    *,
    target_recall: float = 0.99,
    ks: tuple[int, ...] = CALIBRATION_KS,
    ladder: tuple[int, ...] = EF_LADDER,
    between_steps: Callable[[], None] = lambda: None,
) -> Calibration:
    """Measure the graph behind `search`, which holds `n` rows, with `queries` that are not in it;
    `exact` answers over the same rows by brute force."""
    ks = tuple(k for k in ks if k < n) or (max(1, min(ks[0], n - 1)),)
    q = _normalised(np.asarray(queries, dtype=np.float32), metric)
    between_steps()
    truth = exact(q, max(ks))
    found: dict[int, tuple[int, float]] = {}  # k -> (ef, recall)

    def measure(k: int) -> bool:
        """Calibrate k; whether it reached the target. Recall grows with ef, so the ladder is bisected
        from the ef the largest k measured below it needed."""
        below = [kk for kk in found if kk < k]
        floor = found[max(below)][0] if below else k
        found[k] = _smallest_width(search, q, truth, k, floor, target_recall, ladder, between_steps)
        return found[k][1] >= target_recall

    reached = [k for k in ks if measure(k)]
    # A k that no width reaches (recall@100 on tight clusters, whose 100th neighbours are near-ties)
    # made every top_k above the k below it untrusted: on 100k x 768 clusters top_k 20 was scanned
    # exactly at 36 q/s while top_k 10 ran 1,054 through the graph (stop 24). Measure the ks between
    # the last one reached and the first one missed, so trust ends where the graph's recall does.
    missed = [k for k in ks if k not in reached]
    if reached and missed and min(missed) > max(reached):
        for k in INTERMEDIATE_KS:
            if max(reached) < k < min(missed) and k < n and not measure(k):
                break  # larger ks reach less: nothing more to trust
    ks = tuple(sorted(found))
    efs = [found[k][0] for k in ks]
    recalls = [found[k][1] for k in ks]
    return Calibration(target_recall, ks, tuple(efs), tuple(recalls), len(q), n + len(q))


def _smallest_width(
    search: BatchSearch,
    q: FloatArray,
    truth: IntArray,
    k: int,
    floor: int,
    target_recall: float,
    ladder: tuple[int, ...],
    between_steps: Callable[[], None],
) -> tuple[int, float]:
    """(the smallest rung from `floor` up whose recall@k reaches the target by the margin, the recall
    it measured); the widest rung and its recall when none does."""
    # Recall@k averages over k neighbours per query, so larger k needs fewer queries for the same
    # precision, and its wide searches are the costly part. 2,000 queries at k=10: with 500, the
    # two-standard-error margin alone moved the chosen width one or two rungs up (on GloVe 400k,
    # 20 samples of 500 picked 192-256 where 2,000 picked 192-224 and the need was 160-192).
    used = max(1, min(len(q), -(-_NEIGHBOURS_MEASURED // k)))
    qk, truth_k = q[:used], truth[:used, :k]
    rungs = sorted({k, *(ef for ef in ladder if ef >= max(k, floor))})
    # Gallop up from the narrowest rung, doubling the width, to the first that passes, then bisect
    # between it and the last that missed. The width needed is mostly a few rungs above the floor,
    # and the narrow misses on the way are cheap (rejected on the first look); bisecting the whole
    # ladder from its middle began with ef 128-240 (0.4-0.9 s a probe on 100k x 768, stop 25).
    lo, i = 0, 0  # rungs below lo missed
    last = 0.0  # mean recall of the latest probe
    while True:
        between_steps()
        reached, last = _probe(search, qk, truth_k, k, rungs[i], target_recall)
        if reached:
            break
        lo = i + 1
        if i == len(rungs) - 1:
            # Even the widest rung missed: use it, and say what it reached.
            return rungs[-1], last
        i = next((j for j in range(i + 1, len(rungs)) if rungs[j] >= 2 * rungs[i]), len(rungs) - 1)
    best, hi = (rungs[i], last), i - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        between_steps()
        reached, recall = _probe(search, qk, truth_k, k, rungs[mid], target_recall)
        if reached:
            best, hi = (rungs[mid], recall), mid - 1
        else:
            lo = mid + 1
    return best


def _normalised(vectors: FloatArray, metric: str) -> FloatArray:
    x = np.asarray(vectors, dtype=np.float32)
    if metric != "cosine":
        return x
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(x / norms, dtype=np.float32)


def _probe(
    search: BatchSearch, q: FloatArray, truth: IntArray, k: int, ef: int, target: float
) -> tuple[bool, float]:
    """(whether width `ef` reaches `target` by the margin, its mean recall), looking at the first
    queries first (`_FIRST_LOOK_NEIGHBOURS` neighbours' worth): a width that misses by two standard
    errors of that smaller sample is rejected on them, and any other is searched with every query.
    Where no width reaches the target, every probe misses, and the wide searches that cost most ran a
    quarter of the queries (stop 21: a 100k x 768 graph whose k=10 target was out of reach took 147 s
    of one core with all 2,000 queries, 41 s so; a reachable one 24 s, 16 s so).

    A pass is never decided on the first look: on a 100k x 768 graph the first 500 held-out rows
    measured 0.9974 at width 36, all 2,000 gave 0.9942, and new queries 0.988-0.991 (stop 23); one
    lucky quarter had passed a width by "two standard errors" that the whole sample only just did."""
    first = min(len(q), -(-_FIRST_LOOK_NEIGHBOURS // k))
    head = _recalls(search(q[:first], k, ef), truth[:first])
    mean, margin = float(head.mean()), _margin(head, head.size * k)
    if first == len(q) or mean + margin < target:
        return mean - margin >= target, mean
    per_query = np.concatenate([head, _recalls(search(q[first:], k, ef), truth[first:])])
    return _confidently_reaches(per_query, truth.size, target), float(per_query.mean())


def _margin(per_query: FloatArray, samples: int) -> float:
    """Two standard errors of the mean recall (see `_confidently_reaches`)."""
    n = len(per_query)
    mean = float(per_query.mean())
    spread = float(per_query.std(ddof=1)) if n > 1 else 0.0
    # Never below the binomial error over the `samples` neighbours (the margin used before).
    binomial = math.sqrt(max(mean * (1.0 - mean), 0.0) / max(samples, 1))
    return 2.0 * max(spread / math.sqrt(n), binomial)


def _confidently_reaches(per_query: FloatArray, samples: int, target: float) -> bool:
    """Whether the mean recall clears the target by two standard errors of its own estimate, so that
    a width picked by a lucky sample does not fall short on the queries that follow.

    The standard error is taken over queries, not neighbours: a graph's misses come in clumps (a query
    in a sparse region loses several of its k neighbours at once, most lose none), so treating the
    q * k neighbours as independent trials understated the error ~2-3x on real text embeddings and
    picked a width that reached 0.986-0.989 on the queries that followed, not 0.99 (stop 18). Before
    that, without any margin, a 100k x 768 graph calibrated at 0.990 gave 0.988 on the next queries.
    """
    if len(per_query) == 0:
        return False
    return float(per_query.mean()) - _margin(per_query, samples) >= target


def _recalls(found: IntArray, truth: IntArray) -> FloatArray:
    """Recall@k of each query."""
    out = np.empty(len(truth), dtype=np.float32)
    for i, (got, want) in enumerate(zip(found, truth, strict=True)):
        out[i] = len(np.intersect1d(got[got >= 0], want, assume_unique=True)) / max(len(want), 1)
    return out

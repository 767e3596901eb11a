"""Per-block choice between an exact scan and the block's HNSW graph, by estimated cost.

Both costs are in float multiply-adds. A scan touches every allowed row once (gathered rows pay a
little more than a contiguous mat-vec). A graph search computes about `ef * degree` distances (each
expanded node checks its level-0 neighbours), each paying a fixed overhead on top of `dim` (the visited
set, the heap, the selector check): that overhead is why the crossover in rows grows at low dimensions.
Constants fitted to the measured crossovers (docs/benchmarks.md): ~3k rows at 768-d for ef 48, M 32;
at 50-d, once exact scans ran on faiss' kernels (stop 17), a 20k-row GloVe block scanned in 0.65-0.75
of the time its graph took at the calibrated ef 96 (interleaved, same process, loaded machine), which
puts the crossover there near 28k rows; 120 puts it at 21k (and keeps a 30k x 16 block with ef 48 on
its graph, as test_planner expects).
"""

from __future__ import annotations

from dataclasses import dataclass

_DISTANCE_OVERHEAD = 120  # float-equivalents of bookkeeping per graph distance
_GATHER_OVERHEAD = 16  # float-equivalents per row of gathering a filtered row before scoring


@dataclass(frozen=True, slots=True)
class Plan:
    use_ann: bool
    scan_cost: float
    graph_cost: float


def scan_cost(rows: int, dim: int, gathered: bool) -> float:
    return float(rows) * (dim + (_GATHER_OVERHEAD if gathered else 0))


def graph_cost(ef: int, degree: int, dim: int) -> float:
    return float(ef) * degree * (dim + _DISTANCE_OVERHEAD)


def choose(*, allowed: int, n: int, dim: int, ef: int | None, degree: int, max_scan_rows: int | None) -> Plan:
    """`ef` None: no usable graph. `max_scan_rows`: a configured cap on the rows a filtered query may
    scan (None: no cap); above it the graph is used whatever the estimate."""
    # With most rows allowed the scan is one contiguous mat-vec over all of them (see search.py).
    contiguous = allowed == n or allowed * 4 >= n
    scan = scan_cost(n if contiguous else allowed, dim, gathered=not contiguous)
    if ef is None:
        return Plan(False, scan, float("inf"))
    graph = graph_cost(ef, degree, dim)
    if max_scan_rows is not None and allowed > max_scan_rows:
        return Plan(True, scan, graph)
    return Plan(graph < scan, scan, graph)

"""Renumbering a graph's nodes in place (graph_order.py) against faiss' own `permute_entries`, which
builds new copies: the two must give byte-identical indexes, and the graph must search as before."""

from __future__ import annotations

import faiss
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.engine.ann import AnnIndex, _graph_arrays
from spruce.engine.graph_order import restore_row_order


def _graph(rows: np.ndarray, order: np.ndarray, metric: int) -> faiss.IndexHNSWFlat:
    index = faiss.IndexHNSWFlat(rows.shape[1], 8, metric)
    index.hnsw.efConstruction = 20
    for lo in range(0, len(order), 37):  # several adds, as a chunked build does
        index.add(np.ascontiguousarray(rows[order[lo : lo + 37]]))
    return index


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(2, 400),
    start_share=st.floats(0.0, 0.9),
    held_share=st.floats(0.01, 0.6),
    seed=st.integers(0, 2**31 - 1),
    inner_product=st.booleans(),
)
def test_in_place_renumbering_equals_faiss_permute_entries(
    n: int, start_share: float, held_share: float, seed: int, inner_product: bool
) -> None:
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((n, 6)).astype(np.float32)
    start = int(start_share * (n - 1))
    tail = n - start
    held = np.sort(rng.choice(tail, max(1, int(held_share * tail)), replace=False))
    kept = np.delete(np.arange(tail), held)
    order = np.concatenate([np.arange(start), start + kept, start + held])
    metric = faiss.METRIC_INNER_PRODUCT if inner_product else faiss.METRIC_L2
    ours = _graph(rows, order, metric)
    theirs = faiss.deserialize_index(faiss.serialize_index(ours))
    hnsw = ours.hnsw
    hnsw.entry_point = restore_row_order(_graph_arrays(ours), hnsw.entry_point, start, kept, held)
    theirs.permute_entries(np.ascontiguousarray(np.argsort(order), dtype=np.int64))
    assert np.array_equal(faiss.serialize_index(ours), faiss.serialize_index(theirs))
    # And it is a graph of the rows in row order: label r holds row r.
    assert np.array_equal(ours.reconstruct_n(0, n), rows)


def test_a_calibrated_build_numbers_nodes_by_row_and_searches_like_a_plain_one() -> None:
    rng = np.random.default_rng(4)
    rows = rng.standard_normal((3_000, 16)).astype(np.float32)
    index = AnnIndex.build(rows, "euclidean", m=16, ef_construction=80, target_recall=0.95)
    assert index.calibration is not None and index.calibration.rows == 3_000
    stored = faiss.downcast_index(index._index.storage)
    assert np.array_equal(stored.reconstruct_n(0, 3_000), rows)
    # Every row finds itself first: the links were renumbered with the vectors.
    found = index.search_many(rows, 1, 64)[:, 0]
    assert np.mean(found == np.arange(3_000)) > 0.99


@pytest.mark.parametrize("metric", ["cosine", "euclidean"])
def test_sorted_inserts_calibrate_on_a_sample_of_the_whole_segment(
    metric: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows inserted sorted along one direction: the last tenth are all alike. The held-out queries
    # must come from the whole range instead, and the graph must still number nodes by row.
    import spruce.engine.ann as ann

    seen: list[np.ndarray] = []
    real = ann.calibrate

    def spy(n: int, queries: np.ndarray, *args: object, **kwargs: object) -> object:
        seen.append(np.array(queries))
        return real(n, queries, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ann, "calibrate", spy)
    rng = np.random.default_rng(9)
    rows = rng.standard_normal((4_000, 8)).astype(np.float32) + np.float32(0.5)
    rows = rows[np.argsort(rows[:, 0])]
    index = AnnIndex.build(rows, metric, m=16, ef_construction=40, target_recall=0.95)
    (queries,) = seen
    assert len(queries) == 400
    # Each decile of the sorted rows gives 20-60 of the 400 (the last ten rows' share would be 400).
    position = np.searchsorted(rows[:, 0], queries[:, 0])
    per_decile = np.bincount(position * 10 // len(rows), minlength=10)
    assert per_decile.min() >= 20 and per_decile.max() <= 60
    labels = np.asarray(index.search_many(rows[:200], 1, 128))[:, 0]
    assert np.mean(labels == np.arange(200)) > 0.9

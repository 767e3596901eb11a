"""The embedded `query_namespaces`: concurrent per-namespace queries merged as the SDK merges them,
checked against brute force over every namespace's rows."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import spruce
from spruce.errors import InvalidArgumentError

DIM = 16
NAMESPACES = ["a", "b", "c", "d", "e"]


def _loaded(tmp_path: Path, metric: str) -> tuple[Any, dict[str, np.ndarray]]:
    db = spruce.Client(path=tmp_path / metric)
    db.create_index(name="ix", dimension=DIM, metric=metric)
    ix = db.Index("ix")
    rng = np.random.default_rng(len(metric))
    rows = {}
    for ns in NAMESPACES:
        rows[ns] = rng.standard_normal((300, DIM), dtype=np.float32)
        ix.upsert(
            vectors=[
                {"id": f"{ns}-{i}", "values": rows[ns][i], "metadata": {"even": i % 2 == 0}}
                for i in range(300)
            ],
            namespace=ns,
        )
    return ix, rows


def _oracle(rows: dict[str, np.ndarray], names: list[str], q: np.ndarray, metric: str, k: int) -> list[str]:
    ids, scores = [], []
    for ns in names:
        x = rows[ns].astype(np.float64)
        if metric == "cosine":
            s = (x @ q) / (np.linalg.norm(x, axis=1) * np.linalg.norm(q))
        elif metric == "dotproduct":
            s = x @ q
        else:
            s = -((x - q) ** 2).sum(axis=1)
        ids += [f"{ns}-{i}" for i in range(len(x))]
        scores += s.tolist()
    order = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return [ids[i] for i in order]


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dotproduct"])
def test_merged_top_k_equals_brute_force_over_the_namespaces(tmp_path: Path, metric: str) -> None:
    ix, rows = _loaded(tmp_path, metric)
    rng = np.random.default_rng(3)
    names = ["b", "d", "a", "d"]  # a duplicate is queried once
    for _ in range(20):
        q = rng.standard_normal(DIM).astype(np.float32)
        res = ix.query_namespaces(vector=q, namespaces=names, metric=metric, top_k=15)
        assert [m.id for m in res.matches] == _oracle(rows, ["b", "d", "a"], q.astype(np.float64), metric, 15)
        assert all(m.namespace == m.id.split("-")[0] for m in res.matches)
        scores = [m.score for m in res.matches]
        assert scores == sorted(scores, reverse=metric != "euclidean")
        assert res.usage.read_units == 3
        assert set(res.ns_usage) == {"b", "d", "a"}


def test_filters_missing_namespaces_and_default_top_k(tmp_path: Path) -> None:
    ix, rows = _loaded(tmp_path, "cosine")
    q = np.ones(DIM, dtype=np.float32)
    res = ix.query_namespaces(
        vector=q,
        namespaces=["a", "nowhere", "c"],
        metric="cosine",
        filter={"even": True},
        include_metadata=True,
    )
    assert len(res.matches) == 10
    assert all(m.metadata == {"even": True} for m in res.matches)
    even = {ns: rows[ns][::2] for ns in ("a", "c")}
    want = _oracle(even, ["a", "c"], q.astype(np.float64), "cosine", 10)
    # The oracle numbers the even rows 0, 1, 2...: map them back to the stored ids.
    assert [m.id for m in res.matches] == [f"{w.split('-')[0]}-{2 * int(w.split('-')[1])}" for w in want]


def test_bad_arguments_say_what_to_fix(tmp_path: Path) -> None:
    ix, _ = _loaded(tmp_path, "cosine")
    q = np.ones(DIM, dtype=np.float32)
    with pytest.raises(InvalidArgumentError, match="non-empty list"):
        ix.query_namespaces(vector=q, namespaces=[], metric="cosine")
    with pytest.raises(InvalidArgumentError, match="metric 'l2' is not one of"):
        ix.query_namespaces(vector=q, namespaces=["a"], metric="l2")
    with pytest.raises(InvalidArgumentError, match="a vector or a sparse_vector"):
        ix.query_namespaces(namespaces=["a"], metric="cosine")
    # One namespace's failure is the call's (here every query rejects the filter).
    with pytest.raises(InvalidArgumentError):
        ix.query_namespaces(vector=q, namespaces=NAMESPACES, metric="cosine", filter={"even": {"$bogus": 1}})
    with pytest.raises(InvalidArgumentError, match="dimension"):
        ix.query_namespaces(vector=[1.0, 2.0], namespaces=NAMESPACES, metric="cosine")


def test_concurrent_callers_get_their_own_answers(tmp_path: Path) -> None:
    ix, rows = _loaded(tmp_path, "dotproduct")
    queries = np.random.default_rng(9).standard_normal((6, DIM)).astype(np.float32)
    want = [_oracle(rows, NAMESPACES, q.astype(np.float64), "dotproduct", 10) for q in queries]
    wrong: list[int] = []

    def caller(i: int) -> None:
        for _ in range(10):
            res = ix.query_namespaces(vector=queries[i], namespaces=NAMESPACES, metric="dotproduct")
            if [m.id for m in res.matches] != want[i]:
                wrong.append(i)

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(len(queries))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []

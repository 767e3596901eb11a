"""One scenario through three doors: the embedded client, REST (SDK 10.2.0) and gRPC (SDK 10.2.0).

Every step's result is reduced to plain data and the three runs must agree. Two differences are
allowed, both documented:
- gRPC metadata numbers are doubles (`google.protobuf.Struct`), so ints come back as floats; the
  comparison therefore turns every metadata number into a float for all three.
- scores and values travel as float32 over gRPC and as JSON text over REST, so they are rounded.
The namespaces API names the default namespace `__default__` through all three doors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pinecone import Pinecone, ServerlessSpec

import spruce

pytestmark = pytest.mark.compat

DIM = 4
NS = "cong"


def _g(obj: Any, key: str) -> Any:
    """Attribute or key: SDK responses are objects, embedded ones are dicts with attribute access."""
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _num(x: Any) -> Any:
    if isinstance(x, bool) or not isinstance(x, int | float):
        return x
    return round(float(x), 5)


def _meta(m: Any) -> Any:
    if not m:
        return None
    out = {}
    for k, v in dict(m).items():
        out[k] = [_num(i) for i in v] if isinstance(v, list) else _num(v)
    return out


def _sparse(sv: Any) -> Any:
    if not sv or not list(_g(sv, "indices") or []):
        return None
    return (list(_g(sv, "indices")), [_num(v) for v in _g(sv, "values")])


def _vector(v: Any) -> Any:
    values = _g(v, "values")
    return {
        "values": [_num(x) for x in values] if values else None,
        "sparse": _sparse(_g(v, "sparse_values")),
        "metadata": _meta(_g(v, "metadata")),
    }


def _matches(resp: Any) -> Any:
    return [{"id": _g(m, "id"), "score": _num(_g(m, "score")), **_vector(m)} for m in _g(resp, "matches")]


def _vectors(resp: Any) -> Any:
    return {rid: _vector(v) for rid, v in dict(_g(resp, "vectors")).items()}


def _stats(resp: Any) -> Any:
    return {
        "namespaces": {name: _g(s, "vector_count") for name, s in dict(_g(resp, "namespaces")).items()},
        "total": _g(resp, "total_vector_count"),
        "dimension": _g(resp, "dimension"),
    }


def _list_ids(resp: Any) -> Any:
    items = _g(resp, "vectors") or []
    pagination = _g(resp, "pagination")
    return {"ids": [_g(i, "id") for i in items], "more": bool(pagination and _g(pagination, "next"))}


def _namespaces(resp: Any) -> Any:
    return sorted((_g(n, "name"), int(_g(n, "record_count"))) for n in _g(resp, "namespaces"))


def scenario(idx: Any, *, embedded: bool) -> dict[str, Any]:
    """The same calls whatever the client; `embedded` only picks the spelling of namespace methods."""
    out: dict[str, Any] = {}
    records = [
        {
            "id": f"r{i}",
            "values": [float(i + 1), float(i % 3), 0.5, -float(i) / 4],
            "sparse_values": {"indices": [i, 10 + (i % 4)], "values": [1.0, 0.25 * (i + 1)]},
            "metadata": {
                "year": 2000 + i,
                "genre": ["a", "b"] if i % 2 else ["c"],
                "flag": i % 3 == 0,
                "rating": i * 0.5,
                "name": f"n{i}",
            },
        }
        for i in range(10)
    ]
    out["upsert"] = _g(idx.upsert(vectors=records, namespace=NS), "upserted_count")
    idx.upsert(vectors=[("d1", [1.0, 0.0, 0.0, 0.0], {"k": "default"})])
    out["fetch"] = _vectors(idx.fetch(ids=["r1", "r4", "missing"], namespace=NS))

    def q(**kwargs: Any) -> Any:
        return _matches(idx.query(namespace=NS, include_values=True, include_metadata=True, **kwargs))

    out["dense"] = q(vector=[1.0, 0.5, 0.5, -0.5], top_k=5)
    out["hybrid"] = q(
        vector=[0.1, 0.1, 0.1, 0.1], sparse_vector={"indices": [3, 12], "values": [2.0, 1.0]}, top_k=4
    )
    out["sparse_only"] = q(sparse_vector={"indices": [11], "values": [1.0]}, top_k=3)
    out["filter_and"] = q(
        vector=[1.0, 1.0, 1.0, 1.0],
        top_k=10,
        filter={"$and": [{"genre": {"$in": ["b"]}}, {"year": {"$gte": 2003}}, {"name": {"$ne": "n5"}}]},
    )
    out["filter_or_bool"] = q(
        vector=[1.0, 0.0, 0.0, 0.0], top_k=10, filter={"$or": [{"flag": True}, {"rating": {"$lt": 1.0}}]}
    )
    out["by_id"] = [m["id"] for m in q(id="r2", top_k=3)]

    idx.update(id="r1", values=[9.0, 9.0, 9.0, 9.0], set_metadata={"year": 1999, "extra": "x"}, namespace=NS)
    out["dry_run"] = _g(
        idx.update(
            filter={"genre": {"$in": ["c"]}}, set_metadata={"tagged": True}, namespace=NS, dry_run=True
        ),
        "matched_records",
    )
    out["update_filter"] = _g(
        idx.update(filter={"genre": {"$in": ["c"]}}, set_metadata={"tagged": True}, namespace=NS),
        "matched_records",
    )
    out["after_update"] = _vectors(idx.fetch(ids=["r1", "r2"], namespace=NS))

    idx.delete(ids=["r0", "missing"], namespace=NS)
    idx.delete(filter={"year": {"$eq": 2009}}, namespace=NS)
    out["list_page"] = _list_ids(idx.list_paginated(prefix="r", limit=3, namespace=NS))
    out["list_all"] = _list_ids(idx.list_paginated(namespace=NS))
    out["fetch_by_metadata"] = _vectors(idx.fetch_by_metadata(filter={"tagged": True}, namespace=NS))
    out["stats"] = _stats(idx.describe_index_stats())
    out["stats_filtered"] = _stats(idx.describe_index_stats(filter={"genre": {"$in": ["a"]}}))

    if embedded:
        idx.create_namespace("made")
        out["describe_ns"] = int(idx.describe_namespace(NS).record_count)
    else:
        idx.create_namespace(name="made")
        out["describe_ns"] = int(idx.describe_namespace(name=NS).record_count)
    out["namespaces"] = _namespaces(idx.list_namespaces_paginated())
    if embedded:
        idx.delete_namespace("made")
    else:
        idx.delete_namespace(name="made")
    out["namespaces_after"] = _namespaces(idx.list_namespaces_paginated())
    return out


@pytest.fixture(scope="module")
def results(base_url: str) -> Iterator[dict[str, dict[str, Any]]]:
    got: dict[str, dict[str, Any]] = {}
    with spruce.Client(None) as db:
        db.create_index(name="cong", dimension=DIM, metric="dotproduct")
        got["embedded"] = scenario(db.Index("cong"), embedded=True)
    with Pinecone(api_key="k", host=base_url) as pc:
        hosts: dict[str, str] = {}
        for name in ("cong-rest", "cong-grpc"):
            pc.create_index(
                name=name,
                dimension=DIM,
                metric="dotproduct",
                spec=ServerlessSpec(cloud="aws", region="us-east-1"),
            )
            hosts[name] = pc.describe_index(name).host
        got["rest"] = scenario(pc.Index(host=hosts["cong-rest"]), embedded=False)
        grpc_index = Pinecone(api_key="k", grpc_scheme="http").index(host=hosts["cong-grpc"], grpc=True)
        try:
            got["grpc"] = scenario(grpc_index, embedded=False)
        finally:
            grpc_index.close()
    yield got


STEPS = [
    "upsert", "fetch", "dense", "hybrid", "sparse_only", "filter_and", "filter_or_bool", "by_id", "dry_run",
    "update_filter", "after_update", "list_page", "list_all", "fetch_by_metadata", "stats", "stats_filtered",
    "describe_ns", "namespaces", "namespaces_after",
]  # fmt: skip


@pytest.mark.parametrize("step", STEPS)
def test_same_result_everywhere(results: dict[str, dict[str, Any]], step: str) -> None:
    emb, rest, grpc = (results[k][step] for k in ("embedded", "rest", "grpc"))
    assert grpc == rest, f"gRPC differs from REST at {step}"
    assert rest == emb, f"REST differs from embedded at {step}"


def test_scenario_is_not_trivial(results: dict[str, dict[str, Any]]) -> None:
    emb = results["embedded"]
    assert emb["upsert"] == 10 and len(emb["fetch"]) == 2 and len(emb["dense"]) == 5
    assert emb["filter_and"] and emb["hybrid"] and emb["sparse_only"] and emb["fetch_by_metadata"]
    assert emb["list_page"]["more"] and emb["dry_run"] == emb["update_filter"] > 0

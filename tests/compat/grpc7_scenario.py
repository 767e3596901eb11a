"""gRPC scenario for `pinecone[grpc]==7.3.0` (grpcio + protobuf client, API 2025-04).

Run with the pinecone7 virtualenv's python, not pytest:

    python grpc7_scenario.py CONTROL_URL INDEX_HOST DIMENSION

The index (dotproduct, DIMENSION dims) must already exist and be empty. Exits 0 when every check
passes; any failure raises, which exits non-zero with the traceback on stderr.
"""

from __future__ import annotations

import sys
from typing import Any


def main(control_url: str, index_host: str, dimension: int) -> None:
    from pinecone.exceptions import PineconeException
    from pinecone.grpc import GRPCClientConfig, PineconeGRPC

    pc = PineconeGRPC(api_key="k", host=control_url)
    # 7.x strips only "https://" before dialing, so the host goes in without a scheme.
    bare = index_host.split("://", 1)[-1]
    idx = pc.Index(host=bare, grpc_config=GRPCClientConfig(secure=False))

    def vec(i: int) -> list[float]:
        return [float(i + 1)] + [0.0] * (dimension - 1)

    # upsert: tuples, dicts with sparse values and metadata, in batches
    resp: Any = idx.upsert(
        vectors=[("t1", vec(1), {"year": 2020, "genre": ["a", "b"], "ok": True})], namespace="ns"
    )
    assert resp.upserted_count == 1, resp
    resp = idx.upsert(
        vectors=[
            {
                "id": f"d{i}",
                "values": vec(i),
                "sparse_values": {"indices": [i, 100 + i], "values": [1.0, 0.5]},
                "metadata": {"n": i, "even": i % 2 == 0},
            }
            for i in range(10)
        ],
        namespace="ns",
        batch_size=4,
    )
    assert resp.upserted_count == 10, resp

    # parallel upserts with async_req=True: futures over one channel
    futures = [
        idx.upsert(vectors=[(f"p{i}-{j}", vec(j)) for j in range(20)], namespace="par", async_req=True)
        for i in range(8)
    ]
    assert sum(f.result().upserted_count for f in futures) == 160

    # fetch
    fetched = idx.fetch(ids=["t1", "d3", "missing"], namespace="ns")
    assert set(fetched.vectors) == {"t1", "d3"}, fetched
    assert fetched.vectors["t1"].metadata["year"] == 2020.0
    assert fetched.vectors["t1"].metadata["genre"] == ["a", "b"]
    assert fetched.vectors["d3"].sparse_values.indices == [3, 103]

    # query: dense, hybrid, filtered, by id
    q = idx.query(vector=vec(9), top_k=3, namespace="ns", include_metadata=True, include_values=True)
    assert len(q.matches) == 3 and q.matches[0].id == "d9", q
    assert len(q.matches[0].values) == dimension
    q = idx.query(
        vector=vec(0),
        sparse_vector={"indices": [5], "values": [10.0]},
        top_k=1,
        namespace="ns",
    )
    assert q.matches[0].id == "d5", q
    q = idx.query(vector=vec(1), top_k=20, namespace="ns", filter={"even": {"$eq": True}})
    assert {m.id for m in q.matches} == {f"d{i}" for i in range(0, 10, 2)}, q
    q = idx.query(id="d2", top_k=1, namespace="ns")
    assert q.matches[0].id in {"d2", "d9"}, q

    # query_namespaces: one Query per namespace, merged client-side
    merged = idx.query_namespaces(vector=vec(9), namespaces=["ns", "par"], metric="dotproduct", top_k=12)
    # Scores are 10 * first component: "par" holds vec(19) eight times (200) and vec(18) eight times
    # (190), both above anything in "ns" (d9 scores 100), so the merge must put those first.
    top = [(m["id"], m["score"]) for m in merged.matches]
    assert len(top) == 12 and all(i.endswith("-19") and sc == 200.0 for i, sc in top[:8]), top
    assert {i.split("-")[1] for i, _ in top[8:]} == {"18"}, top

    # update
    idx.update(id="d1", set_metadata={"tag": "new"}, namespace="ns")
    assert idx.fetch(ids=["d1"], namespace="ns").vectors["d1"].metadata["tag"] == "new"

    # list
    ids = [i for page in idx.list(prefix="d", namespace="ns", limit=4) for i in page]
    assert ids == sorted(f"d{i}" for i in range(10)), ids
    page = idx.list_paginated(prefix="d", namespace="ns", limit=3)
    assert len(page.vectors) == 3 and page.pagination and page.pagination.next

    # stats and namespaces
    stats = idx.describe_index_stats()
    assert stats.namespaces["ns"].vector_count == 11, stats
    assert stats.namespaces["par"].vector_count == 160, stats
    assert stats.dimension == dimension
    names = sorted(ns.name for ns in idx.list_namespaces())
    assert names == ["ns", "par"], names
    ns_page = idx.list_namespaces_paginated(limit=1)
    assert len(ns_page.namespaces) == 1 and ns_page.pagination and ns_page.pagination.next
    assert int(idx.describe_namespace(namespace="par").record_count) == 160

    # delete
    idx.delete(ids=["t1"], namespace="ns")
    idx.delete(filter={"even": True}, namespace="ns")
    assert idx.describe_index_stats().namespaces["ns"].vector_count == 5
    idx.delete(delete_all=True, namespace="ns")
    idx.delete_namespace(namespace="par")
    assert "par" not in idx.describe_index_stats().namespaces

    # errors
    # 7.x wraps every gRPC failure in PineconeException("<STATUS>:<details>").
    try:
        idx.describe_namespace(namespace="never")
    except PineconeException as exc:
        assert str(exc).startswith("NOT_FOUND:"), exc
    else:
        raise AssertionError("describe_namespace of a missing namespace did not raise NotFoundException")
    try:
        idx.query(vector=[1.0] * (dimension + 1), top_k=1)
    except PineconeException as exc:
        assert str(exc).startswith("INVALID_ARGUMENT:") and "dimension" in str(exc), exc
    else:
        raise AssertionError("a wrong-dimension query did not raise")
    print("grpc7 scenario ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))

"""pinecone[grpc]==7.3.0, the flow as Pinecone Local's documentation writes it: the index host from
describe_index goes to `PineconeGRPC().Index(host=...)` unchanged. Run by the pinecone7 venv's python:

    python grpc7_docflow.py CONTROL_URL INDEX_NAME
"""

from __future__ import annotations

import sys


def main(control_url: str, name: str) -> None:
    from pinecone import ServerlessSpec
    from pinecone.grpc import GRPCClientConfig, PineconeGRPC

    pc = PineconeGRPC(api_key="pclocal", host=control_url)
    pc.create_index(
        name=name, dimension=2, metric="cosine", spec=ServerlessSpec(cloud="aws", region="us-east-1")
    )
    index_host = pc.describe_index(name=name).host
    assert "://" not in index_host, index_host
    index = pc.Index(host=index_host, grpc_config=GRPCClientConfig(secure=False))
    index.upsert(
        vectors=[{"id": "vec1", "values": [1.0, -2.5]}, {"id": "vec2", "values": [3.0, -2.0]}], namespace="ex"
    )
    res = index.query(namespace="ex", vector=[3.0, -2.0], top_k=1)
    assert res.matches[0].id == "vec2", res
    assert index.describe_index_stats().namespaces["ex"].vector_count == 2
    assert set(index.fetch(ids=["vec1"], namespace="ex").vectors) == {"vec1"}
    print("grpc7 docflow ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

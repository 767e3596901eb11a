"""gRPC over TLS for `pinecone==9.1.0`, whose gRPC index always dials TLS (no grpc_scheme, no secure=
through `Pinecone.index`). Run with the pinecone9 virtualenv's python, not pytest:

    SSL_CERT_FILE=ca.pem python grpc9_scenario.py CONTROL_URL API_KEY DIMENSION

SSL_CERT_FILE makes both the REST client (httpx) and the gRPC client (rustls) trust the test CA. Creates
the index `grpc9`, writes and reads it over gRPC, and exits 0 when every check passes.
"""

from __future__ import annotations

import sys


def main(control_url: str, api_key: str, dimension: int) -> None:
    import pinecone
    from pinecone import Pinecone, ServerlessSpec

    assert pinecone.__version__.startswith("9."), pinecone.__version__
    pc = Pinecone(api_key=api_key, host=control_url)
    pc.create_index(
        name="grpc9",
        dimension=dimension,
        metric="cosine",
        spec=ServerlessSpec(cloud="aws", region="us-east-1"),
    )
    host = pc.describe_index("grpc9").host
    assert host.startswith("https://127.0.0.1:"), host
    idx = pc.index(host=host, grpc=True)
    vectors = [(f"v{i}", [float(i + 1)] + [0.5] * (dimension - 1), {"n": i}) for i in range(10)]
    resp = idx.upsert(vectors=vectors, namespace="tls")
    assert resp.upserted_count == 10, resp
    stats = idx.describe_index_stats()
    assert stats.namespaces["tls"].vector_count == 10, stats
    res = idx.query(vector=vectors[3][1], top_k=3, namespace="tls", include_metadata=True)
    assert res.matches[0].id == "v3", res
    fetched = idx.fetch(ids=["v1", "v2"], namespace="tls")
    assert set(fetched.vectors) == {"v1", "v2"}, fetched
    print("grpc9 tls scenario ok")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))

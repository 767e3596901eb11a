"""Integrated embedding through the embedded client: the SDK's records methods in process.

Real models from the registry (nothing mocked); search results are compared with a brute-force ranking of
the registry's own vectors, and every refusal is checked to have written nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import spruce
from spruce.errors import InvalidArgumentError
from spruce.service.inference import get_registry

DENSE = "llama-text-embed-v2"
SPARSE = "pinecone-sparse-english-v0"
RERANK = "bge-reranker-v2-m3"
NS = "ns"
TEXTS = {
    "a": "The Eiffel Tower in Paris was completed in 1889.",
    "b": "Regular aerobic exercise strengthens the heart.",
    "c": "Photosynthesis turns sunlight into sugar in plants.",
    "d": "Espresso is brewed by forcing hot water through coffee.",
}
RECORDS = [{"_id": k, "text": v, "n": i} for i, (k, v) in enumerate(TEXTS.items())]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[spruce.Client]:
    with spruce.Client(path=tmp_path / "db") as client:
        yield client


@pytest.fixture
def index(db: spruce.Client) -> Any:
    db.create_index_for_model(name="docs", embed={"model": DENSE, "field_map": {"text": "text"}})
    idx = db.Index("docs")
    idx.upsert_records(NS, RECORDS)
    return idx


def _count(index: Any, ns: str = NS) -> int:
    stats = index.describe_index_stats()
    return int(stats.namespaces[ns].vector_count) if ns in stats.namespaces else 0


def test_search_matches_brute_force_and_hits_read_like_the_sdk(db: spruce.Client, index: Any) -> None:
    reg = get_registry()
    dim = db.describe_index("docs").dimension
    assert dim == reg.get_model(DENSE).dimension
    passages = reg.embed(DENSE, list(TEXTS.values()), input_type="passage", dimension=dim).dense
    assert passages is not None
    query = "keeping the heart healthy"
    q = reg.embed(DENSE, [query], input_type="query", dimension=dim).dense
    assert q is not None
    cos = passages @ q[0] / np.linalg.norm(passages, axis=1) / np.linalg.norm(q[0])
    order = [list(TEXTS)[i] for i in np.argsort(-cos)]

    res = index.search(namespace=NS, query={"inputs": {"text": query}, "top_k": 3})
    hits = res.result.hits
    assert [h._id for h in hits] == order[:3] and hits[0].id == "b" and hits[0]["_id"] == "b"
    assert [h._score for h in hits] == pytest.approx(sorted(cos, reverse=True)[:3], abs=1e-4)
    assert hits[0].fields == {"text": TEXTS["b"], "n": 1}
    assert res.usage.embed_total_tokens > 0 and res.usage.rerank_units is None

    flat = index.search_records(namespace=NS, top_k=2, id="b", filter={"n": {"$gte": 2}}, fields=["n"])
    assert {h.id for h in flat.result.hits} == {"c", "d"} and all(
        h.fields.keys() == {"n"} for h in flat.result.hits
    )

    reranked = index.search(
        namespace=NS,
        query={"vector": {"values": q[0].tolist()}, "top_k": 4},
        rerank={"model": RERANK, "rank_fields": ["text"], "top_n": 2, "query": query},
    )
    direct = reg.rerank(RERANK, query, [TEXTS[i] for i in order[:4]], top_n=2)
    assert [h.id for h in reranked.result.hits] == [order[i] for i, _ in direct.ranked]
    assert reranked.usage.rerank_units == direct.rerank_units


def test_sparse_and_hybrid(db: spruce.Client) -> None:
    db.create_index_for_model(name="sp", embed={"model": SPARSE, "field_map": {"text": "text"}})
    sp = db.Index("sp")
    assert db.describe_index("sp").vector_type == "sparse" and db.describe_index("sp").dimension is None
    sp.upsert_records(NS, RECORDS)
    assert sp.search(namespace=NS, top_k=1, inputs={"text": "espresso coffee"}).result.hits[0].id == "d"

    db.create_index(name="hy", dimension=2, metric="dotproduct")
    hy = db.Index("hy")
    hy.upsert(
        vectors=[
            {"id": "x", "values": [1.0, 0.0], "sparse_values": {"indices": [5], "values": [1.0]}},
            {"id": "y", "values": [0.0, 1.0], "sparse_values": {"indices": [6], "values": [1.0]}},
        ],
        namespace=NS,
    )
    res = hy.search(
        namespace=NS, top_k=2, vector={"values": [0.6, 0.5], "sparse_indices": [6], "sparse_values": [1.0]}
    )
    assert [(h.id, round(h.score, 4)) for h in res.result.hits] == [("y", 1.5), ("x", 0.6)]


def test_refusals_write_nothing(db: spruce.Client, index: Any) -> None:
    before = _count(index)
    bad: list[tuple[list[dict[str, Any]], str]] = [
        ([{"_id": "z1", "text": "ok"}, {"_id": "z2", "body": "no text"}], r"records\[1\]"),
        ([{"text": "no id"}], "_id"),
        ([{"_id": f"m{i}", "text": "t"} for i in range(97)], "96"),
        ([{"_id": "z3", "text": "ok", "meta": {"nested": 1}}], "meta"),
        ([{"_id": "z4", "text": "   "}], "text"),
    ]
    for records, needle in bad:
        with pytest.raises(InvalidArgumentError, match=needle):
            index.upsert_records(NS, records)
    assert _count(index) == before

    with pytest.raises(InvalidArgumentError, match="rank_fields"):
        index.search(
            namespace=NS, top_k=2, inputs={"text": "x"}, rerank={"model": RERANK, "rank_fields": ["nope"]}
        )
    with pytest.raises(InvalidArgumentError, match=r"rerank\.model"):
        index.search(
            namespace=NS, top_k=2, inputs={"text": "x"}, rerank={"model": DENSE, "rank_fields": ["text"]}
        )
    with pytest.raises(InvalidArgumentError, match=r"rerank\.query"):
        index.search(namespace=NS, top_k=2, id="a", rerank={"model": RERANK, "rank_fields": ["text"]})
    with pytest.raises(InvalidArgumentError, match=r"\$regex"):
        index.search(namespace=NS, top_k=2, inputs={"text": "x"}, filter={"n": {"$regex": "a"}})
    with pytest.raises(InvalidArgumentError, match="hybrid"):
        index.search(namespace=NS, top_k=2, inputs={"text": "x"}, vector=[0.0] * 1024)
    many = [{"_id": f"k{i}", "text": f"filler {i}"} for i in range(96)]
    index.upsert_records("wide", many)
    index.upsert_records("wide", [{**r, "_id": f"j{r['_id']}"} for r in many[:5]])
    with pytest.raises(InvalidArgumentError, match=r"rerank .* top 101 hits"):  # the model takes 100
        index.search(
            namespace="wide",
            top_k=150,
            id="k1",
            rerank={"model": RERANK, "rank_fields": ["text"], "query": "x"},
        )
    with pytest.raises(InvalidArgumentError, match=r"embed\.model"):
        db.create_index_for_model(name="bad", embed={"model": "no-such-model", "field_map": {"text": "t"}})
    with pytest.raises(InvalidArgumentError, match=r"embed\.dimension"):
        db.create_index_for_model(
            name="bad", embed={"model": DENSE, "field_map": {"text": "t"}, "dimension": 7}
        )
    with pytest.raises(InvalidArgumentError, match="rerank"):
        db.create_index_for_model(name="bad", embed={"model": RERANK, "field_map": {"text": "t"}})
    assert not db.has_index("bad")

    limit = get_registry().get_model(DENSE).max_sequence_length
    db.create_index_for_model(
        name="strict",
        embed={"model": DENSE, "field_map": {"text": "text"}, "write_parameters": {"truncate": "NONE"}},
    )
    strict = db.Index("strict")
    with pytest.raises(InvalidArgumentError, match=r"records\[1\] \('long'\) field 'text'.*truncate"):
        strict.upsert_records(
            NS, [{"_id": "ok", "text": "short"}, {"_id": "long", "text": "word " * (2 * limit)}]
        )
    assert _count(strict) == 0

    db.create_index(name="plain", dimension=3)
    with pytest.raises(InvalidArgumentError, match="no embedding model"):
        db.Index("plain").upsert_records(NS, [{"_id": "p", "text": "t"}])


def test_configure_embed_and_reopen(tmp_path: Path) -> None:
    dim = get_registry().get_model(DENSE).dimension
    assert dim is not None
    with spruce.Client(path=tmp_path / "db") as db:
        db.create_index(name="later", dimension=dim)
        db.create_index(name="odd", dimension=dim + 1)
        with pytest.raises(InvalidArgumentError, match="dimension"):
            db.configure_index("odd", embed={"model": DENSE, "field_map": {"text": "body"}}, tags={"a": "b"})
        assert db.describe_index("odd").embed is None and db.describe_index("odd").tags is None
        with pytest.raises(InvalidArgumentError, match="sparse"):
            db.configure_index("later", embed={"model": SPARSE, "field_map": {"text": "body"}})
        model = db.configure_index("later", embed={"model": DENSE, "field_map": {"text": "body"}})
        assert model.embed.model == DENSE and model.embed.field_map == {"text": "body"}
        db.Index("later").upsert_records(NS, [{"_id": "r", "body": TEXTS["c"]}])
    with spruce.Client(path=tmp_path / "db") as db:
        assert db.describe_index("later").embed.model == DENSE
        res = db.Index("later").search(namespace=NS, top_k=1, inputs={"text": "plants and sunlight"})
        assert res.result.hits[0].id == "r" and res.result.hits[0].fields == {"body": TEXTS["c"]}

"""The Collection API embedded: pyseekdb's samples, validation, semantics, persistence, Pinecone view."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import spruce
from spruce import errors
from spruce.config import EngineConfig


def test_pyseekdb_upsert_samples_run_as_written(tmp_path: Path) -> None:
    import spruce as pyseekdb  # the only line changed from the pyseekdb samples: `import pyseekdb`

    client = pyseekdb.Client(path=str(tmp_path / "seekdb.db"))
    collection = client.get_or_create_collection(
        name="my_collection",
        configuration=pyseekdb.HNSWConfiguration(dimension=3, distance="cosine"),
        embedding_function=None,
    )
    # Upsert a single item
    collection.upsert(
        ids="item1",
        embeddings=[0.1, 0.2, 0.3],
        documents="This is document 1",
        metadatas={"category": "AI", "score": 95},
    )
    # Upsert multiple items
    collection.upsert(
        ids=["item2", "item3", "item4"],
        embeddings=[[0.4, 0.5, 0.6], [0.7, 0.8, 0.9], [0.2, 0.3, 0.4]],
        documents=["Document 2", "Document 3", "Document 4"],
        metadatas=[
            {"category": "ML", "score": 88},
            {"category": "AI", "score": 92},
            {"category": "NLP", "score": 90},
        ],
    )
    # Upsert an existing item: its fields are overwritten
    collection.upsert(ids="item1", embeddings=[0.9, 0.9, 0.9], metadatas={"category": "AI", "score": 98})
    # Documents only: the collection's default embedding function embeds them
    text_collection = client.get_or_create_collection(name="my_text_collection")
    text_collection.upsert(
        ids=["doc1", "doc2"],
        documents=["Machine learning is a subset of AI", "Python is a popular programming language"],
        metadatas=[{"tag": "ml"}, {"tag": "python"}],
    )

    assert collection.count() == 4
    got = collection.get(ids="item1", include=["documents", "metadatas", "embeddings"])
    assert got["documents"] == ["This is document 1"]
    assert got["metadatas"] == [{"category": "AI", "score": 98}]
    assert np.allclose(got["embeddings"][0], [0.9, 0.9, 0.9])
    assert text_collection.dimension == 384
    hits = text_collection.query(query_texts="Which language is popular for programming?", n_results=1)
    assert hits["ids"] == [["doc2"]]
    client.close()


def test_distances_follow_chroma_for_every_metric_alias() -> None:
    client = spruce.Client()
    points = {"a": [1, 0], "b": [0, 1], "c": [3, 4], "d": [-1, 0]}
    expected = {
        "cosine": {"a": 0.0, "c": 0.4, "b": 1.0, "d": 2.0},
        "l2": {"b": 2.0, "d": 4.0, "c": 20.0, "a": 0.0},
        "ip": {"c": -2.0, "a": 0.0, "b": 1.0, "d": 2.0},
    }
    aliases = {"cosine": ["cosine"], "l2": ["l2", "euclidean"], "ip": ["ip", "inner_product", "dotproduct"]}
    for metric, names in aliases.items():
        for alias in names:
            col = client.create_collection(f"m_{alias}", embedding_function=None, metric=alias)
            col.add(ids=list(points), embeddings=list(points.values()))
            res = col.query(query_embeddings=[1, 0], n_results=4, include=["distances"])
            want = sorted(expected[metric].items(), key=lambda kv: kv[1])
            assert res["ids"][0] == [k for k, _ in want], alias
            assert res["distances"][0] == pytest.approx([d for _, d in want], abs=1e-6)
            assert col.metric == alias
    # Chroma's configuration and legacy metadata spellings
    col = client.create_collection("cfg", configuration={"hnsw": {"space": "ip"}}, embedding_function=None)
    assert col.metric == "ip"
    col = client.create_collection("legacy", metadata={"hnsw:space": "l2"}, embedding_function=None)
    assert col.metric == "l2"


class ChromaStyleEF:
    """Chroma's protocol: __call__(self, input), embed_query, name()."""

    def __call__(self, input: list[str]) -> list[list[float]]:
        return [[float(len(t)), float(t.count("a")), 1.0] for t in input]

    def embed_query(self, input: list[str]) -> list[list[float]]:
        return [[float(len(t)), float(t.count("a")), 2.0] for t in input]

    @staticmethod
    def name() -> str:
        return "letters"


class SeekdbStyleEF:
    """pyseekdb's protocol: __call__(documents) taking a str or a list, and `dimension`."""

    dimension = 2

    def __call__(self, documents: str | list[str]) -> list[list[float]]:
        docs = [documents] if isinstance(documents, str) else documents
        return [[float(len(d)), 1.0] for d in docs]


def test_embedding_functions_are_stored_and_checked(tmp_path: Path) -> None:
    with spruce.Client(path=tmp_path) as client:
        chroma_col = client.create_collection("chroma_ef", embedding_function=ChromaStyleEF(), metric="l2")
        chroma_col.add(ids=["x", "y"], documents=["banana", "kiwi"])
        res = chroma_col.query(query_texts=["banana"], n_results=1, include=["distances"])
        assert res["ids"] == [["x"]] and res["distances"][0][0] == pytest.approx(1.0)  # embed_query's 2.0
        seek = client.create_collection("seek_ef", embedding_function=SeekdbStyleEF())
        assert seek.dimension == 2
        seek.add(ids="p", documents="hello")
        none_col = client.create_collection("no_ef", embedding_function=None, metadata={"owner": "me"})
        assert none_col.dimension is None
    with spruce.Client(path=tmp_path) as client:
        with pytest.raises(errors.InvalidArgumentError, match="letters"):
            client.get_collection("chroma_ef", embedding_function=SeekdbStyleEF())
        with pytest.raises(errors.InvalidArgumentError):
            client.get_collection("no_ef", embedding_function=ChromaStyleEF())
        stored = client.get_collection("chroma_ef")
        with pytest.raises(errors.InvalidArgumentError, match="letters"):
            stored.add(ids="z", documents="needs the function")
        again = client.get_collection("chroma_ef", embedding_function=ChromaStyleEF())
        again.add(ids="z", documents="now it works")
        assert again.count() == 3
        none_col = client.get_collection("no_ef")
        assert none_col.metadata == {"owner": "me"} and none_col.embedding_function is None
        none_col.modify(name="renamed", metadata={"owner": "you"})
        assert client.get_collection("renamed").metadata == {"owner": "you"}
        assert not client.has_collection("no_ef")
        assert client.count_collections() == 3


def test_collection_is_an_index_of_the_pinecone_api(tmp_path: Path) -> None:
    with spruce.Client(path=tmp_path) as client:
        col = client.create_collection("Docs_2024", embedding_function=None, dimension=2)
        col.add(ids=["a"], embeddings=[[1, 2]], documents=["hi there"], metadatas=[{"k": 1}])
        index = client.Index(col.index_name)
        fetched = index.fetch(ids=["a"]).vectors["a"]
        assert fetched.metadata == {"k": 1, "document": "hi there"}
        assert client.describe_index(col.index_name).dimension == 2
        index.upsert(vectors=[("b", [0, 1], {"document": "from pinecone"})])
        assert col.get(ids="b")["documents"] == ["from pinecone"]
        client.delete_index(col.index_name)
        assert not client.has_collection("Docs_2024")


def test_upsert_and_update_merge_metadata_and_keep_documents() -> None:
    col = spruce.Client().create_collection("merge", embedding_function=None, dimension=1)
    col.add(ids=["a"], embeddings=[[1]], documents=["doc"], metadatas=[{"x": 1, "y": "keep"}])
    col.update(ids="a", metadatas={"x": None, "z": True})
    col.upsert(ids="a", embeddings=[2], metadatas={"w": 2.5})
    got = col.get(ids="a", include=["metadatas", "documents", "embeddings"])
    assert got["metadatas"] == [{"y": "keep", "z": True, "w": 2.5}]
    assert got["documents"] == ["doc"] and got["embeddings"] == [[2.0]]
    assert col.delete(ids=["a", "never"]) == {"deleted": 1}


def test_get_paging_order_and_peek() -> None:
    col = spruce.Client().create_collection("page", embedding_function=None, dimension=1)
    col.add(ids=[f"r{i:02d}" for i in range(25)][::-1], embeddings=[[float(i)] for i in range(25)])
    pages = [col.get(limit=10, offset=o, include=[])["ids"] for o in (0, 10, 20)]
    assert [rid for page in pages for rid in page] == [f"r{i:02d}" for i in range(25)]
    assert col.get(ids=["r03", "nope", "r01"], include=[])["ids"] == ["r03", "r01"]
    assert len(col.peek(3)["embeddings"]) == 3
    assert col.query(query_embeddings=[[0.0]], n_results=100, include=[])["ids"][0][0] == "r24"


def test_hybrid_search_fuses_text_and_vector_rankings() -> None:
    col = spruce.Client().create_collection("hy", embedding_function=None, dimension=2, metric="l2")
    col.add(
        ids=["a", "b", "c", "d"],
        embeddings=[[0, 0], [1, 0], [5, 5], [9, 9]],
        documents=["red fox", "blue fox fox fox", "red red apple", "green tree"],
    )
    text = col.hybrid_search(query={"where_document": {"$contains": "fox"}}, n_results=5)
    assert text["ids"] == [["b", "a"]]  # higher term frequency first
    assert text["distances"][0][0] > text["distances"][0][1] > 0
    fused = col.hybrid_search(
        query={"where_document": {"$contains": "red"}, "n_results": 3},
        knn={"query_embeddings": [9, 9], "n_results": 3},
        rank={"rrf": {"rank_window_size": 10, "rank_constant": 1}},
        n_results=2,
    )
    # text: c (tf 2), a; knn: d, c, b. RRF with k=1: c = 1/2 + 1/3, d = 1/2, a = 1/3, b = 1/4
    assert fused["ids"] == [["c", "d"]]
    assert fused["distances"][0] == pytest.approx([1 / 2 + 1 / 3, 1 / 2])
    assert fused["documents"] == [["red red apple", "green tree"]]


def test_where_document_across_segments_matches_a_scan(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    words = ["Alpha", "beta", "gamma-ray", "delta", "ÉCOLE", "école", "x_y", "naïve", "42"]
    docs = [
        " ".join(rng.choice(words, size=rng.integers(1, 5))) + rng.choice(["", ".", "!"]) for _ in range(300)
    ]
    cfg = EngineConfig(memtable_max_rows=64, background=False)
    with spruce.Client(path=tmp_path, config=cfg) as client:
        col = client.create_collection("wd", embedding_function=None, dimension=2)
        for start in range(0, 300, 50):
            ids = [f"d{i:03d}" for i in range(start, start + 50)]
            col.add(ids=ids, embeddings=rng.random((50, 2)), documents=docs[start : start + 50])
        col.delete(ids=[f"d{i:03d}" for i in range(0, 300, 7)])
        alive = {f"d{i:03d}": d for i, d in enumerate(docs) if i % 7}
        patterns = [
            "alpha",
            "Alpha",
            "lpha be",
            "ta d",
            "gamma-",
            "-ray",
            "a",
            "école",
            "ÉCOLE",
            "ïve",
            "x_y 42",
            ". ",
            "!",
        ]
        for p in patterns:
            got = col.get(where_document={"$contains": p}, include=[])["ids"]
            assert got == sorted(k for k, d in alive.items() if p in d), p
            neg = col.get(where_document={"$not_contains": p}, include=[])["ids"]
            assert neg == sorted(k for k, d in alive.items() if p not in d), p
        for rx in [r"^beta", r"\d+$", r"(?i)alpha\s+beta", r"ray[.!]"]:
            got = col.get(where_document={"$regex": rx}, include=[])["ids"]
            assert got == sorted(k for k, d in alive.items() if re.search(rx, d)), rx
        both = col.get(
            where_document={"$and": [{"$contains": "beta"}, {"$not_contains": "delta"}]}, include=[]
        )
        assert both["ids"] == sorted(k for k, d in alive.items() if "beta" in d and "delta" not in d)
        q = col.query(
            query_embeddings=[[0.5, 0.5]], n_results=300, where_document={"$contains": "naïve"}, include=[]
        )
        assert sorted(q["ids"][0]) == sorted(k for k, d in alive.items() if "naïve" in d)

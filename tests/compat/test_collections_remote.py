"""The Collection API over HTTP gives the embedded client's results and exception classes.

Each test runs twice: on an embedded client and on `spruce.HttpClient` against a real `spruce serve`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import spruce
from spruce import errors
from tests.compat.conftest import RunningServer


@pytest.fixture(params=["embedded", "remote"])
def client(request: pytest.FixtureRequest, spruce_server: RunningServer, tmp_path: Path) -> Iterator[Any]:
    if request.param == "embedded":
        with spruce.Client(path=tmp_path / "data") as local:
            yield local
    else:
        with spruce.HttpClient(host=spruce_server.url) as remote:
            yield remote
            for col in remote.list_collections():
                remote.delete_collection(col.name)


def test_validation_errors_are_value_errors_and_write_nothing(client: Any) -> None:
    col = client.create_collection("v", embedding_function=None, dimension=2)
    col.add(ids=["a"], embeddings=[[1, 2]], documents=["one"])
    cases: list[tuple[type[Exception], Any]] = [
        (errors.InvalidArgumentError, lambda: col.add(ids=["b", "c"], embeddings=[[1, 2]])),
        (errors.InvalidArgumentError, lambda: col.add(ids=["b"])),
        (errors.InvalidArgumentError, lambda: col.add(ids=["b"], documents=["no ef"])),
        (errors.DimensionMismatchError, lambda: col.add(ids=["b"], embeddings=[[1, 2, 3]])),
        (errors.DuplicateIDError, lambda: col.add(ids=["b", "b"], embeddings=[[1, 2], [3, 4]])),
        (errors.DuplicateIDError, lambda: col.upsert(ids=["b", "b"], embeddings=[[1, 2], [3, 4]])),
        (errors.InvalidArgumentError, lambda: col.add(ids=[""], embeddings=[[1, 2]])),
        (errors.InvalidArgumentError, lambda: col.add(ids=[5], embeddings=[[1, 2]])),
        (errors.InvalidArgumentError, lambda: col.add(ids=[], embeddings=[])),
        (errors.InvalidArgumentError, lambda: col.add(ids=["b"], embeddings=[[1, float("nan")]])),
        (errors.InvalidArgumentError, lambda: col.add(ids=["b"], embeddings=[[1, 2]], metadatas=[{"x": {}}])),
        (
            errors.InvalidArgumentError,
            lambda: col.add(ids=["b"], embeddings=[[1, 2]], metadatas=[{"document": "x"}]),
        ),
        (errors.IDAlreadyExistsError, lambda: col.add(ids=["b", "a"], embeddings=[[1, 2], [3, 4]])),
        (errors.RecordNotFoundError, lambda: col.update(ids=["a", "zz"], metadatas=[{"k": 1}, {"k": 2}])),
        (errors.InvalidArgumentError, lambda: col.query(query_embeddings=[[1, 2]], n_results=0)),
        (errors.InvalidArgumentError, lambda: col.query(query_embeddings=[[1, 2]], n_results=True)),
        (errors.DimensionMismatchError, lambda: col.query(query_embeddings=[[1, 2, 3]])),
        (errors.InvalidArgumentError, lambda: col.query(query_texts=["no ef"])),
        (errors.InvalidArgumentError, lambda: col.delete()),
        (errors.InvalidFilterError, lambda: col.delete(where={"k": {"$like": 1}})),
        (errors.InvalidFilterError, lambda: col.get(where={"$nor": [{"k": 1}]})),
        (errors.InvalidFilterError, lambda: col.get(where_document={"$has": "x"})),
        (errors.InvalidFilterError, lambda: col.get(where_document={"$regex": "("})),
        (errors.InvalidArgumentError, lambda: col.get(include=["distances"])),
        (errors.InvalidArgumentError, lambda: col.get(include=["vectors"])),
        (errors.InvalidArgumentError, lambda: col.query(query_embeddings=[[1, 2]], include=["scores"])),
        (errors.CollectionNotFoundError, lambda: client.get_collection("missing")),
        (errors.CollectionNotFoundError, lambda: client.delete_collection("missing")),
        (errors.InvalidArgumentError, lambda: client.create_collection("bad name!", embedding_function=None)),
        (errors.InvalidArgumentError, lambda: client.create_collection("-x", embedding_function=None)),
        (errors.CollectionAlreadyExistsError, lambda: client.create_collection("v", embedding_function=None)),
        (errors.InvalidArgumentError, lambda: client.create_collection("m", metric="hamming")),
    ]
    for cls, call in cases:
        with pytest.raises(cls) as info:
            call()
        assert isinstance(info.value, ValueError), cls
    assert col.get(include=["documents", "embeddings"]) == {
        "ids": ["a"],
        "embeddings": [[1.0, 2.0]],
        "documents": ["one"],
        "metadatas": None,
        "uris": None,
        "data": None,
        "included": ["documents", "embeddings"],
    }
    assert [c.name for c in client.list_collections()] == ["v"]


def test_filters_ids_and_hybrid_search_agree(client: Any) -> None:
    col = client.create_collection("fx", embedding_function=None, metric="l2")
    col.add(
        ids=["a", "b", "c", "d"],
        embeddings=[[0, 0], [1, 0], [2, 0], [3, 0]],
        documents=["Red fox", "red dog", "blue fox fox", "green"],
        metadatas=[{"n": 1, "tags": ["x"]}, {"n": 2}, {"n": 3, "tags": ["x", "y"]}, {"n": 4}],
    )
    res = col.query(query_embeddings=[0, 0], n_results=10, ids=["c", "d", "zz"], include=["distances"])
    assert res["ids"] == [["c", "d"]] and res["distances"] == [[4.0, 9.0]]
    got = col.get(where={"$or": [{"tags": {"$contains": "y"}}, {"$not": {"n": {"$lte": 3}}}]}, include=[])
    assert got["ids"] == ["c", "d"]
    got = col.get(where_document={"$or": [{"$contains": "Red"}, {"$regex": "^gr"}]}, include=["documents"])
    assert got["documents"] == ["Red fox", "green"]
    hy = col.hybrid_search(
        query={"where_document": {"$contains": "fox"}},
        knn={"query_embeddings": [3, 0]},
        rank={"rrf": {"rank_constant": 60}},
        n_results=3,
    )
    assert hy["ids"] == [["c", "a", "d"]]  # c: 1/61 + 1/62, a: 1/62 + 1/64, d: 1/61
    assert col.delete(where_document={"$contains": "dog"}) == {"deleted": 1}
    assert col.count() == 3


def test_the_collection_index_is_visible_over_the_pinecone_rest_api(spruce_server: RunningServer) -> None:
    with spruce.HttpClient(host=spruce_server.url) as remote:
        col = remote.create_collection("Pine_View", embedding_function=None)
        col.add(ids=["a"], embeddings=[[1.0, 2.0]], documents=["hello"])
        described = httpx.get(f"{spruce_server.url}/indexes/{col.index_name}").json()
        assert described["schema"]["fields"]["_values"]["dimension"] == 2
        fetched = httpx.get(f"{described['host']}/vectors/fetch", params={"ids": "a"}).json()
        assert fetched["vectors"]["a"]["metadata"] == {"document": "hello"}
        remote.delete_collection("Pine_View")
        assert httpx.get(f"{spruce_server.url}/indexes/{col.index_name}").status_code == 404


_BAD_BODIES: list[tuple[str, object]] = [
    ("add", {}),
    ("add", {"ids": "a", "embeddings": "x"}),
    ("upsert", {"ids": [1], "embeddings": [[1.0, 2.0]]}),
    ("update", {}),
    ("delete", {}),
    ("get", {"limit": "ten"}),
    ("query", {}),
    ("query", {"query_embeddings": [["a", "b"]]}),
    ("query", {"query_embeddings": [[1.0, 2.0]], "n_results": -1}),
    ("count", {"extra": 1}),
    ("hybrid_search", {"knn": "near"}),
    ("query", []),
]


@pytest.mark.parametrize(("op", "body"), _BAD_BODIES)
def test_bad_collection_bodies_get_a_400_that_names_the_problem(
    spruce_server: RunningServer, op: str, body: object
) -> None:
    with spruce.HttpClient(host=spruce_server.url) as remote:
        col = remote.get_or_create_collection("bad_bodies", embedding_function=None)
        col.upsert(ids=["a"], embeddings=[[1.0, 2.0]])
        answer = httpx.post(f"{spruce_server.url}/spruce/collections/bad_bodies/{op}", json=body)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["message"]
        assert col.count() == 1

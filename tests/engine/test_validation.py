"""Every documented limit and bad input: a specific error, a message naming the problem, no data change.

Each bad write is attempted on an index that already holds records (in two namespaces), usually with
the bad record last in an otherwise valid batch, and the whole visible state is compared before and
after, so a partially applied batch or a half-done update cannot go unnoticed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import spruce
from spruce.config import EngineConfig
from spruce.errors import (
    AlreadyExistsError,
    DimensionMismatchError,
    ForbiddenError,
    IndexNotFoundError,
    InvalidArgumentError,
    InvalidFilterError,
    SpruceError,
)

DIM = 4
NAMESPACES = ("", "other")


@pytest.fixture(params=["memory", "disk"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[spruce.Client]:
    path = tmp_path / "db" if request.param == "disk" else None
    with spruce.Client(path=path, config=EngineConfig(memtable_max_rows=3, background=False)) as c:
        yield c


@pytest.fixture
def index(client: spruce.Client) -> spruce.Index:
    client.create_index("v", dimension=DIM, metric="dotproduct")
    ix = client.Index("v")
    for ns in NAMESPACES:
        ix.upsert(
            vectors=[
                {
                    "id": f"id{i}",
                    "values": [float(i), 1.0, 0.0, -1.0],
                    "sparse_values": {"indices": [i, 7], "values": [1.0, 2.0]},
                    "metadata": {
                        "genre": "drama" if i % 2 else "comedy",
                        "year": 2000 + i,
                        "tags": ["a", "b"],
                    },
                }
                for i in range(5)  # more than the memtable: some rows are in sealed blocks
            ],
            namespace=ns,
        )
    return ix


def snapshot(ix: spruce.Index) -> dict[str, Any]:
    """Everything a client can observe, in comparable form."""
    out: dict[str, Any] = {"stats": ix.describe_index_stats().to_dict()}
    for ns in NAMESPACES:
        ids = [i for page in ix.list(namespace=ns) for i in page]
        fetched = ix.fetch(ids=ids, namespace=ns).vectors if ids else {}
        out[ns] = {rid: v.to_dict() for rid, v in sorted(fetched.items())}
    return out


def good(rid: str = "new") -> dict[str, Any]:
    return {"id": rid, "values": [1.0, 2.0, 3.0, 4.0], "metadata": {"genre": "x"}}


def rejects(
    ix: spruce.Index, fn: Callable[[], Any], error: type[SpruceError], *fragments: str
) -> SpruceError:
    """`fn` raises exactly-or-a-subclass-of `error`, its message names the problem, and nothing changed."""
    before = snapshot(ix)
    with pytest.raises(error) as info:
        fn()
    msg = str(info.value)
    for fragment in fragments:
        assert fragment in msg, f"message {msg!r} should mention {fragment!r}"
    assert snapshot(ix) == before, "a rejected request changed stored data"
    return info.value


# -- dense values ----------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [[1.0, 2.0, 3.0], [1.0] * 5, []])
def test_wrong_dimension_upsert(index: spruce.Index, bad: list[float]) -> None:
    if not bad:
        # Empty values means "no dense part", which a dense index needs.
        rejects(
            index,
            lambda: index.upsert(vectors=[good(), {"id": "x", "values": bad}]),
            InvalidArgumentError,
            "'x'",
            "values",
        )
        return
    rejects(
        index,
        lambda: index.upsert(vectors=[good(), {"id": "x", "values": bad}]),
        DimensionMismatchError,
        f"dimension {len(bad)}",
        f"dimension {DIM}",
    )


def test_wrong_dimension_query_and_update(index: spruce.Index) -> None:
    rejects(index, lambda: index.query(vector=[1.0, 2.0], top_k=3), DimensionMismatchError, "dimension 2")
    rejects(index, lambda: index.update(id="id1", values=[1.0] * 7), DimensionMismatchError, "dimension 7")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_values(index: spruce.Index, bad: float) -> None:
    vec = [1.0, bad, 0.0, 0.0]
    rejects(
        index,
        lambda: index.upsert(vectors=[good(), {"id": "x", "values": vec}]),
        InvalidArgumentError,
        "NaN or infinity",
    )
    rejects(index, lambda: index.update(id="id1", values=vec), InvalidArgumentError, "NaN or infinity")
    rejects(index, lambda: index.query(vector=vec, top_k=1), InvalidArgumentError, "NaN or infinity")
    sparse = {"indices": [1, 2], "values": [1.0, bad]}
    rejects(
        index,
        lambda: index.upsert(vectors=[good(), {**good("x"), "sparse_values": sparse}]),
        InvalidArgumentError,
        "NaN or infinity",
    )


# -- ids -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["", "x" * 513])
def test_bad_ids(index: spruce.Index, bad: str) -> None:
    rejects(
        index,
        lambda: index.upsert(vectors=[good(), good(bad)]),
        InvalidArgumentError,
        "1 to 512 characters",
        str(len(bad)),
    )
    rejects(index, lambda: index.delete(ids=["id1", bad]), InvalidArgumentError, "1 to 512")
    rejects(index, lambda: index.fetch(ids=[bad]), InvalidArgumentError, "1 to 512")
    rejects(index, lambda: index.update(id=bad, set_metadata={"a": "b"}), InvalidArgumentError, "1 to 512")


def test_id_of_512_chars_is_fine(index: spruce.Index) -> None:
    rid = "y" * 512
    index.upsert(vectors=[good(rid)])
    assert list(index.fetch(ids=[rid]).vectors) == [rid]


# -- metadata --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("metadata", "error", "fragments"),
    [
        ({"big": "x" * (40 * 1024)}, InvalidArgumentError, ("bytes", "40960")),
        ({"nested": {"a": 1}}, InvalidArgumentError, ("'nested'", "flat")),
        ({"n": None}, InvalidArgumentError, ("'n'", "null")),
        ({"$bad": 1}, InvalidArgumentError, ("'$bad'", "$")),
        ({"mixed": ["a", 1]}, InvalidArgumentError, ("'mixed'", "strings")),
        ({"f": float("nan")}, InvalidArgumentError, ("'f'", "NaN")),
    ],
)
def test_bad_metadata(
    index: spruce.Index, metadata: dict[str, Any], error: type[SpruceError], fragments: tuple[str, ...]
) -> None:
    rejects(
        index, lambda: index.upsert(vectors=[good(), {**good("x"), "metadata": metadata}]), error, *fragments
    )
    rejects(index, lambda: index.update(id="id1", set_metadata=metadata), error, *fragments)
    rejects(index, lambda: index.update(filter={"genre": "drama"}, set_metadata=metadata), error, *fragments)


def test_metadata_just_under_the_limit_is_fine(index: spruce.Index) -> None:
    md = {"big": "x" * (40 * 1024 - 20)}  # the JSON encoding adds {"big":""} = 10 bytes
    index.upsert(vectors=[{**good(), "metadata": md}])
    assert index.fetch(ids=["new"]).vectors["new"].metadata == md


# -- sparse values ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sparse", "fragments"),
    [
        ({"indices": [3, 1, 3], "values": [1.0, 2.0, 3.0]}, ("repeat",)),
        ({"indices": [1, 2], "values": [1.0]}, ("(2)", "(1)", "same length")),
        ({"indices": list(range(2049)), "values": [1.0] * 2049}, ("2049", "2048")),
        ({"indices": [-1, 2], "values": [1.0, 2.0]}, ("uint32", str(2**32 - 1))),
        ({"indices": [1, 2**32], "values": [1.0, 2.0]}, ("uint32", str(2**32 - 1))),
    ],
)
def test_bad_sparse(index: spruce.Index, sparse: dict[str, Any], fragments: tuple[str, ...]) -> None:
    rejects(
        index,
        lambda: index.upsert(vectors=[good(), {**good("x"), "sparse_values": sparse}]),
        InvalidArgumentError,
        "sparse_values",
        *fragments,
    )
    rejects(index, lambda: index.update(id="id1", sparse_values=sparse), InvalidArgumentError, *fragments)
    rejects(index, lambda: index.query(sparse_vector=sparse, top_k=1), InvalidArgumentError, *fragments)


def test_sparse_limits_inclusive(index: spruce.Index) -> None:
    sparse = {"indices": [0, *range(10, 2056), 2**32 - 1], "values": [1.0] * 2048}
    index.upsert(vectors=[{**good(), "sparse_values": sparse}])
    got = index.fetch(ids=["new"]).vectors["new"].sparse_values
    assert got["indices"] == sparse["indices"]


# -- queries and filters ---------------------------------------------------------------------------
@pytest.mark.parametrize("top_k", [0, 10_001, -1])
def test_bad_top_k(index: spruce.Index, top_k: int) -> None:
    rejects(
        index,
        lambda: index.query(vector=[1.0] * DIM, top_k=top_k),
        InvalidArgumentError,
        "top_k",
        "10000",
        str(top_k),
    )


def test_top_k_limit_inclusive(index: spruce.Index) -> None:
    assert len(index.query(vector=[1.0] * DIM, top_k=10_000).matches) == 5


def test_in_with_too_many_values(index: spruce.Index) -> None:
    flt = {"genre": {"$in": [f"g{i}" for i in range(10_001)]}}
    rejects(
        index,
        lambda: index.query(vector=[1.0] * DIM, top_k=3, filter=flt),
        InvalidFilterError,
        "$in",
        "10001",
        "10000",
    )
    rejects(index, lambda: index.delete(filter=flt), InvalidFilterError, "$in")
    rejects(index, lambda: index.update(filter=flt, set_metadata={"a": "b"}), InvalidFilterError, "$in")
    ok = {"genre": {"$in": ["drama", *(f"g{i}" for i in range(9_999))]}}
    assert len(index.query(vector=[1.0] * DIM, top_k=10, filter=ok).matches) == 2


@pytest.mark.parametrize(
    ("flt", "fragments"),
    [
        ({"genre": {"$regex": "dr.*"}}, ("$regex", "'genre'")),
        ({"$nor": [{"genre": "drama"}]}, ("$nor",)),
        ({"genre": ["drama"]}, ("genre", "$in")),
        ({"year": {"$gt": "2000"}}, ("$gt", "year")),
    ],
)
def test_bad_filters(index: spruce.Index, flt: dict[str, Any], fragments: tuple[str, ...]) -> None:
    rejects(
        index, lambda: index.query(vector=[1.0] * DIM, top_k=3, filter=flt), InvalidFilterError, *fragments
    )
    rejects(index, lambda: index.delete(filter=flt), InvalidFilterError, *fragments)
    rejects(
        index,
        lambda: index.update(filter=flt, set_metadata={"a": "b"}, dry_run=False),
        InvalidFilterError,
        *fragments,
    )
    rejects(index, lambda: index.describe_index_stats(filter=flt), InvalidFilterError, *fragments)


# -- batches ---------------------------------------------------------------------------------------
def test_upsert_of_1001_records_writes_none(index: spruce.Index) -> None:
    batch = [good(f"b{i}") for i in range(1_001)]
    rejects(index, lambda: index.upsert(vectors=batch), InvalidArgumentError, "1001", "1000")
    index.upsert(vectors=batch[:1_000])
    assert index.describe_index_stats().namespaces[""].vector_count == 1_005


def test_bad_record_late_in_a_batch_writes_none(index: spruce.Index) -> None:
    # The 999 good records come first: validation must finish before anything is applied.
    batch = [good(f"b{i}") for i in range(999)] + [{"id": "bad", "values": [1.0, 2.0]}]
    rejects(index, lambda: index.upsert(vectors=batch), DimensionMismatchError, "vectors[999]")


# -- control plane ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dimension", [0, 20_001, -3])
def test_create_with_bad_dimension(client: spruce.Client, dimension: int) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        client.create_index("bad", dimension=dimension, metric="cosine")
    assert "dimension" in str(info.value) and "20000" in str(info.value) and str(dimension) in str(info.value)
    assert not client.has_index("bad")
    assert client.list_indexes().names() == []


@pytest.mark.parametrize("dimension", [1, 20_000])
def test_create_dimension_limits_inclusive(client: spruce.Client, dimension: int) -> None:
    client.create_index("ok", dimension=dimension, metric="cosine")
    assert client.describe_index("ok").dimension == dimension


def test_duplicate_index(client: spruce.Client, index: spruce.Index) -> None:
    before = snapshot(index)
    with pytest.raises(AlreadyExistsError, match="'v'"):
        client.create_index("v", dimension=8, metric="cosine")
    assert client.describe_index("v").dimension == DIM
    assert snapshot(index) == before


def test_deletion_protection(client: spruce.Client, index: spruce.Index) -> None:
    client.configure_index("v", deletion_protection="enabled")
    before = snapshot(index)
    with pytest.raises(ForbiddenError, match="deletion protection"):
        client.delete_index("v")
    assert client.has_index("v")
    assert snapshot(client.Index("v")) == before
    client.configure_index("v", deletion_protection="disabled")
    client.delete_index("v")
    assert not client.has_index("v")


def test_missing_index(client: spruce.Client) -> None:
    for call in (
        lambda: client.describe_index("nope"),
        lambda: client.delete_index("nope"),
        lambda: client.Index("nope"),
        lambda: client.configure_index("nope", deletion_protection="enabled"),
    ):
        with pytest.raises(IndexNotFoundError, match="'nope'"):
            call()


def test_errors_are_spruce_errors_not_builtins(index: spruce.Index) -> None:
    """Bad shapes from callers become InvalidArgumentError, never a bare TypeError/ValueError (a 500)."""
    for call in (
        lambda: index.upsert(vectors=[{"id": "x", "values": "abcd"}]),
        lambda: index.upsert(vectors=[{"id": 5, "values": [1.0] * DIM}]),
        lambda: index.upsert(vectors=[{"id": "x", "values": [1.0] * DIM, "metadata": ["a"]}]),
        lambda: index.upsert(
            vectors=[{"id": "x", "values": [1.0] * DIM, "sparse_values": {"indices": ["a"], "values": [1.0]}}]
        ),
        lambda: index.query(vector=[1.0] * DIM, top_k=3, filter=["genre"]),  # type: ignore[arg-type]
        lambda: index.query(top_k=3),
    ):
        rejects(index, call, InvalidArgumentError)

"""Strict input through the embedded client: control characters in names and booleans posing as numbers
are refused by the service (so REST, gRPC and embedded agree), and nothing changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import spruce
from spruce.config import EngineConfig
from spruce.errors import InvalidArgumentError
from spruce.service import validation


@pytest.fixture
def index() -> Iterator[spruce.Index]:
    with spruce.Client(config=EngineConfig(background=False)) as client:
        client.create_index("v", dimension=3, metric="dotproduct")
        ix = client.Index("v")
        ix.upsert(vectors=[("a", [0.5, 1.0, 0.0], {"g": "x"}), ("b", [0.0, 1.0, 0.25])], namespace="ns")
        yield ix


def rejects(ix: spruce.Index, fn: Callable[[], Any], *fragments: str) -> None:
    before = ix.fetch(ids=["a", "b"], namespace="ns").to_dict(), ix.describe_index_stats().to_dict()
    with pytest.raises(InvalidArgumentError) as info:
        fn()
    for fragment in fragments:
        assert fragment in info.value.message, info.value.message
    assert (ix.fetch(ids=["a", "b"], namespace="ns").to_dict(), ix.describe_index_stats().to_dict()) == before


@pytest.mark.parametrize("char", ["\x00", "\x01", "\t", "\n", "\x1f", "\x7f", "\x85", "\x9f"])
def test_control_characters_in_names(index: spruce.Index, char: str) -> None:
    code = f"U+{ord(char):04X}"
    rejects(index, lambda: index.upsert(vectors=[(f"x{char}y", [1, 0, 0])], namespace="ns"), code, "id")
    rejects(index, lambda: index.upsert(vectors=[("c", [1, 0, 0])], namespace=f"n{char}"), code, "namespace")
    rejects(
        index,
        lambda: index.upsert(vectors=[("c", [1, 0, 0], {f"k{char}": 1})], namespace="ns"),
        code,
        "metadata key",
    )
    rejects(index, lambda: index.update(id="a", set_metadata={f"k{char}": 1}, namespace="ns"), code)
    rejects(index, lambda: index.fetch(ids=[f"a{char}"], namespace="ns"), code)
    rejects(index, lambda: index.delete(ids=[f"a{char}"], namespace="ns"), code)
    rejects(index, lambda: index.query(vector=[1, 0, 0], top_k=1, namespace=f"{char}"), code)


def test_printable_unicode_names_are_fine(index: spruce.Index) -> None:
    # Not control characters: non-ASCII spaces, format marks (emoji joiners), accents, CJK.
    names = ["caf\u00e9", "a\u00a0b", "\U0001f469\u200d\U0001f4bb", "\u6587\u4ef6", "tab is not here"]
    index.upsert(vectors=[(n, [1, 0, 0], {n: 1}) for n in names], namespace=names[1])
    assert set(index.fetch(ids=names, namespace=names[1]).vectors) == set(names)


@pytest.mark.parametrize(
    "values", [[True, 0.0, 0.5], [0.5, 0.25, False], (1, True, 0), np.array([True, False, True])]
)
def test_booleans_are_not_numbers(index: spruce.Index, values: Any) -> None:
    rejects(index, lambda: index.upsert(vectors=[("c", values)], namespace="ns"), "booleans")
    rejects(index, lambda: index.update(id="a", values=values, namespace="ns"), "booleans")
    rejects(index, lambda: index.query(vector=values, top_k=1, namespace="ns"), "booleans")
    sparse = {"indices": [1, 2, 3], "values": values}
    rejects(
        index,
        lambda: index.upsert(
            vectors=[{"id": "c", "values": [1, 0, 0], "sparse_values": sparse}], namespace="ns"
        ),
        "booleans",
    )


def test_an_empty_batch_is_refused(index: spruce.Index) -> None:
    rejects(index, lambda: index.upsert(vectors=[], namespace="ns"), "at least one record")


def test_control_character_helper() -> None:
    assert validation.control_character("plain text") is None
    assert validation.control_character("a\u00a0b\u200d") is None
    assert validation.control_character("a\x00") == "U+0000"
    assert validation.control_character("\x9f") == "U+009F"

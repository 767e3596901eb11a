"""The batch fast paths of upsert validation (ids judged for the whole batch, metadata sizes bounded
without encoding) must refuse exactly what the per-record checks refuse, with the same messages."""

from __future__ import annotations

import numpy as np
import pytest

from spruce.client.vector_forms import to_records
from spruce.errors import InvalidArgumentError
from spruce.service import validation as v
from spruce.types import Record


def _batch(ids: list[object]) -> list[Record]:
    return [Record(i, np.ones(2, np.float32)) for i in ids]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rid", "words"),
    [("", "1 to 512"), ("x" * 513, "1 to 512"), ("a\x00b", "control character"), (7, "must be a string")],
)
def test_a_bad_id_anywhere_in_a_batch_is_named(rid: object, words: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        v.check_records(_batch(["a", "b", rid, "c"]), 2, "dense")
    assert "vectors[2].id" in caught.value.message and words in caught.value.message


def test_a_missing_value_in_a_batch_is_named() -> None:
    batch = _batch(["a", "b"])
    batch[1].values = None
    with pytest.raises(InvalidArgumentError, match=r"vectors\[1\] \('b'\) needs values"):
        v.check_records(batch, 2, "dense")


def test_non_ascii_printable_ids_pass() -> None:
    v.check_records(_batch(["é", "日本", "a b"]), 2, "dense")


@pytest.mark.parametrize(
    "meta",
    [
        {"s": "x" * (v.MAX_METADATA_BYTES - 5)},  # just over once quoted
        {f"k{i}": "\x01" * 400 for i in range(20)},  # escaped control characters grow 6x
        {"l": ["x" * 1000] * 41},
    ],
)
def test_metadata_over_the_limit_is_still_refused(meta: dict[str, object]) -> None:
    with pytest.raises(InvalidArgumentError, match="bytes per record"):
        v.metadata(meta)


def test_small_metadata_is_copied_not_aliased() -> None:
    meta = {"a": 1, "b": "x", "c": True, "d": 0.5}
    out = v.metadata(meta)
    assert out == meta and out is not meta


def test_embedded_fast_conversion_matches_the_general_one() -> None:
    rows = np.ones((3, 2), np.float32)
    simple = [{"id": "a", "values": rows[0]}, {"id": "b", "values": [], "metadata": {"k": 1}}]
    recs = to_records(simple)
    assert [(r.id, r.values, r.metadata) for r in recs][1] == ("b", None, {"k": 1})
    other = [{"id": "a", "values": rows[0], "sparse_values": {"indices": [1], "values": [0.5]}}]
    assert to_records(other)[0].sparse_values == {"indices": [1], "values": [0.5]}


def test_an_integer_beyond_64_bits_is_a_clear_error_not_a_crash() -> None:
    # The size bound sends it to the encoder, whose TypeError escaped the error tree before.
    with pytest.raises(InvalidArgumentError, match="'big' is an integer beyond 64 bits"):
        v.metadata({"ok": 1, "big": -(2**63) - 1})
    assert v.metadata({"big": 2**64 - 1}) == {"big": 2**64 - 1}

"""Full-text index: `$contains` from the index equals a substring scan; BM25 equals its formula."""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.engine.fulltext import TextIndex, bm25_scores, tokenize

ALPHABET = "abAB éßİΣς-_. 1"
texts = st.lists(st.one_of(st.none(), st.text(alphabet=ALPHABET, max_size=30)), min_size=1, max_size=25)


def build(docs: list[str | None]) -> TextIndex:
    index = TextIndex("document")
    rows: list[Any] = [None if d is None else {"document": d} for d in docs]
    # Two steps, as a memtable is indexed while it grows.
    index.catch_up(rows, len(rows) // 2)
    index.catch_up(rows, len(rows))
    return index


@settings(max_examples=300, deadline=None, derandomize=True)
@given(docs=texts, data=st.data())
def test_contains_equals_a_substring_scan(docs: list[str | None], data: st.DataObject) -> None:
    index = build(docs)
    present = [d for d in docs if d]
    if present and data.draw(st.booleans()):
        doc = data.draw(st.sampled_from(present))
        start = data.draw(st.integers(0, len(doc) - 1))
        pattern = doc[start : data.draw(st.integers(start + 1, len(doc)))]
    else:
        pattern = data.draw(st.text(alphabet=ALPHABET, min_size=1, max_size=6))
    got = index.contains_rows(pattern).tolist()
    assert got == [d is not None and pattern in d for d in docs], pattern


def test_regex_and_tokenizer() -> None:
    index = build(["Grüße aus Köln", "STRASSE", None, "x_y-z 42"])
    assert index.regex_rows(re.compile(r"\d+$")).tolist() == [False, False, False, True]
    assert tokenize("Grüße aus KÖLN, x_y-z!") == ["grüsse", "aus", "köln", "x_y", "z"]
    assert index.contains_rows("ße").tolist() == [True, False, False, False]  # exact, not case-folded


def test_bm25_matches_the_formula_across_blocks() -> None:
    a = build(["red fox", "red red red dog", None])
    b = build(["blue fox fox", "green"])
    allowed_a = np.array([True, True, True])
    allowed_b = np.array([True, False])  # "green" is filtered out: it does not count in the statistics
    result = bm25_scores([(a, allowed_a), (b, allowed_b)], ["red", "fox"])
    docs = [["red", "fox"], ["red", "red", "red", "dog"], [], ["blue", "fox", "fox"]]
    n = len(docs)
    avg = sum(map(len, docs)) / n

    def score(doc: list[str]) -> float:
        total = 0.0
        for term in ("red", "fox"):
            df = sum(term in d for d in docs)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = doc.count(term)
            total += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * len(doc) / avg))
        return total

    (rows_a, scores_a), (rows_b, scores_b) = result
    assert rows_a.tolist() == [0, 1] and rows_b.tolist() == [0]
    assert np.allclose(scores_a, [score(docs[0]), score(docs[1])])
    assert np.allclose(scores_b, [score(docs[3])])

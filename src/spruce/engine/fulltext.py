"""Full text over one text field of a block's metadata: a tokenizer, an inverted index, BM25.

Tokenizer: Unicode-aware and deliberately plain. The text is case-folded (`str.casefold`, which unlike
`lower` has no context rules, so the folding of a substring is a substring of the folding) and split into
maximal runs of word characters (`\\w+` in Python's Unicode regex: letters, digits and `_` of every
script); everything else separates tokens. No stemming, no stop words, so a token is a substring of
the text up to case, which lets `$contains` use the index for candidates and stay an exact,
case-sensitive substring test.

Index: per block, term -> rows (int32, ascending) and term frequencies, plus each row's token count.
A sealed block's index is built from its rows on first use and kept for the block's life (blocks are
immutable apart from deletions, which queries apply through the alive mask). The memtable's index is
caught up incrementally with the rows appended since its last use, since a memtable only grows. The
index is held in RAM beside the block (a weak map, so it dies with the block) and rebuilt after a
restart: see benchmarks/collection_api.py for what a rebuild costs.

`contains_rows`: each word-character run of the pattern selects the vocabulary terms it can be part
of (equal, prefix, suffix or infix, depending on whether the run touches the ends of the pattern);
the rows holding such terms for every run are the candidates, and each candidate is verified with an
exact `pattern in text`. A pattern without word characters has no index to use and is tested row by
row. `$regex` is compiled once and tested row by row (rows with text only).
"""

from __future__ import annotations

import bisect
import math
import re
import threading
import weakref
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from spruce.types import BoolArray, IntArray

_TOKEN = re.compile(r"\w+")
BM25_K1 = 1.2
BM25_B = 0.75


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.casefold())


def _text_of(metadata: Any, field: str) -> str | None:
    if not metadata:
        return None
    value = metadata.get(field)
    return value if isinstance(value, str) else None


class TextIndex:
    """The inverted index of rows 0..n-1 of one block's `field`; grows by `catch_up`."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.n = 0
        self._rows: dict[str, list[int]] = {}
        self._tfs: dict[str, list[int]] = {}
        self._frozen: dict[str, tuple[IntArray, IntArray]] = {}
        self.lengths: list[int] = []
        self.texts: list[str | None] = []
        self._vocab: list[str] | None = None
        self._joined: tuple[str, list[int]] | None = None
        self.lock = threading.Lock()

    def catch_up(self, metadata: Sequence[Any], n: int) -> None:
        """Index rows self.n..n-1 (call with `lock` held)."""
        if n <= self.n:
            return
        rows, tfs = self._rows, self._tfs
        for row in range(self.n, n):
            text = _text_of(metadata[row], self.field)
            self.texts.append(text)
            if text is None:
                self.lengths.append(0)
                continue
            counts = Counter(tokenize(text))
            self.lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                plist = rows.get(term)
                if plist is None:
                    rows[term] = [row]
                    tfs[term] = [tf]
                    self._vocab = None
                else:
                    plist.append(row)
                    tfs[term].append(tf)
                self._frozen.pop(term, None)
        self.n = n
        self._joined = None

    # -- lookups ----------------------------------------------------------------------------------
    def postings(self, term: str) -> tuple[IntArray, IntArray]:
        """(rows, term frequencies) of one exact term."""
        got = self._frozen.get(term)
        if got is None:
            rows = self._rows.get(term)
            if rows is None:
                empty = np.zeros(0, dtype=np.int64)
                return empty, empty
            got = (np.asarray(rows, dtype=np.int64), np.asarray(self._tfs[term], dtype=np.int64))
            self._frozen[term] = got
        return got

    def vocabulary(self) -> list[str]:
        if self._vocab is None:
            self._vocab = sorted(self._rows)
        return self._vocab

    def _terms_with(self, run: str, starts: bool, ends: bool) -> list[str]:
        """Terms that `run` can be part of: equal to it (`starts` and `ends`: the run is bounded on
        both sides in the pattern), a prefix of, a suffix of, or inside the term."""
        if starts and ends:
            return [run] if run in self._rows else []
        vocab = self.vocabulary()
        if starts:
            lo = bisect.bisect_left(vocab, run)
            out = []
            while lo < len(vocab) and vocab[lo].startswith(run):
                out.append(vocab[lo])
                lo += 1
            return out
        if self._joined is None or len(self._joined[1]) != len(vocab):
            offsets, pos = [], 0
            for term in vocab:
                offsets.append(pos)
                pos += len(term) + 1
            self._joined = ("\n".join(vocab), offsets)
        joined, offsets = self._joined
        found: list[str] = []
        at = joined.find(run)
        while at >= 0:
            i = bisect.bisect_right(offsets, at) - 1
            term = vocab[i]
            if not ends or term.endswith(run):
                found.append(term)
            at = joined.find(run, offsets[i] + len(term) + 1) if i + 1 < len(offsets) else -1
        return found

    def contains_rows(self, pattern: str) -> BoolArray:
        """Rows whose text contains `pattern` (exact, case-sensitive)."""
        n = self.n
        out = np.zeros(n, dtype=np.bool_)
        folded = pattern.casefold()
        runs = list(_TOKEN.finditer(folded))
        if not runs:
            for row, text in enumerate(self.texts):
                if text is not None and pattern in text:
                    out[row] = True
            return out
        candidates: BoolArray | None = None
        for m in runs:
            bounded_left = m.start() > 0
            bounded_right = m.end() < len(folded)
            terms = self._terms_with(m.group(), starts=bounded_left, ends=bounded_right)
            hit = np.zeros(n, dtype=np.bool_)
            for term in terms:
                hit[self.postings(term)[0]] = True
            candidates = hit if candidates is None else candidates & hit
            if not candidates.any():
                return out
        assert candidates is not None
        texts = self.texts
        for row in np.flatnonzero(candidates).tolist():
            text = texts[row]
            if text is not None and pattern in text:
                out[row] = True
        return out

    def regex_rows(self, regex: re.Pattern[str]) -> BoolArray:
        out = np.zeros(self.n, dtype=np.bool_)
        search = regex.search
        for row, text in enumerate(self.texts):
            if text is not None and search(text) is not None:
                out[row] = True
        return out

    def has_text(self) -> BoolArray:
        return np.fromiter((t is not None for t in self.texts), dtype=np.bool_, count=self.n)


_INDEXES: weakref.WeakKeyDictionary[Any, TextIndex] = weakref.WeakKeyDictionary()
_INDEXES_LOCK = threading.Lock()


def text_index(block: Any, field: str, n: int) -> TextIndex:
    """The block's index over `field`, covering at least its first `n` rows."""
    with _INDEXES_LOCK:
        index = _INDEXES.get(block)
        if index is None or index.field != field:
            index = TextIndex(field)
            _INDEXES[block] = index
    with index.lock:
        index.catch_up(block.metadata, n)
    return index


# -- BM25 -----------------------------------------------------------------------------------------
def bm25_scores(
    parts: Iterable[tuple[TextIndex, BoolArray]], terms: Sequence[str]
) -> list[tuple[IntArray, np.ndarray[Any, np.dtype[np.float64]]]]:
    """BM25 (k1=1.2, b=0.75, Lucene's idf) of `terms` over several blocks' allowed rows.

    Corpus statistics (document count, average length, document frequency) come from the allowed
    rows of all the blocks together, so a score does not depend on how rows fall into blocks.
    Returns per block (rows with a positive score, their scores).
    """
    parts = list(parts)
    unique = list(dict.fromkeys(terms))
    docs = 0
    total_len = 0
    df = dict.fromkeys(unique, 0)
    for index, allowed in parts:
        mask = allowed[: index.n]
        docs += int(mask.sum())
        total_len += int(np.asarray(index.lengths, dtype=np.int64)[mask].sum())
        for term in unique:
            rows, _ = index.postings(term)
            df[term] += int(mask[rows].sum())
    out: list[tuple[IntArray, np.ndarray[Any, np.dtype[np.float64]]]] = []
    if docs == 0:
        return [(np.zeros(0, dtype=np.int64), np.zeros(0)) for _ in parts]
    avg = total_len / docs if total_len else 1.0
    for index, allowed in parts:
        mask = allowed[: index.n]
        lengths = np.asarray(index.lengths, dtype=np.float64)
        scores = np.zeros(index.n, dtype=np.float64)
        for term in unique:
            if df[term] == 0:
                continue
            idf = math.log(1.0 + (docs - df[term] + 0.5) / (df[term] + 0.5))
            rows, tfs = index.postings(term)
            keep = mask[rows]
            rows, tf = rows[keep], tfs[keep].astype(np.float64)
            norm = BM25_K1 * (1.0 - BM25_B + BM25_B * lengths[rows] / avg)
            scores[rows] += idf * tf * (BM25_K1 + 1.0) / (tf + norm)
        hit = np.flatnonzero(scores > 0)
        out.append((hit.astype(np.int64), scores[hit]))
    return out

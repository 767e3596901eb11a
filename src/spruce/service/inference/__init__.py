"""Local inference: embedding and reranking models, offline, behind Pinecone's model names.

    get_registry() -> ModelRegistry
    ModelRegistry.list_models(type=None, vector_type=None) -> list[ModelInfo]
    ModelRegistry.get_model(name) -> ModelInfo                     # ModelNotFoundError
    ModelRegistry.embed(model, inputs, *, input_type=None, truncate="END", dimension=None) -> EmbedResult
    ModelRegistry.rerank(model, query, documents, *, top_n=None, truncate="END") -> RerankResult

The table of names is `table.BUILTIN`; user models come from configuration (`user_models`).
"""

from spruce.errors import ModelNotFoundError, ModelUnavailableError
from spruce.service.inference.registry import ModelRegistry, get_registry
from spruce.service.inference.types import EmbedResult, ModelInfo, RerankResult, SupportedParameter

__all__ = [
    "EmbedResult",
    "ModelInfo",
    "ModelNotFoundError",
    "ModelRegistry",
    "ModelUnavailableError",
    "RerankResult",
    "SupportedParameter",
    "get_registry",
]

"""The values the inference service hands out: model descriptions and embed / rerank results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from spruce.types import FloatArray, SparseVector

ModelType = Literal["embed", "rerank"]
VectorType = Literal["dense", "sparse"]


@dataclass(frozen=True, slots=True)
class SupportedParameter:
    """One key of a request's `parameters`, described the way Pinecone's `/models` does."""

    parameter: str
    type: str  # "one_of" (a fixed set), "numeric_range" or "any"
    value_type: str  # "string", "integer", "boolean"
    required: bool
    allowed_values: tuple[str | int, ...] | None = None
    min: int | None = None
    max: int | None = None
    default: str | int | bool | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a model name serves. `stand_in` names the local model that does the work.

    `dimension` is the default (reported) dimension of a dense model; `native_dimension` is what the
    stand-in computes. Anything between is zero padding, which keeps cosine, dot product and euclidean
    distance exactly as the stand-in's.
    """

    name: str
    type: ModelType
    vector_type: VectorType | None
    dimension: int | None
    supported_dimensions: tuple[int, ...] | None
    native_dimension: int | None
    max_sequence_length: int
    max_batch_size: int
    supported_parameters: tuple[SupportedParameter, ...]
    description: str
    stand_in: str
    provider_name: str = "Spruce (local)"
    supported_metrics: tuple[str, ...] | None = None
    modality: str = "text"
    input_types: bool = False  # does input_type ("query" / "passage") change the output?
    user: bool = False  # added by configuration, not built in

    def parameter(self, name: str) -> SupportedParameter | None:
        for p in self.supported_parameters:
            if p.parameter == name:
                return p
        return None


@dataclass(slots=True)
class EmbedResult:
    """Either `dense` ((n, d) float32, d the dimension asked for) or `sparse` (one vector per input)."""

    vector_type: VectorType
    dense: FloatArray | None
    sparse: list[SparseVector] | None
    total_tokens: int
    # The word-piece each sparse index stands for, when the model's ids are vocabulary ids.
    sparse_tokens: list[list[str]] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        if self.dense is not None:
            return int(self.dense.shape[0])
        return len(self.sparse or [])


@dataclass(slots=True)
class RerankResult:
    """`ranked`: (index of the document in the request, score in [0, 1]), best first."""

    ranked: list[tuple[int, float]]
    rerank_units: int

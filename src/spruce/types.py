"""Plain value types shared by every layer (no wire casing, no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

Metric = Literal["cosine", "euclidean", "dotproduct"]
VectorType = Literal["dense", "sparse"]
MetadataValue: TypeAlias = "str | int | float | bool | list[str]"
Metadata: TypeAlias = "dict[str, str | int | float | bool | list[str]]"
FloatArray: TypeAlias = npt.NDArray[np.float32]
UIntArray: TypeAlias = npt.NDArray[np.uint32]
IntArray: TypeAlias = npt.NDArray[np.int64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]

METRICS: tuple[str, ...] = ("cosine", "euclidean", "dotproduct")


@dataclass(frozen=True, slots=True)
class SparseVector:
    """Sparse values: `indices` uint32, sorted ascending, no duplicates; `values` float32, same length."""

    indices: UIntArray
    values: FloatArray

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SparseVector):
            return NotImplemented
        return bool(np.array_equal(self.indices, other.indices) and np.array_equal(self.values, other.values))

    def __hash__(self) -> int:
        return hash((self.indices.tobytes(), self.values.tobytes()))


@dataclass(slots=True)
class Record:
    """One stored record. `values` is None for sparse-only records (sparse indexes)."""

    id: str
    values: FloatArray | None = None
    sparse_values: SparseVector | None = None
    metadata: Metadata | None = None


@dataclass(slots=True)
class Match:
    id: str
    score: float
    values: FloatArray | None = None
    sparse_values: SparseVector | None = None
    metadata: Metadata | None = None


@dataclass(frozen=True, slots=True)
class EmbedSpec:
    """Integrated embedding: the model and which record field holds the text."""

    model: str
    field_map: dict[str, str]
    metric: str | None = None
    dimension: int | None = None
    read_parameters: dict[str, object] = field(default_factory=dict)
    write_parameters: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class IndexInfo:
    """What the catalogue knows about one index."""

    name: str
    dimension: int | None
    metric: Metric
    vector_type: VectorType
    deletion_protection: Literal["enabled", "disabled"] = "disabled"
    tags: dict[str, str] = field(default_factory=dict)
    cloud: str = "aws"
    region: str = "us-east-1"
    embed: EmbedSpec | None = None
    created_at: str = ""


@dataclass(frozen=True, slots=True)
class NamespaceInfo:
    name: str
    record_count: int
    schema_fields: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class IndexStats:
    namespaces: dict[str, int]
    dimension: int | None
    metric: Metric
    vector_type: VectorType
    total_vector_count: int
    index_fullness: float = 0.0


@dataclass(frozen=True, slots=True)
class Page:
    """A page of ids or records, with the token for the next page (None at the end)."""

    items: list[str]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class IndexHealth:
    """An index's serving state, as describe_index reports it (`state` is one of Pinecone's)."""

    ready: bool = True
    state: str = "Ready"
    reason: str | None = None
    lost_frames: int = 0  # WAL frames a skip-corrupted recovery could not read when it opened

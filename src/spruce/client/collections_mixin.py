"""A client's collection methods (create, get, list, delete), and the embedding function each
collection is bound to: the one given, checked against the name stored at create, or the stored
choice when none is given.

`CollectionsMixin` is shared by the embedded `spruce.Client` and `spruce.HttpClient`; each provides
the backend its collections call (client/collection_backend.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from spruce.client.collection import Collection
from spruce.client.collection_backend import Backend
from spruce.errors import InvalidArgumentError


class _Default:
    def __repr__(self) -> str:
        return "DEFAULT"


DEFAULT: Any = _Default()  # "not given": the default embedding function on create, the stored one on get
DEFAULT_EF_NAME = "default"


@dataclass(frozen=True, slots=True)
class HNSWConfiguration:
    """pyseekdb's `configuration=`: the dimension and distance fixed at create (the rest is accepted
    for source compatibility; Spruce sizes its graphs itself)."""

    dimension: int | None = None
    distance: str = "cosine"
    M: int | None = None
    ef_construction: int | None = None
    ef_search: int | None = None
    type: str = "hnsw"


# -- embedding functions ----------------------------------------------------------------------------
def ef_name(ef: Any) -> str | None:
    """The name stored with a collection: Chroma's / pyseekdb's `name()` if it has one, else the class."""
    if ef is None:
        return None
    name = getattr(ef, "name", None)
    if callable(name):
        try:
            value = name()
        except TypeError:
            value = None
        if isinstance(value, str) and value:
            return value
    return type(ef).__name__


def ef_dimension(ef: Any) -> int | None:
    dim = getattr(ef, "dimension", None)
    if callable(dim):
        dim = dim()
    return dim if isinstance(dim, int) and not isinstance(dim, bool) else None


def default_embedding_function() -> Any:
    from spruce.client.embedding import DefaultEmbeddingFunction

    return DefaultEmbeddingFunction()


def _metric_of(configuration: Any, metadata: Mapping[str, Any] | None, metric: str | None) -> str:
    if metric is not None:
        return metric
    if isinstance(configuration, Mapping):
        hnsw = configuration.get("hnsw") or {}
        if isinstance(hnsw, Mapping) and "space" in hnsw:
            return str(hnsw["space"])
        if "distance" in configuration:
            return str(configuration["distance"])
    elif configuration is not None and getattr(configuration, "distance", None):
        return str(configuration.distance)
    if metadata and "hnsw:space" in metadata:
        return str(metadata["hnsw:space"])
    return "cosine"


class CollectionsMixin:
    """The client methods for collections; a client provides `_collection_backend()`."""

    def _collection_backend(self) -> Backend:
        raise NotImplementedError

    def create_collection(
        self,
        name: str,
        configuration: Any = None,
        metadata: dict[str, Any] | None = None,
        embedding_function: Any = DEFAULT,
        get_or_create: bool = False,
        *,
        dimension: int | None = None,
        metric: str | None = None,
        schema: Any = None,
        **_: Any,
    ) -> Collection:
        if embedding_function is DEFAULT:
            embedding_function = default_embedding_function()
        if dimension is None and configuration is not None:
            dimension = (
                configuration.get("dimension")
                if isinstance(configuration, Mapping)
                else getattr(configuration, "dimension", None)
            )
        ef_dim = ef_dimension(embedding_function)
        if dimension is not None and ef_dim is not None and dimension != ef_dim:
            raise InvalidArgumentError(
                f"dimension {dimension} differs from the embedding function's dimension {ef_dim}"
            )
        backend = self._collection_backend()
        user_meta = {k: val for k, val in (metadata or {}).items() if not str(k).startswith("hnsw:")}
        info = backend.create(
            name,
            dimension=dimension if dimension is not None else ef_dim,
            metric=_metric_of(configuration, metadata, metric),
            metadata=user_meta or None,
            embedding_function=ef_name(embedding_function),
            get_or_create=get_or_create,
        )
        if get_or_create:
            return self._bind(info, embedding_function, explicit=True)
        return Collection(backend, info, embedding_function)

    def get_collection(self, name: str, embedding_function: Any = DEFAULT, **_: Any) -> Collection:
        return self._bind(self._collection_backend().info(name), embedding_function, explicit=False)

    def get_or_create_collection(
        self,
        name: str,
        configuration: Any = None,
        metadata: dict[str, Any] | None = None,
        embedding_function: Any = DEFAULT,
        *,
        dimension: int | None = None,
        metric: str | None = None,
        **kw: Any,
    ) -> Collection:
        if self.has_collection(name):
            return self.get_collection(name, embedding_function)
        return self.create_collection(
            name,
            configuration,
            metadata,
            embedding_function,
            get_or_create=True,
            dimension=dimension,
            metric=metric,
        )

    def _bind(self, info: Mapping[str, Any], embedding_function: Any, explicit: bool) -> Collection:
        stored = info.get("embedding_function")
        backend = self._collection_backend()
        if embedding_function is DEFAULT:
            ef = default_embedding_function() if stored == DEFAULT_EF_NAME else None
            return Collection(backend, info, ef)
        given = ef_name(embedding_function)
        if given != stored:
            raise InvalidArgumentError(
                f"collection {info['name']!r} was created with embedding function {stored!r}, "
                f"but {given!r} was given; pass the same one (or omit it to use the stored choice)"
            )
        return Collection(backend, info, embedding_function)

    def list_collections(self, limit: int | None = None, offset: int | None = None) -> list[Collection]:
        backend = self._collection_backend()
        infos = backend.list_collections()[(offset or 0) :]
        if limit is not None:
            infos = infos[:limit]
        return [self._bind(i, DEFAULT, explicit=False) for i in infos]

    def has_collection(self, name: str) -> bool:
        return any(i["name"] == name for i in self._collection_backend().list_collections())

    def delete_collection(self, name: str) -> None:
        self._collection_backend().delete_collection(name)

    def count_collections(self) -> int:
        return len(self._collection_backend().list_collections())

    count_collection = count_collections  # pyseekdb's spelling

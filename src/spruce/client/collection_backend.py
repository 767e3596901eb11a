"""Where a Collection's operations go: the `Backend` protocol and its in-process implementation.

A `Collection` (client/collection.py) holds a backend and calls it by operation name, so the embedded
client (`ServiceBackend`, the service itself) and the remote one (`http_collection.HttpBackend`, REST)
share every line above it.
"""

from __future__ import annotations

from typing import Any, Protocol

from spruce.errors import InvalidArgumentError
from spruce.service.collections import CollectionService


class Backend(Protocol):
    def create(
        self,
        name: str,
        *,
        dimension: int | None,
        metric: str,
        metadata: dict[str, Any] | None,
        embedding_function: str | None,
        get_or_create: bool,
    ) -> dict[str, Any]: ...
    def info(self, name: str) -> dict[str, Any]: ...
    def list_collections(self) -> list[dict[str, Any]]: ...
    def delete_collection(self, name: str) -> None: ...
    def modify(self, name: str, new_name: str | None, metadata: dict[str, Any] | None) -> dict[str, Any]: ...
    def call(self, name: str, op: str, **kwargs: Any) -> Any: ...


class ServiceBackend:
    """The in-process backend: the service itself."""

    _OPS = ("add", "upsert", "update", "delete", "get", "query", "count", "hybrid_search")

    def __init__(self, service: CollectionService) -> None:
        self.service = service

    def create(
        self,
        name: str,
        *,
        dimension: int | None,
        metric: str,
        metadata: dict[str, Any] | None,
        embedding_function: str | None,
        get_or_create: bool,
    ) -> dict[str, Any]:
        info = self.service.create(
            name,
            dimension=dimension,
            metric=metric,
            metadata=metadata,
            embedding_function=embedding_function,
            get_or_create=get_or_create,
        )
        return info.to_json()

    def info(self, name: str) -> dict[str, Any]:
        return self.service.info(name).to_json()

    def list_collections(self) -> list[dict[str, Any]]:
        return [i.to_json() for i in self.service.list_collections()]

    def delete_collection(self, name: str) -> None:
        self.service.delete_collection(name)

    def modify(self, name: str, new_name: str | None, metadata: dict[str, Any] | None) -> dict[str, Any]:
        return self.service.modify(name, new_name, metadata).to_json()

    def call(self, name: str, op: str, **kwargs: Any) -> Any:
        if op not in self._OPS:
            raise InvalidArgumentError(f"unknown collection operation {op!r}")
        return getattr(self.service, op)(name, **kwargs)

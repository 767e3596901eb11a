"""The embedded Python client: the pinecone SDK's method names over an in-process engine.

    db = spruce.Client(path="./data")        # path=None keeps everything in memory
    db.create_index(name="movies", dimension=8, metric="cosine")
    index = db.Index("movies")
    index.upsert(vectors=[("A", [...], {"genre": "comedy"})], namespace="ns1")

Code moves between embedded and server by changing the constructor. Every method is thread-safe.
`Client` is the control plane; `Client.Index(name)` returns one index's data plane (client/index.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from spruce.client.backups import BackupMethods
from spruce.client.collection_backend import Backend, ServiceBackend
from spruce.client.collections_mixin import CollectionsMixin
from spruce.client.index import Index
from spruce.client.inference import Inference
from spruce.client.records import ClientRecords
from spruce.client.responses import IndexList, IndexModel, Obj
from spruce.config import EngineConfig, ImportConfig
from spruce.errors import InvalidArgumentError
from spruce.service.catalog import Catalog
from spruce.service.collections import CollectionService
from spruce.types import IndexInfo


class Client(ClientRecords, BackupMethods, CollectionsMixin):
    """An embedded Spruce database. Use as a context manager, or call `close()`."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        config: EngineConfig | None = None,
        imports: ImportConfig | None = None,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.catalog = Catalog(self.path, config or EngineConfig(), imports)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.catalog.close()

    @property
    def inference(self) -> Inference:
        return Inference(self.path)  # cheap: the models live in the process-wide registry

    # -- control plane ----------------------------------------------------------------------------
    def create_index(
        self,
        name: str,
        dimension: int | None = None,
        metric: str = "cosine",
        spec: Any = None,
        *,
        vector_type: str = "dense",
        deletion_protection: str = "disabled",
        tags: dict[str, str] | None = None,
        timeout: int | None = None,
    ) -> IndexModel:
        if vector_type == "sparse" and metric == "cosine":
            metric = "dotproduct"  # the SDK's default metric does not apply to sparse indexes
        cloud, region = _spec_location(spec)
        info = self.catalog.create_index(
            name,
            dimension=dimension,
            metric=metric,
            vector_type=vector_type,
            deletion_protection=deletion_protection,
            tags=tags,
            cloud=cloud,
            region=region,
        )
        return IndexModel.of(info, host=self._host(name))

    def describe_index(self, name: str) -> IndexModel:
        return self._model(self.catalog.describe_index(name))

    def list_indexes(self) -> IndexList:
        return IndexList(self._model(i) for i in self.catalog.list_indexes())

    def _model(self, info: IndexInfo) -> IndexModel:
        model = IndexModel.of(info, host=self._host(info.name))
        health = self.catalog.health(info.name)
        if not health.ready or health.reason:
            # An index whose files are damaged says so here, as the server's describe_index does.
            model["status"] = Obj(ready=health.ready, state=health.state, reason=health.reason)
        return model

    def has_index(self, name: str) -> bool:
        return self.catalog.has_index(name)

    def configure_index(
        self,
        name: str,
        *,
        deletion_protection: str | None = None,
        tags: dict[str, str] | None = None,
        embed: Any = None,
    ) -> IndexModel:
        spec = self._checked_embed(name, embed)  # before anything changes
        info = self.catalog.configure_index(name, deletion_protection=deletion_protection, tags=tags)
        if spec is not None:
            info = self.catalog.set_embed(name, spec)
        return IndexModel.of(info, host=self._host(name))

    def delete_index(self, name: str, timeout: int | None = None) -> None:
        self.catalog.delete_index(name)

    def Index(self, name: str = "", host: str = "") -> Index:
        if not name:
            raise InvalidArgumentError("Index() needs the index name in embedded mode")
        return Index(self.catalog.index(name), self.catalog.imports)

    index = Index

    def _host(self, name: str) -> str:
        return f"embedded://{name}"

    def _collection_backend(self) -> Backend:  # the Collection API (client/collection.py)
        return ServiceBackend(CollectionService(self.catalog))


def _spec_location(spec: Any) -> tuple[str, str]:
    if spec is None:
        return "aws", "us-east-1"
    if isinstance(spec, Mapping):
        inner = spec.get("serverless", spec)
        return str(inner.get("cloud", "aws")), str(inner.get("region", "us-east-1"))
    return str(getattr(spec, "cloud", "aws")), str(getattr(spec, "region", "us-east-1"))

"""Which collections exist, and the index each one is stored in.

A collection is an ordinary index of the catalogue (visible through the Pinecone API) plus a small
entry here: its Chroma/pyseekdb name, uuid, metric as the user spelled it, metadata, and the name of
the embedding function it was created with. The index is named after the collection when that name
is a valid Pinecone index name, else after a lower-cased, dash-separated form of it with a short
hash (`My_Docs` -> `my-docs-1a2b3c4d`). A collection created without a dimension (no embedding
function and none given) gets its index at its first write, when the dimension becomes known.

On disk: `<root>/collections.json` = {"format": "spruce-collections", "version": 1, "crc32": crc of
the canonical JSON of "collections", "collections": [...]}, replaced atomically. An index is created
before the entry naming it is written and deleted before its entry is removed, so a crash leaves at
most an entry whose index is gone, which loading drops.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid
import weakref
import zlib
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson

from spruce.engine.fsutil import atomic_write_bytes
from spruce.errors import (
    CollectionAlreadyExistsError,
    CollectionNotFoundError,
    CorruptionError,
    InvalidArgumentError,
)
from spruce.service import validation as v
from spruce.service.catalog import Catalog

FORMAT = "spruce-collections"
VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9._-]{0,510}[A-Za-z0-9_])?$")
_INDEX_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,43}[a-z0-9])?$")
# Chroma, pyseekdb and Pinecone spellings of the three metrics.
METRIC_ALIASES = {
    "cosine": "cosine",
    "l2": "euclidean",
    "euclidean": "euclidean",
    "ip": "dotproduct",
    "inner_product": "dotproduct",
    "dotproduct": "dotproduct",
}


@dataclass(slots=True)
class CollectionInfo:
    name: str
    id: str
    index: str
    dimension: int | None
    metric: str  # as the user spelled it (an alias of METRIC_ALIASES)
    metadata: dict[str, Any] | None = None
    embedding_function: str | None = None  # the function's name; None: embeddings are always given
    created_at: str = ""
    index_created: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def engine_metric(self) -> str:
        return METRIC_ALIASES[self.metric]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidArgumentError(
            f"invalid collection name {name!r}: use 1-512 characters from letters, digits, '_', '.' and '-', "
            "starting and ending with a letter, digit or '_'"
        )
    return name


def check_metric(metric: object) -> str:
    if not isinstance(metric, str) or metric.lower() not in METRIC_ALIASES:
        raise InvalidArgumentError(f"metric must be one of {', '.join(METRIC_ALIASES)}, got {metric!r}")
    return metric.lower()


def check_collection_metadata(raw: object) -> dict[str, Any] | None:
    if raw is None:
        return None
    meta = v.metadata(raw, "collection metadata")
    return meta or None


def _index_name_for(name: str) -> str:
    if _INDEX_NAME.match(name):
        return name
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:36].strip("-") or "collection"
    return f"{base}-{hashlib.sha1(name.encode()).hexdigest()[:8]}"


class CollectionRegistry:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.lock = threading.RLock()
        self._infos: dict[str, CollectionInfo] = {}
        self._file = None if catalog.path is None else catalog.path / "collections.json"
        self._load()

    def _load(self) -> None:
        if self._file is None or not self._file.exists():
            return
        try:
            doc = orjson.loads(self._file.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise CorruptionError(f"{self._file} is not valid JSON: {exc}") from exc
        if doc.get("format") != FORMAT or doc.get("version") != VERSION:
            raise CorruptionError(f"{self._file}: unknown collections format")
        items = doc.get("collections", [])
        if zlib.crc32(orjson.dumps(items, option=orjson.OPT_SORT_KEYS)) != doc.get("crc32"):
            raise CorruptionError(f"{self._file}: checksum mismatch")
        for raw in items:
            info = CollectionInfo(**raw)
            if info.index_created and not self.catalog.has_index(info.index):
                continue  # its index was deleted (crash mid-delete, or through the Pinecone API)
            self._infos[info.name] = info

    def _save(self) -> None:
        if self._file is None:
            return
        items = [i.to_json() for i in self._infos.values()]
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "crc32": zlib.crc32(orjson.dumps(items, option=orjson.OPT_SORT_KEYS)),
            "collections": items,
        }
        atomic_write_bytes(self._file, orjson.dumps(doc))

    def _drop_vanished(self) -> None:
        gone = [n for n, i in self._infos.items() if i.index_created and not self.catalog.has_index(i.index)]
        for name in gone:
            del self._infos[name]
        if gone:
            self._save()

    # -- operations -------------------------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        dimension: int | None,
        metric: str,
        metadata: dict[str, Any] | None,
        embedding_function: str | None,
        created_at: str,
    ) -> CollectionInfo:
        check_name(name)
        metric = check_metric(metric)
        if embedding_function is not None and not isinstance(embedding_function, str):
            raise InvalidArgumentError("embedding_function must be the function's name (a string) or null")
        if dimension is not None:
            v.check_dimension(dimension)
        metadata = check_collection_metadata(metadata)
        with self.lock:
            self._drop_vanished()
            if name in self._infos:
                raise CollectionAlreadyExistsError(f"collection {name!r} already exists")
            index = _index_name_for(name)
            taken = {i.index for i in self._infos.values()}
            if index in taken or self.catalog.has_index(index):
                raise CollectionAlreadyExistsError(
                    f"cannot create collection {name!r}: an index named {index!r} already exists; "
                    "choose another collection name"
                )
            info = CollectionInfo(
                name=name,
                id=str(uuid.uuid4()),
                index=index,
                dimension=dimension,
                metric=metric,
                metadata=metadata,
                embedding_function=embedding_function,
                created_at=created_at,
            )
            if dimension is not None:
                self._create_index(info)
            self._infos[name] = info
            self._save()
            return replace(info)

    def _create_index(self, info: CollectionInfo) -> None:
        assert info.dimension is not None
        self.catalog.create_index(
            info.index,
            dimension=info.dimension,
            metric=info.engine_metric,
            tags={"collection": info.name[:120]},
        )
        info.index_created = True

    def ensure_index(self, name: str, dimension: int) -> CollectionInfo:
        """Fix the dimension of a collection created without one, at its first write."""
        with self.lock:
            info = self.get(name)
            if info.index_created:
                return info
            stored = self._infos[info.name]
            stored.dimension = dimension
            try:
                self._create_index(stored)
                self._save()
            except BaseException:
                stored.dimension = None
                stored.index_created = False
                raise
            return replace(stored)

    def get(self, name: object) -> CollectionInfo:
        return replace(self.lookup(name))

    def lookup(self, name: object) -> CollectionInfo:
        """The stored entry itself (not a copy: read it, never change it); for the data path."""
        if not isinstance(name, str):
            raise InvalidArgumentError(f"collection name must be a string, got {type(name).__name__}")
        with self.lock:
            info = self._infos.get(name)
            if info is not None and info.index_created and not self.catalog.has_index(info.index):
                self._drop_vanished()
                info = None
            if info is None:
                raise CollectionNotFoundError(f"collection {name!r} does not exist")
            return info

    def all(self) -> list[CollectionInfo]:
        with self.lock:
            self._drop_vanished()
            return [replace(i) for i in self._infos.values()]

    def delete(self, name: str) -> None:
        with self.lock:
            info = self.get(name)
            if info.index_created and self.catalog.has_index(info.index):
                self.catalog.delete_index(info.index)
            self._infos.pop(name, None)
            self._save()

    def modify(self, name: str, new_name: str | None, metadata: dict[str, Any] | None) -> CollectionInfo:
        with self.lock:
            info = self.get(name)
            new_meta = check_collection_metadata(metadata) if metadata is not None else info.metadata
            target = name
            if new_name is not None and new_name != name:
                target = check_name(new_name)
                if target in self._infos:
                    raise CollectionAlreadyExistsError(f"collection {target!r} already exists")
            updated = replace(self._infos[name], name=target, metadata=new_meta)
            old = dict(self._infos)
            self._infos = {
                (target if k == name else k): (updated if k == name else i) for k, i in self._infos.items()
            }
            try:
                self._save()
            except BaseException:
                self._infos = old
                raise
            return replace(updated)


_REGISTRIES: weakref.WeakKeyDictionary[Catalog, CollectionRegistry] = weakref.WeakKeyDictionary()
_REGISTRIES_LOCK = threading.Lock()


def registry_for(catalog: Catalog) -> CollectionRegistry:
    """One registry per catalogue, shared by the embedded client and the REST routes of a server."""
    with _REGISTRIES_LOCK:
        reg = _REGISTRIES.get(catalog)
        if reg is None:
            reg = CollectionRegistry(catalog)
            _REGISTRIES[catalog] = reg
        return reg

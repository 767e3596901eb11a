"""The catalogue of indexes: create / describe / list / configure / delete, and their open stores.

On disk: `<root>/catalog.json` (replaced atomically) lists the indexes and their settings; each
index's data lives in `<root>/indexes/<name>/`. An index is created by first writing its directory
and then the catalogue, and deleted by first rewriting the catalogue and then removing the
directory, so a crash in between leaves at most an orphan directory, which the next open removes.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import shutil
import threading
import weakref
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spruce.config import EngineConfig, ImportConfig
from spruce.engine.checked_json import dump_checked, load_checked
from spruce.engine.fsutil import atomic_write_bytes
from spruce.engine.store import Store
from spruce.errors import (
    AlreadyExistsError,
    ClosedError,
    CorruptionError,
    ForbiddenError,
    IndexFailedError,
    IndexNotFoundError,
    InvalidArgumentError,
    ResourceExhaustedError,
)
from spruce.service import integrated
from spruce.service import validation as v
from spruce.service.data import IndexService
from spruce.types import EmbedSpec, IndexHealth, IndexInfo

log = logging.getLogger("spruce.catalog")

_OPEN: weakref.WeakSet[Catalog] = weakref.WeakSet()


@atexit.register
def _close_open_catalogs() -> None:
    # Background HNSW builds must stop before the interpreter tears down, or faiss aborts the process.
    for catalog in list(_OPEN):
        catalog.close()


CATALOG_FORMAT = "spruce-catalog"
CATALOG_VERSION = 2  # 2 adds the CRC (checked JSON); version 1 is still read


class Catalog:
    def __init__(
        self, path: Path | str | None, engine: EngineConfig | None = None, imports: ImportConfig | None = None
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.engine = engine or EngineConfig()
        self._lock = threading.RLock()
        self._infos: dict[str, IndexInfo] = {}
        self._services: dict[str, IndexService] = {}
        self._failed: dict[str, str] = {}  # indexes that could not be opened, and why
        self._closed = False
        self._lock_fd: int | None = None
        if self.path is not None:
            self.path.mkdir(parents=True, exist_ok=True)
            self._lock_fd = _lock_directory(self.path)
            (self.path / "indexes").mkdir(exist_ok=True)
            self._load()
        from spruce.service.imports import ImportManager

        self.imports = ImportManager(self, imports or ImportConfig())
        _OPEN.add(self)

    # -- persistence ------------------------------------------------------------------------------
    def _load(self) -> None:
        assert self.path is not None
        file = self.path / "catalog.json"
        if file.exists():
            # Version 1 (before the CRC) is still read; a damaged file is refused, naming it.
            doc = load_checked(file.read_bytes(), CATALOG_FORMAT, (CATALOG_VERSION,), file, (1,))
            for raw in doc["indexes"]:
                embed = raw.pop("embed", None)
                info = IndexInfo(**raw, embed=EmbedSpec(**embed) if embed else None)
                self._infos[info.name] = info
        for entry in (self.path / "indexes").iterdir():
            if entry.name not in self._infos:
                shutil.rmtree(entry, ignore_errors=True)  # orphan of a crash mid-create or mid-delete

    def _save(self) -> None:
        if self.path is None:
            return
        fields: dict[str, Any] = {"indexes": [asdict(info) for info in self._infos.values()]}
        atomic_write_bytes(self.path / "catalog.json", dump_checked(CATALOG_FORMAT, CATALOG_VERSION, fields))

    def _index_dir(self, name: str) -> Path | None:
        return None if self.path is None else self.path / "indexes" / name

    # -- control plane ----------------------------------------------------------------------------
    def create_index(
        self,
        name: str,
        *,
        dimension: int | None,
        metric: str = "cosine",
        vector_type: str = "dense",
        deletion_protection: str = "disabled",
        tags: dict[str, str] | None = None,
        cloud: str = "aws",
        region: str = "us-east-1",
        embed: EmbedSpec | None = None,
    ) -> IndexInfo:
        v.check_index_name(name)
        if embed is not None:  # an index for a model takes the model's vector type and dimension
            embed, dimension, metric, vector_type = integrated.resolve(embed)
        metric = v.check_metric(metric)
        if vector_type not in ("dense", "sparse"):
            raise InvalidArgumentError(f"vector_type must be 'dense' or 'sparse', got {vector_type!r}")
        if vector_type == "sparse":
            if dimension is not None:
                raise InvalidArgumentError("a sparse index takes no dimension")
            if metric != "dotproduct":
                raise InvalidArgumentError(f"a sparse index needs metric dotproduct, got {metric!r}")
        else:
            dimension = v.check_dimension(dimension)
        _check_protection(deletion_protection)
        info = IndexInfo(
            name=name,
            dimension=dimension,
            metric=metric,  # type: ignore[arg-type]
            vector_type=vector_type,  # type: ignore[arg-type]
            deletion_protection=deletion_protection,  # type: ignore[arg-type]
            tags=_check_tags(tags or {}),
            cloud=cloud,
            region=region,
            embed=embed,
            created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        )
        with self._lock:
            self._check_open()
            if name in self._infos:
                raise AlreadyExistsError(f"index {name!r} already exists")
            store = Store(self._index_dir(name), dimension or 0, metric, self.engine)
            self._infos[name] = info
            try:
                self._save()
            except BaseException:
                del self._infos[name]
                store.remove_files()
                raise
            self._services[name] = IndexService(info, store, self.engine)
            return replace(info)

    def list_indexes(self) -> list[IndexInfo]:
        with self._lock:
            return [replace(i) for i in self._infos.values()]

    def describe_index(self, name: str) -> IndexInfo:
        with self._lock:
            return replace(self._info(name))

    def has_index(self, name: str) -> bool:
        with self._lock:
            return name in self._infos

    def configure_index(
        self, name: str, *, deletion_protection: str | None = None, tags: dict[str, str] | None = None
    ) -> IndexInfo:
        with self._lock:
            info = self._info(name)
            new_tags = dict(info.tags)
            if tags is not None:
                for key, value in _check_tags(tags, allow_empty=True).items():
                    if value == "":
                        new_tags.pop(key, None)  # Pinecone: an empty value removes the tag
                    else:
                        new_tags[key] = value
            protection = info.deletion_protection
            if deletion_protection is not None:
                protection = _check_protection(deletion_protection)  # type: ignore[assignment]
            updated = replace(info, tags=new_tags, deletion_protection=protection)
            self._infos[name] = updated
            try:
                self._save()
            except BaseException:
                self._infos[name] = info
                raise
            if name in self._services:
                self._services[name].info = updated
            return replace(updated)

    def delete_index(self, name: str) -> None:
        with self._lock:
            info = self._info(name)
            if info.deletion_protection == "enabled":
                raise ForbiddenError(
                    f"index {name!r} has deletion protection enabled; disable it with configure_index "
                    "before deleting"
                )
            del self._infos[name]
            self._save()
            self.imports.forget(name)
            self._failed.pop(name, None)
            service = self._services.pop(name, None)
        if service is not None:
            service.store.remove_files()
        else:
            d = self._index_dir(name)
            if d is not None:
                shutil.rmtree(d, ignore_errors=True)

    def index(self, name: str) -> IndexService:
        with self._lock:
            self._check_open()
            info = self._info(name)
            service = self._services.get(name)
            if service is None:
                store = self._open_store(name, info)
                service = IndexService(info, store, self.engine)
                self._services[name] = service
            return service

    def _open_store(self, name: str, info: IndexInfo) -> Store:
        """Open an index's store; one that cannot open is marked failed and the others carry on."""
        failed = self._failed.get(name)
        if failed is not None:
            raise IndexFailedError(failed)
        try:
            return Store(self._index_dir(name), info.dimension or 0, info.metric, self.engine)
        except (CorruptionError, OSError) as exc:
            reason = (
                f"index {name!r} cannot be opened and is out of service: {exc}. "
                f"Run `spruce check` / `spruce repair` on the data directory, then restart"
            )
            self._failed[name] = reason
            log.error("%s", reason)
            raise IndexFailedError(reason) from exc

    def open_all(self) -> None:
        """Open every index now (a server does this at start so the first request is not slow).

        An index that cannot open is marked failed (see `health`); the others still open."""
        for name in list(self._infos):
            try:
                self.index(name)
            except IndexFailedError:
                continue

    def health(self, name: str) -> IndexHealth:
        """Whether the index serves, and why not (or what its recovery lost)."""
        with self._lock:
            self._info(name)
            if name not in self._services and name not in self._failed and not self._closed:
                # Not opened yet (embedded clients open lazily): only opening can tell.
                with contextlib.suppress(IndexFailedError):
                    self.index(name)
            failed = self._failed.get(name)
            if failed is not None:
                return IndexHealth(ready=False, state="InitializationFailed", reason=failed)
            service = self._services.get(name)
            report = None if service is None else service.store.recovery
            if report is not None and any(d.lost_frames or d.quarantined for d in report.damage):
                lost = report.lost_frames
                return IndexHealth(
                    ready=True,
                    state="Ready",
                    reason=f"opened with wal_recovery=skip-corrupted: {lost} unreadable WAL frame(s) "
                    "skipped (see recovery.json in the index directory)",
                    lost_frames=lost,
                )
            return IndexHealth()

    def failed_indexes(self) -> dict[str, str]:
        with self._lock:
            return dict(self._failed)

    def close(self) -> None:
        self.imports.close()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            services = list(self._services.values())
            self._services.clear()
        for service in services:
            service.store.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def adopt_index(self, info: IndexInfo, directory: Path) -> IndexInfo:
        """Register a new index whose data directory was built elsewhere (a restore) and open it.

        `directory` must lie in `<root>/indexes/` under a name no index can have (a leading dot), so a
        crash before the catalogue names it leaves an orphan that the next open removes.
        """
        v.check_index_name(info.name)
        _check_protection(info.deletion_protection)
        info = replace(info, tags=_check_tags(info.tags))
        with self._lock:
            self._check_open()
            if info.name in self._infos:
                raise AlreadyExistsError(f"index {info.name!r} already exists")
            target = self._index_dir(info.name)
            if target is None:
                raise InvalidArgumentError("an in-memory client cannot adopt an index directory")
            shutil.rmtree(target, ignore_errors=True)  # an orphan of a crash: no index owns it
            os.replace(directory, target)
            try:
                store = Store(target, info.dimension or 0, info.metric, self.engine)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
            self._infos[info.name] = info
            try:
                self._save()
            except BaseException:
                del self._infos[info.name]
                store.remove_files()
                raise
            self._services[info.name] = IndexService(info, store, self.engine)
            return replace(info)

    def set_embed(self, name: str, embed: EmbedSpec) -> IndexInfo:
        """Give an existing index a model (`configure_index(embed=...)`): its vectors must already match."""
        with self._lock:
            info = self._info(name)
            updated = replace(info, embed=integrated.for_existing(info, embed))
            self._infos[name] = updated
            try:
                self._save()
            except BaseException:
                self._infos[name] = info
                raise
            if name in self._services:
                self._services[name].info = updated
            return replace(updated)

    def _info(self, name: str) -> IndexInfo:
        info = self._infos.get(name)
        if info is None:
            raise IndexNotFoundError(f"index {name!r} not found")
        return info

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("this Spruce client is closed")


def _check_protection(value: object) -> str:
    if value not in ("enabled", "disabled"):
        raise InvalidArgumentError(f"deletion_protection must be 'enabled' or 'disabled', got {value!r}")
    return str(value)


def _check_tags(tags: object, allow_empty: bool = False) -> dict[str, str]:
    if not isinstance(tags, dict):
        raise InvalidArgumentError("tags must be an object of string keys and values")
    for key, value in tags.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise InvalidArgumentError("tags must map strings to strings")
        if not key or len(key) > 80:
            raise InvalidArgumentError(f"tag key {key!r} must be 1-80 characters")
        if len(value) > 120 or (value == "" and not allow_empty):
            raise InvalidArgumentError(f"tag value for {key!r} must be 1-120 characters")
    return dict(tags)


def _lock_directory(path: Path) -> int:
    """One process owns a data directory: a second opener fails at once instead of corrupting it."""
    fd = os.open(path / "LOCK", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise ResourceExhaustedError(
            f"data directory {path} is already open in another process (a server or another client); "
            "connect to that server instead, or close the other process"
        ) from None
    return fd

"""Backups of indexes and restore jobs that build new indexes from them.

On disk, beside the catalogue:

    <root>/backups/<backup_id>/backup.json  {"format":"spruce-backup","version":1,"backup":{...},"crc32"}
    <root>/backups/<backup_id>/data/        the index snapshot (see engine/snapshot.py)
    <root>/backups/restore-jobs.json        {"format":"spruce-restore-jobs","version":1,"jobs":[...],"crc32"}

The records and their checksummed documents are service/backup_files.py. A backup is written in
`.tmp-<id>/` and renamed into place once complete, so a crash leaves no half-written backup visible
(the leftover is swept at the next start). A restore builds the new index directory in
`indexes/.restore-<job>/` and the catalogue adopts it with one rename. Both run in the caller's thread
and take about as long as checksumming the index's files, so a backup is `Ready` and a restore job
`Completed` (or `Failed`) when the call returns; a job found `Pending` at start-up was cut short by a
crash and is settled then.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import uuid
import weakref
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

from spruce.engine import snapshot
from spruce.engine.fsutil import atomic_write_bytes, fsync_dir
from spruce.errors import (
    AlreadyExistsError,
    BackupCorruptionError,
    IndexNotFoundError,
    InvalidArgumentError,
    NotFoundError,
)
from spruce.service import validation as v
from spruce.service.backup_files import (
    BACKUP_FILE,
    BACKUP_FORMAT,
    JOBS_FILE,
    JOBS_FORMAT,
    Backup,
    RestoreJob,
    backup_key,
    encode_doc,
    job_key,
    read_backup,
    read_doc,
)
from spruce.service.catalog import Catalog
from spruce.service.paging import page
from spruce.types import IndexInfo

log = logging.getLogger("spruce.backups")

MAX_BACKUP_NAME = 100
MAX_DESCRIPTION = 1000
_MAX_CACHED_CRCS = 100_000
_ID_NAMESPACE = uuid.UUID("6f1c2a4e-9a57-4f3b-8d0e-5b1f3c7a9e21")


def index_id(info: IndexInfo) -> str:
    """A stable id for one incarnation of an index: a name deleted and created again gets a new one."""
    return str(uuid.uuid5(_ID_NAMESPACE, f"{info.name}\n{info.created_at}"))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


# One service per catalogue: backups and jobs of a data directory have one owner in the process.
_SERVICES: weakref.WeakKeyDictionary[Catalog, BackupService] = weakref.WeakKeyDictionary()
_SERVICES_LOCK = threading.Lock()


def backups_of(catalog: Catalog) -> BackupService:
    with _SERVICES_LOCK:
        service = _SERVICES.get(catalog)
        if service is None:
            service = BackupService(catalog)
            _SERVICES[catalog] = service
        return service


class BackupService:
    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._restoring: dict[str, int] = {}  # backup id -> restores reading it now
        self._backups: dict[str, Backup] = {}
        self._damaged: dict[str, str] = {}  # backup id -> why its backup.json cannot be read
        self._crcs: snapshot.CrcCache = {}  # checksums of segment files already backed up
        self._jobs: dict[str, RestoreJob] = {}
        self.root: Path | None = None if catalog.path is None else catalog.path / "backups"
        if self.root is not None:
            self.root.mkdir(exist_ok=True)
            self._load()

    # -- persistence ------------------------------------------------------------------------------
    def _load(self) -> None:
        assert self.root is not None
        for entry in self.root.iterdir():
            if entry.name.startswith("."):
                shutil.rmtree(entry, ignore_errors=True)  # a backup or delete cut short by a crash
            elif entry.is_dir():
                try:
                    self._backups[entry.name] = read_backup(entry / BACKUP_FILE)
                except BackupCorruptionError as exc:
                    log.error("backup %s is damaged and not listed: %s", entry.name, exc)
                    self._damaged[entry.name] = exc.message
        jobs_file = self.root / JOBS_FILE
        if jobs_file.exists():
            for raw in read_doc(jobs_file, JOBS_FORMAT)["jobs"]:
                job = RestoreJob(**raw)
                self._jobs[job.restore_job_id] = job
        settled = False
        for job in self._jobs.values():
            if job.status == "Pending":
                self._settle_interrupted(job)
                settled = True
        if settled:
            self._save_jobs()

    def _settle_interrupted(self, job: RestoreJob) -> None:
        name = job.target_index_name
        adopted = self.catalog.has_index(name) and index_id(self.catalog.describe_index(name))
        if adopted == job.target_index_id:
            job.status, job.percent_complete = "Completed", 100.0  # adopted just before the crash
        else:
            job.status, job.error = "Failed", "the server stopped before the restore finished; start it again"
        job.completed_at = _now()

    def _save_jobs(self) -> None:
        assert self.root is not None
        jobs = [asdict(j) for j in sorted(self._jobs.values(), key=job_key)]
        atomic_write_bytes(self.root / JOBS_FILE, encode_doc(JOBS_FORMAT, {"jobs": jobs}))

    def _root(self) -> Path:
        if self.root is None:
            raise InvalidArgumentError("backups need a data directory: open the client or server with a path")
        return self.root

    # -- backups ----------------------------------------------------------------------------------
    def create_backup(
        self, index_name: str, *, name: str | None = None, description: str | None = None
    ) -> Backup:
        root = self._root()
        _check_text(name, "name", MAX_BACKUP_NAME)
        _check_text(description, "description", MAX_DESCRIPTION)
        service = self.catalog.index(index_name)  # IndexNotFoundError for an unknown index
        info = self.catalog.describe_index(index_name)
        backup_id = str(uuid.uuid4())
        tmp = root / f".tmp-{backup_id}"
        created_at = _now()
        if len(self._crcs) > _MAX_CACHED_CRCS:
            self._crcs.clear()  # files compacted away leave stale entries behind; start afresh
        try:
            taken = snapshot.take(service.store, tmp / "data", self._crcs)
            backup = Backup(
                backup_id=backup_id,
                source_index_name=info.name,
                source_index_id=index_id(info),
                status="Ready",
                cloud=info.cloud,
                region=info.region,
                dimension=info.dimension,
                metric=info.metric,
                vector_type=info.vector_type,
                record_count=sum(taken.namespaces.values()),
                namespace_count=len(taken.namespaces),
                size_bytes=taken.size_bytes,
                created_at=created_at,
                name=name,
                description=description,
                tags=dict(info.tags) or None,
                lsn=taken.lsn,
                index=info,
            )
            atomic_write_bytes(tmp / BACKUP_FILE, encode_doc(BACKUP_FORMAT, {"backup": asdict(backup)}))
            fsync_dir(tmp)
            os.replace(tmp, root / backup_id)
            fsync_dir(root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        with self._lock:
            self._backups[backup_id] = backup
        return replace(backup)

    def list_backups(
        self,
        index_name: str | None = None,
        *,
        limit: int | None = None,
        pagination_token: str | None = None,
        include_deleted: bool = False,
    ) -> tuple[list[Backup], str | None]:
        """One page of backups, oldest first, and the token of the next page (None on the last)."""
        with self._lock:
            items = sorted(self._backups.values(), key=backup_key)
        if index_name is not None:
            current = self._current_id(index_name)
            if current is None and not include_deleted:
                raise IndexNotFoundError(
                    f"index {index_name!r} not found; pass include_deleted=true to list the backups of "
                    "deleted indexes of that name"
                )
            items = [
                b
                for b in items
                if b.source_index_name == index_name and (include_deleted or b.source_index_id == current)
            ]
        found, token = page(items, backup_key, limit, pagination_token)
        return [replace(b) for b in found], token

    def describe_backup(self, backup_id: str) -> Backup:
        with self._lock:
            return replace(self._backup(backup_id))

    def delete_backup(self, backup_id: str) -> None:
        root = self._root()
        with self._lock:
            if self._damaged.pop(backup_id, None) is not None:
                shutil.rmtree(root / backup_id, ignore_errors=True)
                return
            self._backup(backup_id)
            # A restore reading this backup finishes first (it takes as long as a checksum pass).
            self._idle.wait_for(lambda: not self._restoring.get(backup_id))
            if self._backups.pop(backup_id, None) is None:
                return  # deleted by another caller meanwhile
            doomed = root / f".tmp-deleted-{backup_id}"
            os.replace(root / backup_id, doomed)
            fsync_dir(root)
        shutil.rmtree(doomed, ignore_errors=True)

    def _backup(self, backup_id: str) -> Backup:
        if not isinstance(backup_id, str) or not backup_id:
            raise InvalidArgumentError("backup_id must be a non-empty string")
        backup = self._backups.get(backup_id)
        if backup is None and backup_id in self._damaged:
            raise BackupCorruptionError(f"backup {backup_id} is damaged: {self._damaged[backup_id]}")
        if backup is None:
            raise NotFoundError(f"backup {backup_id!r} not found")
        return backup

    def _current_id(self, index_name: str) -> str | None:
        try:
            return index_id(self.catalog.describe_index(index_name))
        except IndexNotFoundError:
            return None

    # -- restore ----------------------------------------------------------------------------------
    def create_index_from_backup(
        self,
        backup_id: str,
        name: str,
        *,
        deletion_protection: str | None = None,
        tags: dict[str, str] | None = None,
    ) -> RestoreJob:
        """Build the index `name` from the backup; returns the job, `Completed` (errors raise)."""
        root = self._root()
        v.check_index_name(name)
        if deletion_protection is not None and deletion_protection not in ("enabled", "disabled"):
            raise InvalidArgumentError(
                f"deletion_protection must be 'enabled' or 'disabled', got {deletion_protection!r}"
            )
        if tags is not None and not isinstance(tags, dict):
            raise InvalidArgumentError("tags must be an object of string keys and values")
        with self._lock:
            backup = self._backup(backup_id)
            if self.catalog.has_index(name):
                raise AlreadyExistsError(
                    f"index {name!r} already exists; choose another name for the restored index"
                )
            assert backup.index is not None
            info = replace(
                backup.index,
                name=name,
                deletion_protection=deletion_protection or "disabled",  # type: ignore[arg-type]
                tags=dict(backup.tags or {}) if tags is None else dict(tags),
                created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            )
            job = RestoreJob(
                restore_job_id=str(uuid.uuid4()),
                backup_id=backup_id,
                target_index_name=name,
                target_index_id=index_id(info),
                status="Pending",
                created_at=_now(),
                percent_complete=0.0,
            )
            self._jobs[job.restore_job_id] = job
            self._save_jobs()
            self._restoring[backup_id] = self._restoring.get(backup_id, 0) + 1
        staging = root.parent / "indexes" / f".restore-{job.restore_job_id}"
        try:
            try:
                snapshot.restore(root / backup_id / "data", staging)
            finally:
                self._release(backup_id)
            self.catalog.adopt_index(info, staging)
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            self._finish(job, "Failed", str(exc) if isinstance(exc, Exception) else "interrupted")
            raise
        self._finish(job, "Completed", None)
        return replace(job)

    def _release(self, backup_id: str) -> None:
        with self._lock:
            self._restoring[backup_id] -= 1
            if not self._restoring[backup_id]:
                del self._restoring[backup_id]
            self._idle.notify_all()

    def _finish(self, job: RestoreJob, status: str, error: str | None) -> None:
        with self._lock:
            job.status = status
            job.error = error
            job.completed_at = _now()
            if status == "Completed":
                job.percent_complete = 100.0
            self._save_jobs()

    def list_restore_jobs(
        self, *, limit: int | None = None, pagination_token: str | None = None
    ) -> tuple[list[RestoreJob], str | None]:
        with self._lock:
            items = sorted(self._jobs.values(), key=job_key)
        found, token = page(items, job_key, limit, pagination_token)
        return [replace(j) for j in found], token

    def describe_restore_job(self, job_id: str) -> RestoreJob:
        if not isinstance(job_id, str) or not job_id:
            raise InvalidArgumentError("restore job id must be a non-empty string")
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFoundError(f"restore job {job_id!r} not found")
            return replace(job)


def _check_text(value: object, what: str, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidArgumentError(f"backup {what} must be a string of at most {limit} characters")

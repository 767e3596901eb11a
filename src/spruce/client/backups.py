"""Backups and restore jobs in the embedded client, with the pinecone SDK's method names.

    backup = db.create_backup(index_name="movies", backup_name="nightly")
    db.create_index_from_backup(backup_id=backup.backup_id, name="movies-restored")

Mixed into `spruce.Client`; results have the fields of the SDK's BackupModel and RestoreJobModel.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from spruce.client.responses import IndexModel, Obj
from spruce.service.backup_files import Backup, RestoreJob
from spruce.service.backups import backups_of
from spruce.service.catalog import Catalog


class ListPage:
    """One page of a listing: iterate it, `len()` it, index it; `pagination.next` names the next page."""

    def __init__(self, data: list[Obj], next_token: str | None) -> None:
        self.data = data
        self.pagination = Obj(next=next_token) if next_token else None

    def __iter__(self) -> Iterator[Obj]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, i: int) -> Obj:
        return self.data[i]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"data": [d.to_dict() for d in self.data]}
        if self.pagination is not None:
            out["pagination"] = self.pagination.to_dict()
        return out

    def __repr__(self) -> str:
        return f"ListPage(data={self.data!r}, pagination={self.pagination!r})"


def backup_obj(b: Backup) -> Obj:
    return Obj(
        backup_id=b.backup_id,
        source_index_name=b.source_index_name,
        source_index_id=b.source_index_id,
        status=b.status,
        cloud=b.cloud,
        region=b.region,
        name=b.name,
        description=b.description,
        dimension=b.dimension,
        metric=b.metric,
        record_count=b.record_count,
        namespace_count=b.namespace_count,
        size_bytes=b.size_bytes,
        tags=dict(b.tags) if b.tags else None,
        created_at=b.created_at,
    )


def restore_job_obj(j: RestoreJob) -> Obj:
    return Obj(
        restore_job_id=j.restore_job_id,
        backup_id=j.backup_id,
        target_index_name=j.target_index_name,
        target_index_id=j.target_index_id,
        status=j.status,
        created_at=j.created_at,
        completed_at=j.completed_at,
        percent_complete=j.percent_complete,
    )


class BackupMethods:
    catalog: Catalog

    def create_backup(
        self, *, index_name: str, backup_name: str | None = None, description: str | None = None
    ) -> Obj:
        """Back up the index as it is now (writes may go on); `Ready` when this returns."""
        backup = backups_of(self.catalog).create_backup(index_name, name=backup_name, description=description)
        return backup_obj(backup)

    def list_backups(
        self,
        *,
        index_name: str | None = None,
        limit: int | None = None,
        pagination_token: str | None = None,
        include_deleted: bool | None = None,
    ) -> ListPage:
        found, token = backups_of(self.catalog).list_backups(
            index_name, limit=limit, pagination_token=pagination_token, include_deleted=bool(include_deleted)
        )
        return ListPage([backup_obj(b) for b in found], token)

    def describe_backup(self, *, backup_id: str) -> Obj:
        return backup_obj(backups_of(self.catalog).describe_backup(backup_id))

    def delete_backup(self, *, backup_id: str) -> None:
        backups_of(self.catalog).delete_backup(backup_id)

    def create_index_from_backup(
        self,
        *,
        backup_id: str,
        name: str,
        deletion_protection: str | None = None,
        tags: dict[str, str] | None = None,
        timeout: int | None = None,
    ) -> IndexModel | Obj:
        """Create the index `name` from the backup. Returns the new index, or with `timeout=-1` (as the
        SDK) the `restore_job_id` and `index_id`; the restore has finished either way."""
        job = backups_of(self.catalog).create_index_from_backup(
            backup_id, name, deletion_protection=deletion_protection, tags=tags
        )
        if timeout == -1:
            return Obj(restore_job_id=job.restore_job_id, index_id=job.target_index_id)
        return IndexModel.of(self.catalog.describe_index(name), host=f"embedded://{name}")

    def list_restore_jobs(self, *, limit: int | None = None, pagination_token: str | None = None) -> ListPage:
        found, token = backups_of(self.catalog).list_restore_jobs(
            limit=limit, pagination_token=pagination_token
        )
        return ListPage([restore_job_obj(j) for j in found], token)

    def describe_restore_job(self, *, job_id: str) -> Obj:
        return restore_job_obj(backups_of(self.catalog).describe_restore_job(job_id))

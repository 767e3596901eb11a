"""Bulk import methods of the embedded `Index`, named and shaped as in the pinecone SDK.

    index.start_import(uri="s3://bucket/prefix/", error_mode="continue")   # -> Obj(id="1")
    index.describe_import("1").status                                       # Pending ... Completed

The import runs in the client's background worker thread; `wait_import` blocks until it ends.
"""

from __future__ import annotations

from collections.abc import Iterator

from spruce.client.responses import Obj
from spruce.service.data import IndexService
from spruce.service.import_jobs import ImportJob
from spruce.service.imports import ImportManager


def import_obj(job: ImportJob) -> Obj:
    return Obj(
        id=job.id,
        uri=job.uri,
        status=job.status,
        created_at=job.created_at,
        finished_at=job.finished_at,
        percent_complete=job.percent_complete,
        records_imported=job.records_imported,
        error=job.error,
    )


class ImportMethods:
    _svc: IndexService
    _imports: ImportManager

    def start_import(self, uri: str, integration_id: str | None = None, error_mode: str | None = None) -> Obj:
        job = self._imports.start(self._svc.info.name, uri, error_mode, integration_id)
        return Obj(id=job.id)

    def describe_import(self, id: str | int) -> Obj:
        return import_obj(self._imports.describe(self._svc.info.name, str(id)))

    def cancel_import(self, id: str | int) -> Obj:
        self._imports.cancel(self._svc.info.name, str(id))
        return Obj()

    def list_imports_paginated(self, limit: int | None = None, pagination_token: str | None = None) -> Obj:
        jobs, token = self._imports.list(self._svc.info.name, limit, pagination_token)
        return Obj(data=[import_obj(j) for j in jobs], pagination=Obj(next=token) if token else None)

    def list_imports(self, limit: int | None = None) -> Iterator[Obj]:
        token: str | None = None
        while True:
            jobs, token = self._imports.list(self._svc.info.name, limit, token)
            yield from (import_obj(j) for j in jobs)
            if token is None:
                return

    def wait_import(self, id: str | int, timeout: float | None = None) -> Obj:
        """Block until the import is Completed, Failed or Cancelled (or `timeout` seconds pass)."""
        return import_obj(self._imports.wait(self._svc.info.name, str(id), timeout))

"""Bulk import: start / list / describe / cancel jobs, and the worker that runs them.

A job lists `<uri>/<namespace>/**.parquet` and checks every file's schema and row count (footers only)
when it starts (import_plan.py), so bad input is refused at once. The worker then imports one
namespace at a time: row groups stream through `import_rows.clean` into segments (`engine/bulk.py`),
and the namespace is published by one manifest commit. Namespaces are all-or-nothing: `abort` drops
the failing namespace's segments and stops; `continue` skips bad records. After the last namespace
the job stays InProgress at 100% until the background HNSW builds are done, as Pinecone documents.

Restarts: the job table (import_jobs.py) records each published namespace, so a job that was running
at a crash is resumed: published namespaces are kept, the one in progress is imported again from its
start (its unpublished segments were removed when the index reopened).
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from spruce.config import ImportConfig
from spruce.errors import (
    AlreadyExistsError,
    ClosedError,
    InvalidArgumentError,
    NotFoundError,
    SpruceError,
)
from spruce.service import validation as v
from spruce.service.data import decode_token, encode_token
from spruce.service.import_jobs import (
    CANCELLED,
    COMPLETED,
    FAILED,
    FILE_NAME,
    IN_PROGRESS,
    PENDING,
    TERMINAL,
    ImportJob,
    JobTable,
    now,
)
from spruce.service.import_plan import open_source, plan_files
from spruce.service.import_rows import clean
from spruce.service.import_sources import display_path, open_uri, read_batches

if TYPE_CHECKING:
    from spruce.service.catalog import Catalog
    from spruce.service.data import IndexService

log = logging.getLogger("spruce.imports")

MAX_LIST_LIMIT = 100


class _Stop(Exception):
    """The job was cancelled, or the process is closing (then it resumes at the next open)."""


class ImportManager:
    def __init__(self, catalog: Catalog, config: ImportConfig) -> None:
        self._catalog = catalog
        self.config = config
        self._cond = threading.Condition()
        self._tables: dict[str, JobTable] = {}
        self._queue: list[tuple[str, str]] = []
        self._cancelled: set[tuple[str, str]] = set()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._resume()

    # -- API --------------------------------------------------------------------------------------
    def start(
        self, index: str, uri: object, error_mode: object = None, integration_id: object = None
    ) -> ImportJob:
        svc = self._catalog.index(index)
        source = open_source(svc, index, uri, error_mode, integration_id, self.config)
        table = self._table(index, svc)
        claimed = {
            ns for j in table.ordered() if j.status not in TERMINAL for ns in j.plan if ns not in j.done
        }
        plan = plan_files(svc, index, source, claimed, self.config)
        job = ImportJob(
            id=table.new_id(),
            index=index,
            uri=source.uri,
            error_mode=source.error_mode,
            integration_id=source.integration_id,
            created_at=now(),
            plan=plan.files,
            total_rows=plan.total_rows,
        )
        table.save(job)
        with self._cond:
            self._queue.append((index, job.id))
            self._ensure_worker()
            self._cond.notify_all()
        return job

    def describe(self, index: str, job_id: str) -> ImportJob:
        table = self._table(index, self._catalog.index(index))
        job = table.jobs.get(str(job_id))
        if job is None:
            raise NotFoundError(f"import {job_id!r} not found in index {index!r}")
        return job

    def list(
        self, index: str, limit: int | None = None, token: str | None = None
    ) -> tuple[list[ImportJob], str | None]:
        limit = MAX_LIST_LIMIT if limit is None else v.check_limit(limit, MAX_LIST_LIMIT)
        after = decode_token(token)
        jobs = self._table(index, self._catalog.index(index)).ordered()
        if after is not None:
            if not after.isdigit():
                raise InvalidArgumentError("invalid paginationToken: pass a token from a previous page")
            jobs = [j for j in jobs if int(j.id) > int(after)]
        page = jobs[:limit]
        return page, encode_token(page[-1].id) if len(jobs) > limit else None

    def cancel(self, index: str, job_id: str) -> ImportJob:
        job = self.describe(index, job_id)
        with self._cond:
            if job.status == PENDING:
                job.status, job.finished_at = CANCELLED, now()
                self._table(index).save(job)
            elif job.status == IN_PROGRESS:
                self._cancelled.add((index, job.id))
            self._cond.notify_all()
        return job

    def wait(self, index: str, job_id: str, timeout: float | None = None) -> ImportJob:
        """Block until the job is terminal (for the embedded client and CLI)."""
        job = self.describe(index, job_id)
        with self._cond:
            self._cond.wait_for(lambda: job.status in TERMINAL or self._closing, timeout)
        return job

    def forget(self, index: str) -> None:
        """The index is being deleted: stop its jobs and drop their table."""
        with self._cond:
            table = self._tables.pop(index, None)
            self._queue = [q for q in self._queue if q[0] != index]
            if table is not None:
                self._cancelled.update((index, j.id) for j in table.jobs.values() if j.status == IN_PROGRESS)
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=600)

    # -- tables and worker ------------------------------------------------------------------------
    def _table(self, index: str, svc: IndexService | None = None) -> JobTable:
        with self._cond:
            table = self._tables.get(index)
            if table is None:
                path = svc.store.path if svc is not None else self._index_dir(index)
                table = JobTable(None if path is None else path / FILE_NAME)
                self._tables[index] = table
            return table

    def _index_dir(self, index: str) -> Path | None:
        root = self._catalog.path
        return None if root is None else root / "indexes" / index

    def _resume(self) -> None:
        root = self._catalog.path
        if root is None:
            return
        for path in sorted((root / "indexes").glob(f"*/{FILE_NAME}")):
            name = path.parent.name
            if not self._catalog.has_index(name):
                continue
            table = self._table(name)
            for job in table.ordered():
                if job.status not in TERMINAL:
                    self._queue.append((name, job.id))
        if self._queue:
            self._ensure_worker()

    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="spruce-imports", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if self._closing:
                    return
                index, job_id = self._queue.pop(0)
                table = self._tables.get(index)
                job = table.jobs.get(job_id) if table is not None else None
            if job is None or table is None or job.status in TERMINAL:
                continue
            try:
                self._run(table, job)
            except _Stop:
                if self._closing and (index, job.id) not in self._cancelled:
                    return  # left InProgress: resumed when the index is next opened
                self._finish(table, job, CANCELLED, None)
            except (SpruceError, OSError, pa.ArrowException) as exc:
                message = exc.message if isinstance(exc, SpruceError) else str(exc)
                if isinstance(exc, ClosedError):
                    message = "the index was closed or deleted during the import"
                self._finish(table, job, FAILED, message)
            except Exception as exc:
                log.exception("import %s of index %r failed", job.id, index)
                self._finish(table, job, FAILED, f"internal error: {exc}")

    def _finish(self, table: JobTable, job: ImportJob, status: str, error: str | None) -> None:
        with self._cond:
            job.status, job.error, job.finished_at = status, error, now()
            job.publishing = None
            self._cancelled.discard((job.index, job.id))
            if job.index in self._tables:
                table.save(job)
            self._cond.notify_all()

    def _check(self, job: ImportJob) -> None:
        if self._closing or (job.index, job.id) in self._cancelled:
            raise _Stop()

    def _hold(self, job: ImportJob, reached: int, hook: int) -> None:
        """Test hook: stop here until the job is cancelled or the process closes."""
        if hook and reached == hook:
            with self._cond:
                self._cond.wait_for(lambda: self._closing or (job.index, job.id) in self._cancelled)
            self._check(job)

    # -- running one job --------------------------------------------------------------------------
    def _run(self, table: JobTable, job: ImportJob) -> None:
        svc = self._catalog.index(job.index)
        store = svc.store
        with self._cond:  # atomically with cancel(): a job cancelled while Pending stays Cancelled
            if job.status in TERMINAL:
                return
            job.status = IN_PROGRESS
            table.save(job)
        fs, base = open_uri(job.uri, self.config, job.integration_id)
        files_read = 0
        published = [0]
        # One namespace's final fsyncs and publication run in a second thread while the next one is
        # read (decoding is CPU, flushing is disk); at most one is in flight, published in order.
        pending: Future[None] | None = None
        with ThreadPoolExecutor(1, thread_name_prefix="spruce-import-publish") as pool:
            try:
                for ns, files in job.plan.items():
                    if ns in job.done:
                        continue
                    self._check(job)
                    if job.publishing == ns and store.has_namespace(ns):
                        # Published just before a crash, before the job table said so.
                        job.done[ns] = store.namespace_count(ns) or 0
                        job.records_imported += job.done[ns]
                        job.publishing = None
                        table.save(job)
                        continue
                    if store.has_namespace(ns):
                        raise AlreadyExistsError(
                            f"namespace {ns or '__default__'!r} was created while the import waited"
                        )
                    writer = store.bulk_writer()
                    try:
                        paths = [f.path for f in files]
                        for _ in self._read_namespace(job, svc, fs, base, paths, ns, writer):
                            files_read += 1
                            self._hold(job, files_read, self.config.hold_after_files)
                        if pending is not None:
                            pending.result()
                            pending = None
                    except BaseException:
                        writer.abort()
                        raise
                    pending = pool.submit(self._publish, table, job, store, ns, writer, published)
                if pending is not None:
                    pending.result()
                    pending = None
            finally:
                if pending is not None:
                    with contextlib.suppress(BaseException):
                        pending.result()  # a whole namespace: let its publication finish
        # Queryable already (exactly); done once the background HNSW graphs exist.
        while not all(store.graphs_ready(ns) for ns in job.done):
            self._check(job)
            with self._cond:
                self._cond.wait(0.25)
        self._finish(table, job, COMPLETED, None)

    def _read_namespace(
        self,
        job: ImportJob,
        svc: IndexService,
        fs: Any,
        base: str,
        paths: builtins.list[str],
        ns: str,
        writer: Any,
    ) -> Iterator[int]:
        """Import a namespace's files into `writer`, yielding after each file."""
        for number, batch in read_batches(fs, paths, lambda: self._check(job)):
            if batch is None:
                yield number
                continue
            cleaned = clean(batch, svc.info)
            if cleaned.bad_rows:
                where = display_path(job.uri, base, paths[number])
                if job.error_mode == "abort":
                    raise InvalidArgumentError(
                        f"{where}: {cleaned.first_error} (errorMode abort: namespace "
                        f"{ns or '__default__'!r} was not imported)"
                    )
                job.skipped_rows += cleaned.bad_rows
                log.warning(
                    "import %s: skipped %d records in %s, first: %s",
                    job.id,
                    cleaned.bad_rows,
                    where,
                    cleaned.first_error,
                )
            writer.write(cleaned.ids, cleaned.dense, cleaned.sparse, cleaned.metadata)
            job.rows_read += batch.num_rows

    def _publish(
        self, table: JobTable, job: ImportJob, store: Any, ns: str, writer: Any, published: builtins.list[int]
    ) -> None:
        try:
            segments = writer.finish()
        except BaseException:
            writer.abort()
            raise
        if not segments:
            job.done[ns] = 0
            table.save(job)
            return
        job.publishing = ns
        table.save(job)
        count = store.publish_namespace(ns, segments)
        job.done[ns] = count
        job.records_imported += count
        job.publishing = None
        table.save(job)
        published[0] += 1
        self._hold(job, published[0], self.config.hold_after_namespaces)


__all__ = ["COMPLETED", "FAILED", "ImportManager"]

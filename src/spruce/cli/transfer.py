"""`spruce import` and `spruce export`: bulk data in and out, on a data directory or through a server.

    spruce import s3://bucket/prefix/ --index movies --url http://127.0.0.1:5080
    spruce import ./parquet-dir --index movies --data ./data
    spruce export movies ./backup-dir --data ./data          (or s3://bucket/prefix)

The import shows a progress bar (records/s, ETA) on a terminal and one summary line otherwise.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from spruce.client.embedded import Client
from spruce.config import Settings
from spruce.errors import SpruceError
from spruce.service.export import export_index, write_namespace
from spruce.service.import_sources import DEFAULT_NAMESPACE_DIR, open_uri
from spruce.types import Record, SparseVector

_TERMINAL = ("Completed", "Failed", "Cancelled")


def _http(method: str, url: str, body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")
        with contextlib.suppress(ValueError, KeyError, TypeError):
            detail = json.loads(detail)["error"]["message"]
        raise click.ClickException(f"{method} {url}: {exc.code} {detail}") from None
    except urllib.error.URLError as exc:
        raise click.ClickException(f"cannot reach {url}: {exc.reason}") from None
    return json.loads(raw) if raw else {}


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[records]:,} records  {task.fields[rate]:,.0f}/s"),
        TimeRemainingColumn(),
        disable=not sys.stdout.isatty(),
    )


def _follow(poll: Any, total_hint: int | None) -> dict[str, Any]:
    """Poll `poll()` -> (status dict, rows read) until the job ends, drawing the bar meanwhile."""
    start = time.monotonic()
    state: dict[str, Any]
    with _progress() as bar:
        task = bar.add_task("importing", total=total_hint or 100, records=0, rate=0.0)
        while True:
            state, rows = poll()
            elapsed = max(time.monotonic() - start, 1e-6)
            done = rows if total_hint else state.get("percentComplete", 0.0)
            bar.update(task, completed=done, records=rows, rate=rows / elapsed)
            if state["status"] in _TERMINAL:
                return state
            time.sleep(0.2)


@click.command(name="import")
@click.argument("uri")
@click.option("--index", "index_name", required=True, help="index to import into")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None, help="data directory")
@click.option("--url", default=None, help="server URL (control plane), instead of --data")
@click.option("--error-mode", type=click.Choice(["abort", "continue"]), default="abort", show_default=True)
@click.option("--integration-id", default=None, help="storage integration named in the server config")
def import_command(
    uri: str,
    index_name: str,
    data_dir: Path | None,
    url: str | None,
    error_mode: str,
    integration_id: str | None,
) -> None:
    """Import Parquet files (URI/<namespace>/*.parquet) into a new namespace per folder."""
    if (data_dir is None) == (url is None):
        raise click.UsageError("give exactly one of --data DIR or --url URL")
    start = time.monotonic()
    if url is not None:
        host = _http("GET", f"{url.rstrip('/')}/indexes/{index_name}")["host"]
        body: dict[str, Any] = {"uri": uri, "errorMode": {"onError": error_mode}}
        if integration_id:
            body["integrationId"] = integration_id
        job_id = _http("POST", f"{host}/bulk/imports", body)["id"]

        def poll_remote() -> tuple[dict[str, Any], int]:
            state = _http("GET", f"{host}/bulk/imports/{job_id}")
            return state, int(state.get("recordsImported", 0))

        state = _follow(poll_remote, None)
    else:
        try:
            settings = Settings.from_env()
            with Client(data_dir, config=settings.engine, imports=settings.imports) as db:
                manager = db.catalog.imports
                job = manager.start(index_name, uri, error_mode, integration_id)

                def poll_local() -> tuple[dict[str, Any], int]:
                    return {"status": job.status, "percentComplete": job.percent_complete}, job.rows_read

                _follow(poll_local, job.total_rows)
                state = {"status": job.status, "recordsImported": job.records_imported, "error": job.error}
        except SpruceError as exc:
            raise click.ClickException(exc.message) from None
    took = time.monotonic() - start
    records = int(state.get("recordsImported", 0))
    click.echo(
        f"import {state['status']}: {records:,} records in {took:.1f}s ({records / max(took, 1e-6):,.0f}/s)"
    )
    if state["status"] != "Completed":
        raise click.ClickException(state.get("error") or state["status"])


@click.command(name="export")
@click.argument("index_name")
@click.argument("dest")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), default=None, help="data directory")
@click.option("--url", default=None, help="server URL (control plane), instead of --data")
def export_command(index_name: str, dest: str, data_dir: Path | None, url: str | None) -> None:
    """Write every namespace as Parquet in the import layout (DEST/<namespace>/part-*.parquet)."""
    if (data_dir is None) == (url is None):
        raise click.UsageError("give exactly one of --data DIR or --url URL")
    if url is not None:
        _export_remote(url, index_name, dest)
        return
    try:
        settings = Settings.from_env()
        with Client(data_dir, config=settings.engine, imports=settings.imports) as db:
            report = export_index(db.catalog.index(index_name), dest, settings.imports)
    except SpruceError as exc:
        raise click.ClickException(exc.message) from None
    total = sum(report.namespaces.values())
    click.echo(
        f"exported {total:,} records in {len(report.namespaces)} namespaces ({report.files} files) to {dest}"
    )


def _export_remote(url: str, index_name: str, dest: str) -> None:
    """Export through a running server's data plane (list ids, fetch them 100 at a time)."""
    from urllib.parse import urlencode

    import numpy as np

    info = _http("GET", f"{url.rstrip('/')}/indexes/{index_name}")
    host = info["host"]
    stats = _http("POST", f"{host}/describe_index_stats", {})
    dimension = int(stats.get("dimension") or 0)
    with_sparse = stats.get("vectorType") == "sparse" or stats.get("metric") == "dotproduct"
    settings = Settings.from_env()
    try:
        fs, base = open_uri(dest, settings.imports)
    except SpruceError as exc:
        raise click.ClickException(exc.message) from None

    def chunks(ns: str) -> Any:
        token: str | None = None
        while True:
            params: dict[str, Any] = {"namespace": ns, "limit": 100}
            if token:
                params["paginationToken"] = token
            page = _http("GET", f"{host}/vectors/list?{urlencode(params)}")
            ids = [v["id"] for v in page.get("vectors", [])]
            if ids:
                query = urlencode([("ids", i) for i in ids] + ([("namespace", ns)] if ns else []))
                found = _http("GET", f"{host}/vectors/fetch?{query}")["vectors"]
                out = []
                for rid in ids:
                    v = found.get(rid)
                    if v is None:
                        continue  # deleted meanwhile
                    sv = v.get("sparseValues")
                    out.append(
                        Record(
                            rid,
                            np.asarray(v.get("values") or [], dtype=np.float32) if dimension else None,
                            SparseVector(
                                np.asarray(sv["indices"], dtype=np.uint32),
                                np.asarray(sv["values"], dtype=np.float32),
                            )
                            if sv
                            else None,
                            v.get("metadata"),
                        )
                    )
                if out:
                    yield out
            token = (page.get("pagination") or {}).get("next")
            if not token:
                return

    total = 0
    for ns in sorted(stats.get("namespaces", {})):
        written, _ = write_namespace(
            fs, f"{base}/{ns or DEFAULT_NAMESPACE_DIR}", chunks(ns), dimension, with_sparse
        )
        total += written
    click.echo(f"exported {total:,} records from {url} to {dest}")

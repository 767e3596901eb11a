"""`spruce backup INDEX`, `spruce restore BACKUP_ID --name NEW`, `spruce backups`: on a data directory
(embedded) or through a running server (`--url`), with the same output either way.

Both paths produce the wire JSON of the backups API (the embedded one converts the service's result
with the same functions the server uses), and one printer formats it.
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import orjson

from spruce.config import Settings
from spruce.errors import SpruceError
from spruce.service.backups import BackupService, backups_of
from spruce.service.catalog import Catalog
from spruce.wire import backup_model as wire

Json = dict[str, Any]
_TIMEOUT = 600.0

_data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="data directory to open embedded (default: $SPRUCE_DATA or ./data); not with --url",
)
_url_option = click.option(
    "--url", default=None, help="a running server's control URL, e.g. http://127.0.0.1:5080"
)
_key_option = click.option("--api-key", default=None, envvar="PINECONE_API_KEY", help="Api-Key for --url")
_json_option = click.option(
    "--json", "as_json", is_flag=True, help="print the API's JSON instead of a summary"
)


@click.command()
@click.argument("index")
@click.option("--name", default=None, help="a name for the backup")
@click.option("--description", default=None, help="a description for the backup")
@_data_option
@_url_option
@_key_option
@_json_option
def backup(
    index: str,
    name: str | None,
    description: str | None,
    data_dir: Path | None,
    url: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Back up INDEX (a consistent copy; writes may go on meanwhile)."""
    body = {k: v for k, v in (("name", name), ("description", description)) if v is not None}
    out = _run(
        data_dir,
        url,
        api_key,
        lambda svc: wire.backup_json(svc.create_backup(index, name=name, description=description)),
        ("POST", f"/indexes/{_q(index)}/backups", body),
    )
    _emit(out, as_json, _backup_line)


@click.command()
@click.argument("backup_id")
@click.option("--name", "target", required=True, help="name of the index to create from the backup")
@click.option("--deletion-protection", type=click.Choice(["enabled", "disabled"]), default=None)
@_data_option
@_url_option
@_key_option
@_json_option
def restore(
    backup_id: str,
    target: str,
    deletion_protection: str | None,
    data_dir: Path | None,
    url: str | None,
    api_key: str | None,
    as_json: bool,
) -> None:
    """Create the index --name from BACKUP_ID."""
    body: Json = {"name": target}
    if deletion_protection is not None:
        body["deletion_protection"] = deletion_protection

    def embedded(svc: BackupService) -> Json:
        job = svc.create_index_from_backup(backup_id, target, deletion_protection=deletion_protection)
        return wire.restore_job_json(job)

    def remote(send: Callable[[str, str, Json | None], Json]) -> Json:
        started = send("POST", f"/backups/{_q(backup_id)}/create-index", body)
        return send("GET", f"/restore-jobs/{_q(started['restore_job_id'])}", None)

    out = _run(data_dir, url, api_key, embedded, remote)
    _emit(out, as_json, _job_line)


@click.command()
@click.option("--index", default=None, help="only the backups of this index")
@_data_option
@_url_option
@_key_option
@_json_option
def backups(
    index: str | None, data_dir: Path | None, url: str | None, api_key: str | None, as_json: bool
) -> None:
    """List backups (every page), oldest first."""

    def embedded(svc: BackupService) -> Json:
        items: list[Json] = []
        token: str | None = None
        while True:
            found, token = svc.list_backups(index, limit=100, pagination_token=token)
            items += [wire.backup_json(b) for b in found]
            if token is None:
                return {"data": items}

    def remote(send: Callable[[str, str, Json | None], Json]) -> Json:
        path = "/backups" if index is None else f"/indexes/{_q(index)}/backups"
        items: list[Json] = []
        query = "?limit=100"
        while True:
            page = send("GET", path + query, None)
            items += page["data"]
            token = (page.get("pagination") or {}).get("next")
            if not token:
                return {"data": items}
            query = "?paginationToken=" + urllib.parse.quote(token)

    out = _run(data_dir, url, api_key, embedded, remote)
    if as_json:
        click.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
        return
    for item in out["data"]:
        click.echo(_backup_line(item))
    if not out["data"]:
        click.echo("no backups")


# -- plumbing ---------------------------------------------------------------------------------------
def _run(
    data_dir: Path | None,
    url: str | None,
    api_key: str | None,
    embedded: Callable[[BackupService], Json],
    remote: tuple[str, str, Json | None] | Callable[[Callable[[str, str, Json | None], Json]], Json],
) -> Json:
    if url is not None and data_dir is not None:
        raise click.UsageError("give --data or --url, not both")
    if url is not None:
        send = _sender(url.rstrip("/"), api_key)
        if isinstance(remote, tuple):
            return send(*remote)
        return remote(send)
    try:
        data = data_dir or Settings.from_env().data_dir or Path("./data")
        if not (data / "catalog.json").exists():
            raise click.ClickException(f"{data} holds no Spruce data (no catalog.json); pass --data or --url")
        catalog = Catalog(data)
        try:
            return embedded(backups_of(catalog))
        finally:
            catalog.close()
    except SpruceError as exc:
        raise click.ClickException(exc.message) from None


def _sender(base: str, api_key: str | None) -> Callable[[str, str, Json | None], Json]:
    def send(method: str, path: str, body: Json | None) -> Json:
        headers = {"Content-Type": "application/json", "X-Pinecone-Api-Version": "2026-07"}
        if api_key:
            headers["Api-Key"] = api_key
        data = None if body is None else orjson.dumps(body)
        request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            raise click.ClickException(f"{exc.code}: {_error_message(exc.read())}") from None
        except urllib.error.URLError as exc:
            raise click.ClickException(f"cannot reach {base}: {exc.reason}") from None
        value = orjson.loads(raw) if raw else {}
        if not isinstance(value, dict):
            raise click.ClickException(f"{base}{path} answered with unexpected JSON")
        return value

    return send


def _error_message(raw: bytes) -> str:
    try:
        doc = orjson.loads(raw)
        return str(doc["error"]["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return raw.decode(errors="replace")[:500]


def _q(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def _emit(out: Json, as_json: bool, line: Callable[[Json], str]) -> None:
    click.echo(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() if as_json else line(out))


def _backup_line(b: Json) -> str:
    label = f" ({b['name']})" if b.get("name") else ""
    return (
        f"{b['backup_id']}{label}  index {b['source_index_name']}  {b['status']}  "
        f"{b.get('record_count', 0)} records in {b.get('namespace_count', 0)} namespaces  "
        f"{_size(int(b.get('size_bytes') or 0))}  {b.get('created_at', '')}"
    )


def _job_line(j: Json) -> str:
    return (
        f"restore job {j['restore_job_id']}: backup {j['backup_id']} -> index {j['target_index_name']}  "
        f"{j['status']}"
    )


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover

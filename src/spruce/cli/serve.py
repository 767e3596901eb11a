"""`spruce serve`: run the Pinecone-compatible REST and gRPC server on a data directory."""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import replace
from pathlib import Path

import click

from spruce.api.server import serve as serve_forever
from spruce.cli.banner import print_banner
from spruce.config import Settings, load_integrations
from spruce.errors import SpruceError
from spruce.service.inference import get_registry


@click.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="data directory (default: $SPRUCE_DATA or ./data; created if missing)",
)
@click.option("--port", type=int, default=None, help="control-plane port; indexes get the ports above it")
@click.option("--host", default=None, help="address to bind (default 127.0.0.1)")
@click.option("--api-key", "api_keys", multiple=True, help="accepted Api-Key (repeatable); none: open server")
@click.option("--external-url", default=None, help="URL clients reach this server at, e.g. http://myhost")
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1024),
    default=None,
    help="largest request body accepted (default 2 MiB, like Pinecone)",
)
@click.option(
    "--max-inflight-body-bytes",
    type=click.IntRange(min=1024),
    default=None,
    help="request bodies held at once, summed over requests; one past it gets 429 (default 256 MiB)",
)
@click.option(
    "--models-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="a models.toml of user models (also read: <data>/models.toml, $SPRUCE_MODELS_CONFIG)",
)
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="PEM certificate (chain): serve HTTPS and gRPC over TLS on the same ports ($SPRUCE_TLS_CERT)",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="PEM private key of --tls-cert ($SPRUCE_TLS_KEY)",
)
@click.option("--s3-endpoint", default=None, help="S3-compatible endpoint for bulk imports (e.g. MinIO)")
@click.option(
    "--storage-integrations",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="JSON file of named storage credentials that imports select by integrationId",
)
@click.option(
    "--wal-recovery",
    type=click.Choice(["fail", "skip-corrupted"]),
    default=None,
    help="on a corrupt WAL: mark the index failed (default), or open it with every intact frame and "
    "record what was lost",
)
@click.option(
    "--schemeless-hosts",
    "schemeless_hosts",
    multiple=True,
    metavar="API_VERSION",
    help="report index hosts without http:// to clients of this API version (2025-04: pinecone 7.x gRPC "
    "as in Pinecone Local's docs; 7.x REST then needs http:// added by hand)",
)
@click.option("--log-level", default="info", type=click.Choice(["debug", "info", "warning", "error"]))
def serve(
    data_dir: Path | None,
    port: int | None,
    host: str | None,
    api_keys: tuple[str, ...],
    external_url: str | None,
    max_body_bytes: int | None,
    max_inflight_body_bytes: int | None,
    models_config: Path | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    s3_endpoint: str | None,
    storage_integrations: Path | None,
    wal_recovery: str | None,
    schemeless_hosts: tuple[str, ...],
    log_level: str,
) -> None:
    """Serve the REST and gRPC APIs until SIGTERM or Ctrl-C."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
    except SpruceError as exc:
        raise click.UsageError(exc.message) from None
    server = settings.server
    if port is not None:
        server = replace(server, port=port)
    if host is not None:
        server = replace(server, host=host)
    if api_keys:
        server = replace(server, api_keys=api_keys)
    if external_url is not None:
        server = replace(server, external_url=external_url)
    if max_body_bytes is not None:
        server = replace(server, max_body_bytes=max_body_bytes)
    if max_inflight_body_bytes is not None:
        server = replace(server, max_inflight_body_bytes=max_inflight_body_bytes)
    if tls_cert is not None:
        server = replace(server, tls_cert=tls_cert)
    if tls_key is not None:
        server = replace(server, tls_key=tls_key)
    if (server.tls_cert is None) != (server.tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together: give both or neither")
    if schemeless_hosts:
        server = replace(server, schemeless_host_versions=schemeless_hosts)
    data = data_dir or settings.data_dir or Path("./data")
    imports = settings.imports
    try:
        if s3_endpoint is not None:
            imports = replace(imports, s3_endpoint=s3_endpoint)
        if storage_integrations is not None:
            imports = replace(imports, integrations=load_integrations(storage_integrations))
    except SpruceError as exc:
        raise click.UsageError(exc.message) from None
    settings = replace(settings, data_dir=data, server=server, imports=imports)
    if wal_recovery is not None:
        settings = replace(settings, engine=replace(settings.engine, wal_recovery=wal_recovery))

    def ready(url: str) -> None:
        print_banner(url, data, bool(server.api_keys))
        sys.stdout.flush()

    try:
        if models_config is not None:
            get_registry().load_config(models_config)
        asyncio.run(serve_forever(settings, ready))
    except SpruceError as exc:
        raise click.ClickException(exc.message) from None
    except OSError as exc:
        raise click.ClickException(f"cannot start: {exc}") from None

"""`spruce serve`: run the Pinecone-compatible REST and gRPC server on a data directory."""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import replace
from pathlib import Path

import click

from spruce.api.server import serve as serve_forever
from spruce.config import Settings
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
    data = data_dir or settings.data_dir or Path("./data")
    settings = replace(settings, data_dir=data, server=server)

    def ready(url: str) -> None:
        click.echo(f"Spruce is serving on {url} (data: {data})")
        sys.stdout.flush()

    try:
        if models_config is not None:
            get_registry().load_config(models_config)
        asyncio.run(serve_forever(settings, ready))
    except SpruceError as exc:
        raise click.ClickException(exc.message) from None
    except OSError as exc:
        raise click.ClickException(f"cannot start: {exc}") from None

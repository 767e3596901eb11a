"""The start-up banner of `spruce serve`: what runs where, and what to do next."""

from __future__ import annotations

from pathlib import Path

import click

from spruce.service.status import version


def banner_lines(url: str, data: Path, keys: bool) -> list[str]:
    return [
        f"Spruce {version()} is serving on {url}",
        f"  data directory  {data.resolve()}",
        f"  console         {url}/",
        f"  API (REST)      {url}   (each index also gets its own port: the host in describe_index)",
        f"  API docs        {url}/docs   (OpenAPI: {url}/openapi.json)",
        f"  metrics         {url}/metrics",
        '  gRPC            plaintext, on each index\'s port (pinecone: grpc_scheme="http")',
        "  API keys        "
        + ("required (Api-Key header)" if keys else "OFF: anyone who can reach the port can read and write"),
        "",
        "  Next steps:",
        f"    open {url}/ in a browser, or from Python:",
        f'    from pinecone import Pinecone; pc = Pinecone(api_key="any", host="{url}")',
        f"    spruce indexes list --url {url}",
        "  Stop with Ctrl-C (or SIGTERM): in-flight requests finish and the data directory closes cleanly.",
    ]


def print_banner(url: str, data: Path, keys: bool) -> None:
    lines = banner_lines(url, data, keys)
    click.echo(click.style(lines[0], bold=True))
    for line in lines[1:]:
        click.echo(line)

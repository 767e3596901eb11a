"""The `spruce` command. Each command (or group of commands) lives in its own module of this package
and is registered here with one line, so commands can be added without touching each other."""

from __future__ import annotations

import click

from spruce.cli.models import models
from spruce.cli.serve import serve


@click.group()
def main() -> None:
    """Spruce: a self-hosted vector database that speaks Pinecone's API."""


main.add_command(serve)
main.add_command(models)

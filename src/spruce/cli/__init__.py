"""The `spruce` command. Each command (or group of commands) lives in its own module of this package
and is registered here with one line, so commands can be added without touching each other."""

from __future__ import annotations

import click

from spruce.cli.bench import bench
from spruce.cli.indexes import indexes
from spruce.cli.query import query
from spruce.cli.serve import serve
from spruce.cli.stats import stats
from spruce.service.status import version


@click.group()
@click.version_option(version(), "--version", "-V", prog_name="spruce", message="%(prog)s %(version)s")
def main() -> None:
    """Spruce: a self-hosted vector database that speaks Pinecone's API."""


main.add_command(serve)
main.add_command(indexes)
main.add_command(stats)
main.add_command(query)
main.add_command(bench)

"""The `spruce` command. Each command (or group of commands) lives in its own module of this package
and is registered here with one line, so commands can be added without touching each other."""

from __future__ import annotations

import click

from spruce.cli.backup import backup, backups, restore
from spruce.cli.bench import bench
from spruce.cli.check import check, repair
from spruce.cli.indexes import indexes
from spruce.cli.models import models
from spruce.cli.query import query
from spruce.cli.serve import serve
from spruce.cli.stats import stats
from spruce.cli.transfer import export_command, import_command
from spruce.service.status import version


@click.group()
@click.version_option(version(), "--version", "-V", prog_name="spruce", message="%(prog)s %(version)s")
def main() -> None:
    """Spruce: a self-hosted vector database that speaks Pinecone's API."""


main.add_command(serve)
main.add_command(models)
main.add_command(backup)
main.add_command(restore)
main.add_command(backups)
main.add_command(import_command)
main.add_command(export_command)
main.add_command(check)
main.add_command(repair)
main.add_command(indexes)
main.add_command(stats)
main.add_command(query)
main.add_command(bench)

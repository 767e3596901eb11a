"""The `spruce` command. Each command (or group of commands) lives in its own module of this package
and is registered here with one line, so commands can be added without touching each other."""

from __future__ import annotations

import click

from spruce.cli.backup import backup, backups, restore
from spruce.cli.check import check, repair
from spruce.cli.models import models
from spruce.cli.serve import serve
from spruce.cli.transfer import export_command, import_command


@click.group()
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

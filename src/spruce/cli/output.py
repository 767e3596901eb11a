"""Printing for the CLI: rich tables on stdout (plain text when it is not a terminal), or JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.table import Table


def console() -> Console:
    # A wide fixed width off a terminal, so piped output is not wrapped at 80 columns.
    out = Console()
    return out if out.is_terminal else Console(width=200, no_color=True)


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    t = Table(title=title, show_lines=False, header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for row in rows:
        t.add_row(*("-" if v is None else str(v) for v in row))
    console().print(t)


def as_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def fields(title: str, pairs: Sequence[tuple[str, Any]]) -> None:
    t = Table(title=title, show_header=False, box=None)
    t.add_column(style="bold")
    t.add_column(overflow="fold")
    for k, v in pairs:
        t.add_row(k, "-" if v is None else str(v))
    console().print(t)


json_option = click.option("--json", "as_json_output", is_flag=True, help="print JSON instead of a table")

"""`spruce stats INDEX`: record counts per namespace."""

from __future__ import annotations

import click

from spruce.cli import output
from spruce.cli.backend import Backend, backend_options


@click.command()
@click.argument("index")
@backend_options
@output.json_option
def stats(backend: Backend, index: str, as_json_output: bool) -> None:
    """Statistics of INDEX: records per namespace, dimension, metric."""
    s = backend.stats(index)
    if as_json_output:
        output.as_json(s)
        return
    output.fields(
        f"index {index}",
        [("records", s["total"]), ("dimension", s["dimension"]), ("metric", s["metric"])],
    )
    if s["namespaces"]:
        rows = sorted(s["namespaces"].items())
        output.table(None, ["namespace", "records"], rows)

"""`spruce query INDEX --vector/--id/--text`: the nearest records, with scores and metadata."""

from __future__ import annotations

import json
from typing import Any

import click

from spruce.cli import output
from spruce.cli.backend import Backend, backend_options


def _json_arg(raw: str | None, what: str, kind: type) -> Any:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{what} is not valid JSON: {exc}") from None
    if not isinstance(value, kind):
        raise click.BadParameter(f"{what} must be a JSON {kind.__name__}")
    return value


@click.command()
@click.argument("index")
@click.option("--vector", help='query vector as JSON, e.g. "[0.1, 0.2, 0.3]"')
@click.option("--id", "record_id", help="query by the vector of this record")
@click.option("--text", help="query text (indexes created for a model)")
@click.option("--top-k", "-k", type=click.IntRange(1, 10_000), default=10, show_default=True)
@click.option("--namespace", "-n", default="", help="namespace (default: the default namespace)")
@click.option("--filter", "filter_json", help='metadata filter as JSON, e.g. \'{"genre": "drama"}\'')
@backend_options
@output.json_option
def query(
    backend: Backend,
    index: str,
    vector: str | None,
    record_id: str | None,
    text: str | None,
    top_k: int,
    namespace: str,
    filter_json: str | None,
    as_json_output: bool,
) -> None:
    """Query INDEX by --vector, --id or --text."""
    if sum(x is not None for x in (vector, record_id, text)) != 1:
        raise click.UsageError("give exactly one of --vector, --id or --text")
    q: dict[str, Any] = {"filter": _json_arg(filter_json, "--filter", dict)}
    if vector is not None:
        q["vector"] = _json_arg(vector, "--vector", list)
    elif record_id is not None:
        q["id"] = record_id
    else:
        q["text"] = text
    matches = backend.query(index, namespace, top_k, q)
    if as_json_output:
        output.as_json(matches)
        return
    if not matches:
        click.echo("no matches")
        return
    rows = [
        (i + 1, m["id"], f"{m['score']:.4f}", json.dumps(m["metadata"]) if m["metadata"] else "")
        for i, m in enumerate(matches)
    ]
    output.table(None, ["#", "id", "score", "metadata"], rows)

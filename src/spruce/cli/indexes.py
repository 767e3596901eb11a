"""`spruce indexes list|describe|create|delete`, on a data directory or a running server."""

from __future__ import annotations

from typing import Any

import click

from spruce.cli import output
from spruce.cli.backend import Backend, Json, backend_options, creating_backend_options


@click.group()
def indexes() -> None:
    """List, describe, create and delete indexes."""


def _kind(ix: Json) -> str:
    return f"{ix['vector_type']} ({ix['model']})" if ix.get("model") else str(ix["vector_type"])


@indexes.command("list")
@backend_options
@output.json_option
def list_(backend: Backend, as_json_output: bool) -> None:
    """List the indexes."""
    items = backend.list_indexes()
    if as_json_output:
        output.as_json(items)
        return
    if not items:
        click.echo("no indexes (create one with `spruce indexes create NAME --dimension N`)")
        return
    rows = [
        (i["name"], _kind(i), i["dimension"], i["metric"], i["host"], i["deletion_protection"]) for i in items
    ]
    output.table(None, ["name", "type", "dimension", "metric", "host", "protection"], rows)


def _print_index(ix: Json) -> None:
    tags = ", ".join(f"{k}={v}" for k, v in sorted(ix["tags"].items())) or None
    output.fields(
        f"index {ix['name']}",
        [
            ("type", _kind(ix)),
            ("dimension", ix["dimension"]),
            ("metric", ix["metric"]),
            ("host", ix["host"]),
            ("deletion protection", ix["deletion_protection"]),
            ("tags", tags),
        ],
    )


@indexes.command()
@click.argument("name")
@backend_options
@output.json_option
def describe(backend: Backend, name: str, as_json_output: bool) -> None:
    """Describe index NAME."""
    ix = backend.describe_index(name)
    output.as_json(ix) if as_json_output else _print_index(ix)


@indexes.command()
@click.argument("name")
@click.option("--dimension", type=click.IntRange(1, 20_000), help="vector length (dense indexes)")
@click.option("--metric", type=click.Choice(["cosine", "dotproduct", "euclidean"]), default=None)
@click.option("--sparse", is_flag=True, help="a sparse index (dotproduct)")
@click.option("--model", default=None, help="an index that embeds text with this model")
@click.option("--field", "text_field", default="text", show_default=True, help="record field to embed")
@click.option("--deletion-protection", is_flag=True, help="refuse deletes until disabled")
@creating_backend_options
@output.json_option
def create(
    backend: Backend,
    name: str,
    dimension: int | None,
    metric: str | None,
    sparse: bool,
    model: str | None,
    text_field: str,
    deletion_protection: bool,
    as_json_output: bool,
) -> None:
    """Create index NAME: dense (--dimension), --sparse, or --model for integrated embedding."""
    body: dict[str, Any] = {
        "name": name,
        "deletion_protection": "enabled" if deletion_protection else "disabled",
    }
    if model is not None:
        embed: dict[str, Any] = {"model": model, "field_map": {"text": text_field}}
        if metric:
            embed["metric"] = metric
        if dimension:
            embed["dimension"] = dimension
        body["embed"] = embed
    elif sparse:
        body.update(vector_type="sparse", metric=metric or "dotproduct")
    else:
        if dimension is None:
            raise click.UsageError("a dense index needs --dimension (or use --sparse or --model)")
        body.update(vector_type="dense", dimension=dimension, metric=metric or "cosine")
    ix = backend.create_index(body)
    output.as_json(ix) if as_json_output else _print_index(ix)


@indexes.command()
@click.argument("name")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@backend_options
def delete(backend: Backend, name: str, yes: bool) -> None:
    """Delete index NAME and all its records."""
    if not yes:
        click.confirm(f"delete index {name!r} and every record in it?", abort=True)
    backend.delete_index(name)
    click.echo(f"deleted index {name}")

"""`spruce models`: the model table (Pinecone names, the local models serving them), and a load check."""

from __future__ import annotations

from pathlib import Path

import click

from spruce.errors import SpruceError
from spruce.service.inference import get_registry


@click.command()
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="also list the user models of <data>/models.toml",
)
@click.option(
    "--models-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="also list the user models of this models.toml",
)
@click.option("--check", is_flag=True, help="load every model and run it once (offline), and say so")
def models(data_dir: Path | None, models_config: Path | None, check: bool) -> None:
    """List the inference models: name, type, dimension reported / computed, max tokens, stand-in."""
    registry = get_registry()
    try:
        if data_dir is not None:
            registry.load_data_dir(data_dir)
        if models_config is not None:
            registry.load_config(models_config)
        header = f"{'name':34s} {'type':13s} {'dim':>9s} {'tokens':>6s}"
        click.echo(header + "  served by (dim: reported/computed)")
        for info in registry.list_models():
            kind = info.type if info.vector_type is None else f"{info.type}/{info.vector_type}"
            dims = "-" if info.dimension is None else f"{info.dimension}/{info.native_dimension}"
            line = f"{info.name:34s} {kind:13s} {dims:>9s} {info.max_sequence_length:6d}  {info.stand_in}"
            if check:
                if info.type == "rerank":
                    registry.rerank(info.name, "check", ["one document"])
                else:
                    registry.embed(info.name, ["check"])
                line += "  ok"
            click.echo(line)
    except SpruceError as exc:
        raise click.ClickException(exc.message) from None

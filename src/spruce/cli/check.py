"""`spruce check DIR` and `spruce repair DIR`: find, and recover from, damaged index files offline.

DIR is a data directory (the one `spruce serve --data` uses) or one index's directory in it. Stop the
server first: `repair` takes the data directory's lock and refuses while a server holds it.

check   reports every problem (WAL corruption with the LSN and byte ranges it loses, damaged segments
        and manifests, torn tails, past lossy recoveries); exit code 1 if any is an error.
repair  moves damaged segments aside, opens each damaged index with wal_recovery=skip-corrupted (every
        intact WAL frame is kept, the damaged bytes are copied to wal-*.log.corrupt-<n>, the loss is
        recorded in the index's recovery.json) and checkpoints it; prints what was lost. Exit code 1
        if an index still cannot open (e.g. a damaged manifest: restore it from a backup).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from spruce.config import Settings
from spruce.engine.check import Problem, check_index, set_aside_damaged_segments
from spruce.errors import SpruceError
from spruce.service.catalog import Catalog


def _index_dirs(root: Path) -> list[Path]:
    if (root / "catalog.json").exists() or (root / "indexes").is_dir():
        return sorted(p for p in (root / "indexes").iterdir() if p.is_dir())
    if (root / "wal").is_dir() or (root / "manifest.json").exists():
        return [root]
    raise click.UsageError(f"{root} is neither a Spruce data directory nor an index directory")


def _report(index_dir: Path, problems: list[Problem]) -> None:
    errors = sum(p.severity == "error" for p in problems)
    status = "OK" if errors == 0 else f"{errors} error(s)"
    click.echo(f"index {index_dir.name}: {status}")
    for problem in problems:
        click.echo(f"  {problem}")


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
def check(directory: Path) -> None:
    """Report every damaged file in DIRECTORY; exit 1 if any index is damaged."""
    damaged = 0
    for index_dir in _index_dirs(directory):
        problems = check_index(index_dir)
        _report(index_dir, problems)
        damaged += any(p.severity == "error" for p in problems)
    if damaged:
        click.echo(f"{damaged} damaged index(es); `spruce repair {directory}` recovers what is intact")
        raise SystemExit(1)


@click.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
def repair(directory: Path) -> None:
    """Recover every intact record of DIRECTORY's damaged indexes and print what was lost."""
    root = directory
    only: str | None = None
    if not ((root / "catalog.json").exists() or (root / "indexes").is_dir()):
        only, root = directory.name, directory.parent.parent  # an index dir: <data>/indexes/<name>
        if not (root / "catalog.json").exists():
            raise click.UsageError(f"{directory} is not inside a Spruce data directory")
    engine = replace(Settings.from_env().engine, wal_recovery="skip-corrupted", background=False)
    try:
        catalog = Catalog(root, engine=engine)
    except SpruceError as exc:
        raise click.ClickException(exc.message) from None
    still_failed = 0
    try:
        for info in catalog.list_indexes():
            if only is not None and info.name != only:
                continue
            index_dir = root / "indexes" / info.name
            problems = [p for p in check_index(index_dir) if p.severity == "error"]
            if not problems:
                click.echo(f"index {info.name}: OK, nothing to repair")
                continue
            click.echo(f"index {info.name}: repairing {len(problems)} problem(s)")
            try:
                for line in set_aside_damaged_segments(index_dir):
                    click.echo(f"  LOST {line}")
                store = catalog.index(info.name).store
            except SpruceError as exc:
                still_failed += 1
                click.echo(f"  cannot repair: {exc}")
                continue
            report = store.recovery
            if report is not None:
                for d in report.damage:
                    click.echo(f"  {'LOST' if d.lost_frames else 'skipped'} {d.describe()}")
            click.echo(f"  index {info.name} opens again")
    finally:
        catalog.close()
    if still_failed:
        raise SystemExit(1)

"""Progress display for long embedded calls (`upsert(show_progress=True)`, `flush()`): a rich bar or
spinner on a terminal (stderr), nothing when stderr is not a terminal (logs, CI, pipes)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def on_terminal() -> bool:
    return sys.stderr.isatty()


class Bar:
    """Advance by a number of items; a no-op off a terminal."""

    def __init__(self, progress: Progress | None, task: Any) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: int) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def describe(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text)


@contextmanager
def bar(description: str, total: int, enabled: bool = True) -> Iterator[Bar]:
    if not enabled or not on_terminal():
        yield Bar(None, None)
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    with progress:
        yield Bar(progress, progress.add_task(description, total=total))


@contextmanager
def spinner(description: str, status: Callable[[], str] | None = None) -> Iterator[None]:
    """A spinner while a call runs; `status()` (polled twice a second) adds what it is doing now."""
    if not on_terminal():
        yield
        return
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    done = threading.Event()
    with progress:
        task = progress.add_task(description, total=None)

        def poll() -> None:
            while status is not None and not done.wait(0.5):
                try:
                    progress.update(task, description=f"{description}: {status()}")
                except Exception:
                    return  # a status that fails must not break the call it decorates

        watcher = threading.Thread(target=poll, name="spruce-progress", daemon=True)
        watcher.start()
        try:
            yield
        finally:
            done.set()
            watcher.join(timeout=2)
            progress.update(task, description=f"{description}: done", completed=1, total=1)

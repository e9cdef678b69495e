"""A rich progress display for index builds: one bar per stage with count, rate and ETA."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RichProgress:
    """Implements rag.index.build.Progress on a rich Progress (use as a context manager)."""

    def __init__(self, console: Console | None = None) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task: TaskID | None = None

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._finish()
        self._progress.stop()

    def _finish(self) -> None:
        if self._task is not None:
            task = self._progress.tasks[self._task]
            if task.total is None:
                self._progress.update(self._task, total=task.completed or 1, completed=task.completed or 1)

    def stage(self, name: str, total: int | None) -> None:
        self._finish()
        self._task = self._progress.add_task(name, total=total, rate="")

    def advance(self, n: int = 1) -> None:
        if self._task is None:
            return
        self._progress.advance(self._task, n)
        task = self._progress.tasks[self._task]
        if task.speed:  # a slow stage (a training step takes seconds) shows seconds per item, not "0/s"
            rate = f"{task.speed:,.0f}/s" if task.speed >= 1 else f"{1 / task.speed:,.1f} s each"
            self._progress.update(self._task, rate=rate)

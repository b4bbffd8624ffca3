"""The per-service progress display of long commands (``optimize``): what each service is doing and for how long.

On a terminal, a live table on stderr (one row per service: a spinner, the step, the time in that step) that
disappears when the work is done, leaving the final report alone on the screen. Elsewhere (CI logs, pipes) one
plain line per step, timestamped by elapsed time, so a log shows where a slow run spent its time. ``quiet``:
nothing at all.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.console import Console, Group, RenderableType
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from deadweight.cli.output import is_tty
from deadweight.reports.formatting import human_seconds

StepCallback = Callable[[str, str], None]

__all__ = ["StepCallback", "service_progress"]


class _Board:
    """The live table's state: per service its current step and when it began."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.steps: dict[str, tuple[str, float]] = {}

    def update(self, service: str, what: str) -> None:
        self.steps[service] = (what, time.monotonic())

    def __rich__(self) -> RenderableType:
        table = Table.grid(padding=(0, 1))
        table.add_column(no_wrap=True)
        table.add_column(no_wrap=True, style="bold")
        table.add_column()
        table.add_column(justify="right", style="dim", no_wrap=True)
        now = time.monotonic()
        for service, (what, since) in self.steps.items():
            table.add_row(Spinner("dots"), Text(service), Text(what), human_seconds(now - since))
        header = Text(f"deadweight optimize: {human_seconds(now - self.started)}", style="dim")
        return Group(header, table)


@contextmanager
def service_progress(*, quiet: bool = False) -> Iterator[StepCallback | None]:
    """A ``progress(service, what)`` callback for the run, or None when ``quiet``."""
    if quiet:
        yield None
        return
    if not is_tty(sys.stderr):
        started = time.monotonic()

        def line(service: str, what: str) -> None:
            click.echo(f"[{time.monotonic() - started:7.1f}s] {service}: {what}", err=True)

        yield line
        return
    from rich.live import Live  # noqa: PLC0415 - only on a terminal

    board = _Board()
    console = Console(stderr=True, highlight=False, markup=False, emoji=False)
    with Live(board, console=console, transient=True, refresh_per_second=4):
        yield board.update

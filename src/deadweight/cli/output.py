"""Where command output goes: stdout or ``--output FILE``, colours, and the progress bar on stderr.

Reports are strings; this module only decides where they are written and whether a terminal gets
colours or a progress bar (never when output is piped or machine-readable, so JSON stays clean).
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from deadweight.outfile import write_output_file
from deadweight.redact import redact
from deadweight.safetext import escape_surrogates
from deadweight.units import human_bytes

ProgressCallback = Callable[[int, int, int], None]


def is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or replaced streams (tests, pipes torn down)
        return False


def use_color(stream: TextIO | None = None) -> bool:
    """Colours for a terminal, unless NO_COLOR (https://no-color.org) or TERM=dumb says otherwise."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return is_tty(stream)


def terminal_width(default: int = 120) -> int:
    """Width to lay tables out for: the terminal's when there is one, a fixed width for files and pipes."""
    if not is_tty(sys.stdout):
        return default
    return max(60, shutil.get_terminal_size((default, 24)).columns)


@contextmanager
def layer_progress(enabled: bool) -> Iterator[ProgressCallback | None]:
    """A ``progress(layers_done, layers_total, bytes_read)`` callback drawing a bar on stderr, or None.

    The bar is transient: it disappears when the work is done, leaving stderr as it was.
    """
    if not enabled:
        yield None
        return
    console = Console(stderr=True)
    columns = (
        TextColumn("Reading layers"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("", total=None)

        def update(done: int, total: int, bytes_read: int) -> None:
            progress.update(task, completed=done, total=total, description=f"{human_bytes(bytes_read)} read")

        yield update


def progress_enabled(fmt: str, output: str | None) -> bool:
    """A bar only for people: text format, stderr a terminal. JSON and files get none."""
    del output  # the bar goes to stderr, so writing the report to a file does not change the answer
    return fmt == "text" and is_tty(sys.stderr)


def write_output(text: str, path: str | None) -> None:
    """Write ``text`` to stdout, or to ``path`` without ever replacing a device, FIFO or link (see outfile)."""
    text = redact(text)  # no report prints a credential, whatever quoted it (see deadweight.redact)
    text = escape_surrogates(text)  # an undecodable byte some text quoted: shown as \xNN, never a crash
    if path is None or path == "-":
        click.echo(text, nl=False)
        return
    write_output_file(path, text.encode("utf-8"))

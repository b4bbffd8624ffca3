"""``deadweight inspect`` for people: layer table, largest paths, shadowed bytes, dive's efficiency.

Renders to a string (the CLI decides where it goes); computes nothing that is not in the analysis.
Optional sections (``python``, ``breakdown``) arrive as ``extras`` in the same shape as the JSON
report's sections, so the two formats cannot disagree.
"""

from __future__ import annotations

import re

from rich import box
from rich.console import Console
from rich.table import Table

from deadweight.model.analysis import ImageAnalysis
from deadweight.reports.formatting import render_console
from deadweight.safetext import printable
from deadweight.units import human_bytes, percent

#: How much of a build step the layer table shows.
CREATED_BY_WIDTH = 60
_NOP = re.compile(r"^/bin/(?:ba)?sh -c #\(nop\)\s*")
_SHELL = re.compile(r"^/bin/(?:ba)?sh -c\s+")
_SPACE = re.compile(r"\s+")


def shorten_created_by(text: str, width: int = CREATED_BY_WIDTH) -> str:
    """A build step as a reader would write it: ``RUN pip install ...`` rather than ``/bin/sh -c pip ...``."""
    text = printable(_SPACE.sub(" ", text).strip())
    if _NOP.match(text):
        text = _NOP.sub("", text)
    elif _SHELL.match(text):
        text = "RUN " + _SHELL.sub("", text)
    text = text.removesuffix(" # buildkit")
    if len(text) > width:
        text = text[: width - 1].rstrip() + "…"
    return text


def render(
    analysis: ImageAnalysis,
    *,
    top: int = 10,
    color: bool = False,
    width: int = 120,
    appendix: str = "",
) -> str:
    """The whole terminal report as a string (ANSI colours only when ``color``). ``appendix`` is text of
    further sections rendered elsewhere (the package view of ``reports/packages.py``)."""
    def draw(console: Console) -> None:
        _summary(console, analysis)
        _layers(console, analysis)
        if top:
            _largest(console, analysis, top)
            _shadowed(console, analysis, top)
        _efficiency(console, analysis, top)

    return render_console(draw, color=color, width=width) + appendix


def _table() -> Table:
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)


def _summary(console: Console, analysis: ImageAnalysis) -> None:
    console.print(f"Image      {printable(analysis.ref)}  ({printable(str(analysis.image_config.platform))})")
    if analysis.image_config.digest:
        console.print(f"Config     {analysis.image_config.digest}")
    compressed = analysis.compressed_bytes
    size = f"{human_bytes(analysis.size_bytes)} ({analysis.size_bytes:,} bytes) in {len(analysis.layers)} layers"
    if compressed is not None:
        size += f", {human_bytes(compressed)} compressed"
    console.print(f"Size       {size}")
    console.print(f"Visible    {human_bytes(analysis.visible_bytes)}")
    console.print(
        f"Shadowed   {human_bytes(analysis.shadowed_bytes)} "
        f"({percent(analysis.shadowed_bytes, analysis.size_bytes)}) stored in layers but hidden by later ones"
    )
    console.print(f"Efficiency {analysis.efficiency * 100:.2f}% (dive), {human_bytes(analysis.wasted_bytes)} wasted")
    console.print()


def _layers(console: Console, analysis: ImageAnalysis) -> None:
    console.print("Layers")
    table = _table()
    table.add_column("#", justify="right")
    table.add_column("Size", justify="right")
    table.add_column("Compressed", justify="right")
    table.add_column("Files +/~/-", justify="right")
    table.add_column("Shadowed", justify="right")
    table.add_column("Created by", overflow="ellipsis", no_wrap=True)
    for layer in sorted(analysis.layers, key=lambda layer: layer.index):
        table.add_row(
            str(layer.index),
            human_bytes(layer.size_bytes),
            human_bytes(layer.compressed_bytes, unknown="-"),
            f"+{layer.files_added} ~{layer.files_modified} -{layer.files_deleted}",
            human_bytes(layer.shadowed_bytes) if layer.shadowed_bytes else "-",
            shorten_created_by(layer.created_by) or "-",
        )
    console.print(table)
    console.print()


def _largest(console: Console, analysis: ImageAnalysis, top: int) -> None:
    files = analysis.largest_files(top)
    if files:
        console.print("Largest files")
        table = _table()
        table.add_column("Size", justify="right")
        table.add_column("Path", overflow="fold")
        for item in files:
            table.add_row(human_bytes(item.size_bytes), "/" + printable(item.path))
        console.print(table)
        console.print()
    dirs = analysis.largest_dirs(top)
    if dirs:
        console.print("Largest directories")
        table = _table()
        table.add_column("Size", justify="right")
        table.add_column("Share", justify="right")
        table.add_column("Path", overflow="fold")
        for item in dirs:
            table.add_row(
                human_bytes(item.size_bytes),
                percent(item.size_bytes, analysis.visible_bytes),
                "/" + printable(item.path),
            )
        console.print(table)
        console.print()


def _shadowed(console: Console, analysis: ImageAnalysis, top: int) -> None:
    if not analysis.shadowed_bytes:
        console.print("Shadowed bytes: none (no layer hides what a lower layer stored)")
        console.print()
        return
    paths = analysis.top_shadowed(top)
    console.print(f"Shadowed paths ({human_bytes(analysis.shadowed_bytes)} hidden by later layers)")
    table = _table()
    table.add_column("Size", justify="right")
    table.add_column("Stored in", justify="right")
    table.add_column("Hidden by", justify="right")
    table.add_column("Path", overflow="fold")
    for item in paths:
        table.add_row(
            human_bytes(item.size_bytes),
            ",".join(str(i) for i in item.layers),
            ",".join(str(i) for i in item.hidden_by),
            "/" + printable(item.path),
        )
    console.print(table)
    console.print()


def _efficiency(console: Console, analysis: ImageAnalysis, top: int) -> None:
    weighty = analysis.weighty_inefficient_paths
    console.print(
        f"Efficiency {analysis.efficiency * 100:.2f}% (dive's score): "
        f"{len(weighty)} path{'' if len(weighty) == 1 else 's'} with bytes in several layers, "
        f"{human_bytes(analysis.wasted_bytes)} wasted"
    )
    wasted = weighty[:top]
    if wasted:
        table = _table()
        table.add_column("Cumulative", justify="right")
        table.add_column("Layers", justify="right")
        table.add_column("Path", overflow="fold")
        for item in wasted:
            table.add_row(human_bytes(item.cumulative_bytes), str(item.occurrences), "/" + printable(item.path))
        console.print(table)
    console.print()



"""Presentation helpers shared by the human reports: Markdown escaping and tables, and the one recording rich
Console every terminal report draws on.

Sizes, shares and money are worded by ``deadweight.units``; the figures themselves come from the model
(``model/audit.py``, ``model/analysis.py``, ``model/inventory.py``), never from arithmetic here. Machine
formats (JSON, SARIF) carry raw integers and never go through these helpers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from io import StringIO

from rich.console import Console

from deadweight.model.audit import MemoryObservation
from deadweight.units import memory_bytes, percent

# ------------------------------------------------------------------------------------------- Markdown

# Characters that start inline Markdown constructs (CommonMark + GFM tables, strikethrough, math). Escaping
# only these keeps the source readable ("torch-2.5.1" stays as it is) while user text cannot open a link,
# emphasis, HTML tag, math span or a new table cell.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~$&#!])")


def md_escape(text: str) -> str:
    """Escape user-provided text for inline Markdown (safe in table cells too)."""
    return _MD_SPECIAL.sub(r"\\\1", _one_line(text))


def md_code(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it contains; pipes escaped for table cells
    (GFM splits cells on ``|`` even inside code spans)."""
    text = _one_line(text)
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def _one_line(text: str) -> str:
    """Newlines would end a table row or a list item: fold them into spaces."""
    return " ".join(text.split()) if ("\n" in text or "\r" in text) else text


def md_table(headers: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> list[str]:
    """Lines of a GFM table. Cells must already be escaped (``md_escape``/``md_code``); ``align`` has one
    letter per column: ``l`` (default), ``r`` or ``c``."""
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    spec = align.ljust(len(headers), "l")
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join(marks[spec[i]] for i in range(len(headers))) + "|",
    ]
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"table row has {len(row)} cells, expected {len(headers)}")
        lines.append("| " + " | ".join(row) + " |")
    return lines


def render_console(draw: Callable[[Console], None], *, color: bool = False, width: int = 120) -> str:
    """Run ``draw`` on a recording rich Console and return its text: the one way every terminal report is
    made, so all of them treat colour, width and user text alike (no markup, emoji or highlighting read
    into package names or paths)."""
    console = Console(
        file=StringIO(),
        width=width,
        color_system="standard" if color else None,
        force_terminal=color,
        no_color=not color,
        highlight=False,
        emoji=False,
        markup=False,
        soft_wrap=False,
    )
    with console.capture() as capture:
        draw(console)
    # rich pads table rows to the full width; trailing blanks only make diffs and copy-paste noisy
    return "\n".join(line.rstrip() for line in capture.get().splitlines()) + "\n"


# ------------------------------------------------------------------------------------------- memory


def memory_summary(memory: MemoryObservation) -> str:
    """``--run``'s observation in one phrase, finding or not: "peak 372 MiB of 512 MiB, 73%", "peak 372 MiB, no
    limit", "no peak observed (why)"."""
    if memory.peak_bytes is None:
        return f"no peak observed ({memory.evidence})" if memory.evidence else "no peak observed"
    peak = f"peak {memory_bytes(memory.peak_bytes)}"
    if memory.limit_bytes is None:
        return f"{peak}, no memory limit"
    return f"{peak} of {memory_bytes(memory.limit_bytes)}, {percent(memory.peak_bytes, memory.limit_bytes)}"


# ------------------------------------------------------------------------------------------- durations


def human_seconds(value: float | None) -> str:
    """Wall time as people read it: ``4.2 s``, ``2 min 41 s``; ``n/a`` when it was not measured."""
    if value is None:
        return "n/a"
    if value < 59.95:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    return f"{minutes} min {rest:02d} s"

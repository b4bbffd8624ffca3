"""Line-level text edits that keep every byte outside the changed lines: line endings, a missing final
newline, trailing whitespace.

Lines are split with ``str.splitlines(keepends=True)``, the split every project parser numbers its lines by,
so a parser's ``line`` is an index here.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["insert_lines", "line_ending", "lines", "replace_lines", "with_ending"]


def lines(text: str) -> list[str]:
    """The physical lines of ``text``, each with its own line ending."""
    return text.splitlines(keepends=True)


def line_ending(text: str) -> str:
    """The file's line ending, for lines we add: CRLF when most of its lines end so, else LF."""
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    return "\r\n" if crlf > lf else "\n"


def _ending_of(line: str) -> str:
    stripped = line.rstrip("\r\n")
    return line[len(stripped):]


def with_ending(line: str, ending: str) -> str:
    """``line`` (without an ending of its own) terminated by ``ending``."""
    return line.rstrip("\r\n") + ending


def replace_lines(text: str, start: int, end: int, new: Sequence[str]) -> str:
    """Replace physical lines ``start``..``end`` (1-based, inclusive) with ``new`` (lines without endings).

    The new lines take the ending of the last replaced line (so a final line without a newline stays
    without one); an empty ``new`` deletes the lines.
    """
    physical = lines(text)
    if not 1 <= start <= end <= len(physical):
        raise ValueError(f"lines {start}..{end} outside 1..{len(physical)}")
    last_ending = _ending_of(physical[end - 1])
    ending = line_ending(text)
    block = [with_ending(line, ending) for line in new]
    if block:
        block[-1] = block[-1].rstrip("\r\n") + last_ending
    return "".join(physical[: start - 1] + block + physical[end:])


def insert_lines(text: str, before: int, new: Sequence[str]) -> str:
    """Insert ``new`` (lines without endings) before physical line ``before`` (1-based; ``len + 1`` appends).

    Appending to a file whose last line has no newline first gives that line one.
    """
    physical = lines(text)
    if not 1 <= before <= len(physical) + 1:
        raise ValueError(f"line {before} outside 1..{len(physical) + 1}")
    ending = line_ending(text)
    if before == len(physical) + 1 and physical and not _ending_of(physical[-1]):
        physical[-1] += ending
    block = [with_ending(line, ending) for line in new]
    return "".join(physical[: before - 1] + block + physical[before - 1:])

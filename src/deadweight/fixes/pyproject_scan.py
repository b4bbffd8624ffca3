"""Where every key, value and array element of a TOML file is: offsets into the text, for edits that keep
every other byte; and the line insertions made at those places (a table's entries, a new ``[[table]]``).

tomllib and tomlkit do not say where a value is written; an edit that must change one line and nothing else
needs the span of the element, its comma and the lines it sits on. The scanner reads TOML that tomllib has
already accepted (it does not validate), and raises ``ScanError`` on anything it does not understand, so an
edit is refused rather than guessed.
"""

from __future__ import annotations

import bisect
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field

from deadweight.fixes.text import insert_lines, lines

__all__ = [
    "Array",
    "Header",
    "InlineTable",
    "KeyValue",
    "Scalar",
    "ScanError",
    "Scanned",
    "String",
    "Value",
    "add_aot_entry",
    "add_table_entries",
    "scan",
    "toml_string",
]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_WS = " \t"


class ScanError(Exception):
    """The text is not TOML the scanner can place (it has already been parsed, so this is a scanner gap)."""


@dataclass
class String:
    start: int  # offset of the opening quote
    end: int  # offset just past the closing quote
    value: str
    quote: str  # '"', "'", '"""' or "'''"


@dataclass
class Scalar:
    start: int
    end: int


@dataclass
class Array:
    start: int  # offset of "["
    end: int  # offset just past "]"
    items: list[Value] = field(default_factory=list)
    commas: list[int | None] = field(default_factory=list)  # offset of the comma after each item


@dataclass
class KeyValue:
    path: tuple[str, ...]  # the absolute key path: table path + dotted key
    key_start: int
    key_end: int
    value: Value
    dotted: int  # how many parts the key itself has (``a.b = 1``: 2)


@dataclass
class InlineTable:
    start: int
    end: int
    entries: list[KeyValue] = field(default_factory=list)  # paths relative to the inline table


Value = String | Scalar | Array | InlineTable


@dataclass
class Header:
    path: tuple[str, ...]
    start: int  # offset of "["
    end: int  # offset just past the closing "]" / "]]"
    array: bool  # [[...]]


@dataclass
class Scanned:
    text: str
    headers: list[Header]
    pairs: list[KeyValue]  # top-level key/values (not those inside inline tables), in order
    line_starts: list[int]

    def line_of(self, offset: int) -> int:
        """1-based physical line of ``offset`` (lines as ``str.splitlines`` splits them)."""
        return bisect.bisect_right(self.line_starts, offset)

    def line_span(self, line: int) -> tuple[int, int]:
        """Offsets of physical line ``line``: its start and the start of its line ending."""
        start = self.line_starts[line - 1]
        end = self.line_starts[line] if line < len(self.line_starts) else len(self.text)
        body = self.text[start:end].rstrip("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
        return start, start + len(body)

    def table_at(self, line: int) -> Header | None:
        """The header of the table that physical line ``line`` is in (None: before the first header)."""
        found = None
        for header in self.headers:
            if self.line_of(header.start) >= line:
                break
            found = header
        return found

    def table_end_line(self, header: Header) -> int:
        """The last line holding a key/value of the table ``header`` opens (the header's own line when it has
        none): where an entry added to the table goes after. Comments after it stay after the new entry."""
        following = [h.start for h in self.headers if h.start > header.start]
        stop = following[0] if following else len(self.text)
        ends = [p.value.end for p in self.pairs if header.end <= p.key_start < stop]
        return self.line_of(max(ends) - 1) if ends else self.line_of(header.start)


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    if len(starts) > 1 and starts[-1] == len(text):
        starts.pop()
    return starts


class _Scanner:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def fail(self, what: str) -> ScanError:
        return ScanError(f"{what} at offset {self.i}")

    def peek(self, n: int = 1) -> str:
        return self.s[self.i : self.i + n]

    def skip_ws(self) -> None:
        while self.i < len(self.s) and self.s[self.i] in _WS:
            self.i += 1

    def skip_comment(self) -> None:
        if self.peek() == "#":
            while self.i < len(self.s) and self.s[self.i] not in "\r\n":
                self.i += 1

    def skip_blank(self) -> None:
        """Whitespace, newlines and comments (inside arrays)."""
        while self.i < len(self.s):
            c = self.s[self.i]
            if c in " \t\r\n":
                self.i += 1
            elif c == "#":
                self.skip_comment()
            else:
                return

    def key(self) -> tuple[list[str], int, int]:
        parts: list[str] = []
        start = self.i
        while True:
            self.skip_ws()
            c = self.peek()
            if c in ('"', "'"):
                tok = self.string()
                parts.append(tok.value)
            else:
                m = _BARE_KEY.match(self.s, self.i)
                if not m:
                    raise self.fail("expected a key")
                parts.append(m.group())
                self.i = m.end()
            end = self.i
            self.skip_ws()
            if self.peek() == ".":
                self.i += 1
                continue
            return parts, start, end

    def string(self) -> String:
        start = self.i
        s = self.s
        for quote in ('"""', "'''"):
            if s.startswith(quote, self.i):
                j = self.i + 3
                while True:
                    k = s.find(quote, j)
                    if k < 0:
                        raise self.fail("unterminated string")
                    if quote == '"""':
                        backslashes = 0
                        while s[k - 1 - backslashes] == "\\":
                            backslashes += 1
                        if backslashes % 2:
                            j = k + 1
                            continue
                    end = k + 3
                    while end < len(s) and s[end] == quote[0] and end - k < 5:
                        end += 1
                    self.i = end
                    return String(start, end, _decode(s[start:end]), quote)
        quote = s[self.i]
        j = self.i + 1
        while j < len(s):
            c = s[j]
            if quote == '"' and c == "\\":
                j += 2
                continue
            if c == quote:
                self.i = j + 1
                return String(start, j + 1, _decode(s[start : j + 1]), quote)
            if c in "\r\n":
                break
            j += 1
        raise self.fail("unterminated string")

    def value(self) -> Value:
        c = self.peek()
        if c in ('"', "'"):
            return self.string()
        if c == "[":
            return self.array()
        if c == "{":
            return self.inline_table()
        start = self.i
        while self.i < len(self.s) and self.s[self.i] not in ",]}#\r\n":
            self.i += 1
        end = self.i
        while end > start and self.s[end - 1] in _WS:
            end -= 1
        if end == start:
            raise self.fail("expected a value")
        self.i = end
        return Scalar(start, end)

    def array(self) -> Array:
        arr = Array(self.i, self.i)
        self.i += 1
        while True:
            self.skip_blank()
            if self.peek() == "]":
                self.i += 1
                arr.end = self.i
                return arr
            arr.items.append(self.value())
            arr.commas.append(None)
            self.skip_blank()
            if self.peek() == ",":
                arr.commas[-1] = self.i
                self.i += 1
            elif self.peek() != "]":
                raise self.fail("expected , or ]")

    def inline_table(self) -> InlineTable:
        table = InlineTable(self.i, self.i)
        self.i += 1
        while True:
            self.skip_blank()
            if self.peek() == "}":
                self.i += 1
                table.end = self.i
                return table
            parts, kstart, kend = self.key()
            if self.peek() != "=":
                raise self.fail("expected =")
            self.i += 1
            self.skip_ws()
            table.entries.append(KeyValue(tuple(parts), kstart, kend, self.value(), len(parts)))
            self.skip_blank()
            if self.peek() == ",":
                self.i += 1
            elif self.peek() != "}":
                raise self.fail("expected , or }")

    def document(self) -> tuple[list[Header], list[KeyValue]]:
        headers: list[Header] = []
        pairs: list[KeyValue] = []
        table: tuple[str, ...] = ()
        while True:
            self.skip_blank()
            if self.i >= len(self.s):
                return headers, pairs
            if self.peek() == "[":
                start = self.i
                array = self.peek(2) == "[["
                self.i += 2 if array else 1
                parts, _, _ = self.key()
                close = "]]" if array else "]"
                if not self.s.startswith(close, self.i):
                    raise self.fail("expected ]")
                self.i += len(close)
                table = tuple(parts)
                headers.append(Header(table, start, self.i, array))
            else:
                parts, kstart, kend = self.key()
                if self.peek() != "=":
                    raise self.fail("expected =")
                self.i += 1
                self.skip_ws()
                pairs.append(KeyValue((*table, *parts), kstart, kend, self.value(), len(parts)))
            self.skip_ws()
            self.skip_comment()
            if self.i < len(self.s) and self.s[self.i] not in "\r\n":
                raise self.fail("expected the end of the line")


def _decode(token: str) -> str:
    value = tomllib.loads("x = " + token)["x"]
    assert isinstance(value, str)
    return value


def scan(text: str) -> Scanned:
    """Every table header and key/value of ``text`` (TOML tomllib accepts) with offsets."""
    try:
        headers, pairs = _Scanner(text).document()
    except (IndexError, tomllib.TOMLDecodeError) as exc:
        raise ScanError(str(exc)) from None
    return Scanned(text, headers, pairs, _line_starts(text))


# --- adding tables and entries ---------------------------------------------------------------------------------


def toml_string(value: str) -> str:
    """``value`` as a TOML basic string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dotted(table: tuple[str, ...]) -> str:
    return ".".join(part if _BARE_KEY.fullmatch(part) else toml_string(part) for part in table)


def _append_block(text: str, block: Sequence[str]) -> str:
    physical = lines(text)
    gap = [""] if physical and physical[-1].strip() else []
    return insert_lines(text, len(physical) + 1, [*gap, *block])


def add_table_entries(text: str, table: tuple[str, ...], entries: Sequence[str]) -> str:
    """``entries`` (``key = value`` lines) after the last key/value of ``[table]``; a new ``[table]`` at the
    end of the file when there is none. ``ScanError`` when the text cannot be placed."""
    scanned = scan(text)
    found = [h for h in scanned.headers if h.path == table and not h.array]
    if found:
        return insert_lines(text, scanned.table_end_line(found[0]) + 1, entries)
    return _append_block(text, [f"[{_dotted(table)}]", *entries])


def add_aot_entry(text: str, table: tuple[str, ...], entry: Sequence[str]) -> str:
    """A ``[[table]]`` entry after the last one there is, else at the end of the file."""
    scanned = scan(text)
    found = [h for h in scanned.headers if h.path == table and h.array]
    block = [f"[[{_dotted(table)}]]", *entry]
    if found:
        return insert_lines(text, scanned.table_end_line(found[-1]) + 1, ["", *block])
    return _append_block(text, block)

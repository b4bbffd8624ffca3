"""Where a Dockerfile instruction's words are in the file: parsed words mapped back to byte offsets.

The Dockerfile parser joins an instruction's physical lines (escape-character continuations, comment and
empty lines inside them dropped) and the install extractor splits that text into shell words. An editor needs
the other direction: the offset in the instruction's ``original`` text where a word starts and ends, so it can
insert or delete exactly there and leave every other byte (continuations and their indentation, comments
between them, CRLF, heredoc bodies) as it was. This module rebuilds the joined text the way the parser does,
keeping each character's offset, and splits shell text into words and operators the way the extractor does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from deadweight.model.project import Heredoc

__all__ = [
    "Joined",
    "Region",
    "Token",
    "commands",
    "exec_elements",
    "heredoc_regions",
    "join_instruction",
    "shell_tokens",
]

_OPCHARS = ";&|()"
_OPS = ("&&", "||", ";;", "|&", ";", "&", "|", "(", ")")


class WordsError(ValueError):
    """The text cannot be mapped (an unterminated quote, a heredoc that does not match the parse)."""


@dataclass(frozen=True, slots=True)
class Token:
    """A shell word (its value unquoted) or an operator (``&&``, ``;``, a newline), at ``start:end``."""

    value: str
    start: int
    end: int
    op: bool = False


@dataclass(frozen=True)
class Joined:
    """The instruction's first logical line as the parser joins it, and each character's offset in ``original``.

    ``offsets[i]`` is where ``text[i]`` came from; a space the join put between two physical lines maps to the
    end of the line before it. ``end`` is the offset in ``original`` just past the logical line's last physical
    line (its line ending included): where heredoc bodies start.
    """

    text: str
    offsets: tuple[int, ...]
    end: int
    lines: tuple[tuple[int, int, bool], ...]  # (start, end without ending, continued) of each content line

    def at(self, index: int) -> int:
        """Offset in ``original`` of joined position ``index`` (``len(text)``: just past the last character)."""
        if index >= len(self.text):
            return self.offsets[-1] + 1 if self.offsets else 0
        return self.offsets[index]

    def span(self, token: Token) -> tuple[int, int]:
        return self.offsets[token.start], self.offsets[token.end - 1] + 1


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]


def join_instruction(original: str, escape: str) -> Joined:
    """Join the physical lines of the instruction's logical line exactly as ``project.dockerfile`` does."""
    physical = original.splitlines(keepends=True)
    parts: list[tuple[str, int]] = []
    content: list[tuple[int, int, bool]] = []
    offset = 0
    end = 0
    first = True
    for line in physical:
        line_start = offset
        offset += len(line)
        if not first and (not line.strip() or line.lstrip().startswith("#")):
            continue
        first = False
        body = line.rstrip("\r\n")
        trimmed = body.rstrip(" \t")
        continued = trimmed.endswith(escape)
        if continued:
            body = trimmed[:-1]
        lead = len(body) - len(body.lstrip())
        parts.append((body.strip(), line_start + lead))
        content.append((line_start, line_start + len(line.rstrip("\r\n")), continued))
        end = offset
        if not continued:
            break
    chars: list[str] = []
    offsets: list[int] = []
    nonempty = [p for p in parts if p[0]] if len(parts) > 1 else parts[:1]
    for i, (text, start) in enumerate(nonempty):
        if i:
            chars.append(" ")
            offsets.append(offsets[-1] + 1)
        chars.extend(text)
        offsets.extend(range(start, start + len(text)))
    return Joined("".join(chars), tuple(offsets), end, tuple(content))


def shell_tokens(text: str, base: int = 0) -> list[Token]:
    """Shell words and operators of ``text`` (offsets + ``base``), split as ``installs.split_commands`` does.

    Quotes are removed from values, a backslash escapes the next character (backslash-newline is a word
    break, as the extractor reads it), ``#`` at the start of a word comments to the end of the line, and a
    newline is an operator (it ends a command in a script).
    """
    out: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            out.append(Token("\n", base + i, base + i + 1, True))
            i += 1
            continue
        if c in " \t\r":
            i += 1
            continue
        if c == "\\" and text.startswith(("\n", "\r\n"), i + 1):
            i += 2 if text[i + 1] == "\n" else 3
            continue
        if c == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c in _OPCHARS:
            op = next(o for o in _OPS if text.startswith(o, i))
            out.append(Token(op, base + i, base + i + len(op), True))
            i += len(op)
            continue
        start = i
        value: list[str] = []
        while i < n:
            c = text[i]
            if c in " \t\r\n" or c in _OPCHARS:
                break
            if c == "\\":
                if text.startswith(("\n", "\r\n"), i + 1):
                    break
                if i + 1 < n:
                    value.append(text[i + 1])
                i += 2
            elif c == "'":
                close = text.find("'", i + 1)
                if close < 0:
                    raise WordsError("an unterminated single quote")
                value.append(text[i + 1:close])
                i = close + 1
            elif c == '"':
                i += 1
                while i < n and text[i] != '"':
                    if text[i] == "\\" and i + 1 < n and text[i + 1] in '"\\$`\n':
                        if text[i + 1] != "\n":
                            value.append(text[i + 1])
                        i += 2
                    else:
                        value.append(text[i])
                        i += 1
                if i >= n:
                    raise WordsError("an unterminated double quote")
                i += 1
            else:
                value.append(c)
                i += 1
        out.append(Token("".join(value), base + start, base + min(i, n)))
    return out


def commands(tokens: list[Token]) -> list[tuple[int, int]]:
    """``(first, last)`` token indexes (inclusive) of each simple command, split at operators."""
    out: list[tuple[int, int]] = []
    first: int | None = None
    for i, tok in enumerate(tokens):
        if tok.op:
            if first is not None:
                out.append((first, i - 1))
            first = None
        elif first is None:
            first = i
    if first is not None:
        out.append((first, len(tokens) - 1))
    return out


@dataclass(frozen=True, slots=True)
class Region:
    """A heredoc body in ``original``: ``start`` (its first line) to ``end`` (the delimiter line's start)."""

    heredoc: Heredoc
    start: int
    end: int


def heredoc_regions(original: str, joined_end: int, heredocs: tuple[Heredoc, ...]) -> list[Region]:
    """Where each heredoc body lies, checked against the bodies the parser read."""
    physical = original[joined_end:].splitlines(keepends=True)
    offset = joined_end
    idx = 0
    out: list[Region] = []
    for doc in heredocs:
        start = offset
        body: list[str] = []
        while True:
            if idx >= len(physical):
                raise WordsError(f"the heredoc {doc.name} has no end")
            line = physical[idx]
            candidate = line.rstrip("\r\n")
            if doc.strip_tabs:
                candidate = candidate.lstrip("\t")
            if candidate == doc.name:
                break
            body.append(candidate + "\n")
            offset += len(line)
            idx += 1
        if "".join(body) != doc.body:
            raise WordsError(f"the heredoc {doc.name} does not read as parsed")
        out.append(Region(doc, start, offset))
        offset += len(physical[idx])
        idx += 1
    return out


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def exec_elements(original: str, joined: Joined, argv: tuple[str, ...]) -> list[tuple[int, int]]:
    """``(start, end)`` in ``original`` of each JSON string of an exec-form array, checked against ``argv``."""
    spans: list[tuple[int, int]] = []
    text = joined.text
    for m in _JSON_STRING.finditer(text, text.find("[")):
        spans.append((joined.at(m.start()), joined.at(m.end() - 1) + 1))
        try:
            value = json.loads(m.group(0))
        except ValueError:
            raise WordsError("an exec-form element that is not JSON") from None
        if len(spans) > len(argv) or value != argv[len(spans) - 1]:
            raise WordsError("the exec form does not read as parsed")
    if len(spans) != len(argv):
        raise WordsError("the exec form does not read as parsed")
    for start, end in spans:
        if "\n" in original[start:end]:
            raise WordsError("an exec-form element spans lines")
    return spans

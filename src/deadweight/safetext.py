"""Text from an image, made safe to print: one line, no terminal escapes, always encodable.

Names in a layer are bytes the image's author chose: a file name can hold a newline (one error would
become two lines), an ANSI escape (it would recolour or rewrite the user's terminal), a bidi override
(it would show a name other than the real one) or bytes that are not UTF-8 (the tar reader keeps them as
lone surrogates, and writing those to a strict UTF-8 stream raises ``UnicodeEncodeError``). Every place
that prints such text, in a report or in an error message, goes through :func:`printable`.

JSON reports keep names exact instead: :func:`json_surrogates` writes a lone surrogate as a ``\\udcXX``
escape, which every JSON reader turns back into the same string.
"""

from __future__ import annotations

import json
import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, kept by the "surrogateescape" error handler
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every character that is not printable escaped, so it prints as one safe line.

    Control characters (newlines, tabs, ESC), line and paragraph separators, format characters
    (bidi overrides, zero-width joiners) and lone surrogates become ``\\xNN``, ``\\uNNNN`` or
    ``\\UNNNNNNNN``; an undecodable byte kept as a surrogate shows as the byte (``\\xff``). Printable text,
    spaces and non-ASCII letters included, is returned unchanged. Backslashes are not doubled: the
    result is for people to read, not to be parsed back.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape(ch) for ch in text)


def json_surrogates(document: str) -> str:
    """A JSON document (from ``json.dumps(..., ensure_ascii=False)``) with lone surrogates escaped.

    Lone surrogates can only sit inside JSON strings, and ``\\udcff`` there decodes to the same
    character, so the document means exactly what it meant, and it can now be encoded as UTF-8.
    """
    if not _SURROGATE.search(document):
        return document
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", document)


def json_report(doc: object, *, indent: int | None = 2) -> str:
    """A report as a JSON document, one place for every JSON format: UTF-8 kept readable
    (``ensure_ascii=False``), lone surrogates escaped (a name or an error quoting bytes that are not UTF-8
    would otherwise fail to print), and a final newline."""
    return json_surrogates(json.dumps(doc, indent=indent, ensure_ascii=False)) + "\n"


def escape_surrogates(text: str) -> str:
    """``text`` with every lone surrogate written as ``printable`` writes it (``\\xff`` for an undecodable byte):
    the last guard of every report before it is encoded, for text that quoted a file's bytes unescaped."""
    if not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(lambda match: _escape(match.group()), text)

"""Reading a project file: its text, or one ``ParseError`` line naming the file and what it is.

Why: every parser (Dockerfile, .dockerignore, compose, pyproject, lock files) starts the same way, and a
file that cannot be read must say which file and why in one line, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

from deadweight.errors import ParseError
from deadweight.infile import MAX_PROJECT_FILE_BYTES, unreadable_reason

__all__ = ["MAX_PROJECT_FILE_BYTES", "read_text", "unreadable_reason"]


def read_text(path: str | Path, what: str, *, exact: bool = False, os_words: bool = False) -> str:
    """The UTF-8 text of ``path``; raises ``ParseError("PATH: cannot read WHAT: REASON")`` when it cannot be read.

    ``exact`` keeps the file as written, for files the fixers edit byte for byte: undecodable bytes survive
    as surrogates and line endings are not translated. ``os_words`` gives the reason as the OS says it
    (``Permission denied``) rather than Python's ``[Errno 13] Permission denied: 'PATH'``.
    """
    p = Path(path)
    refused = unreadable_reason(p)
    if refused is not None:
        raise ParseError(f"{p}: cannot read {what}: {refused}")
    errors, newline = ("surrogateescape", "") if exact else ("strict", None)  # newline="": \r\n as written
    try:
        with p.open(encoding="utf-8", errors=errors, newline=newline) as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = (exc.strerror or exc) if os_words and isinstance(exc, OSError) else exc
        raise ParseError(f"{p}: cannot read {what}: {reason}") from None

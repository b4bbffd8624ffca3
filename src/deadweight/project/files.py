"""Reading a project file: its text, or one ``ParseError`` line naming the file and what it is.

Why: every parser (Dockerfile, .dockerignore, compose, pyproject, lock files) starts the same way, and a
file that cannot be read must say which file and why in one line, never a traceback.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from deadweight.errors import ParseError

#: The largest project file read (Dockerfile, requirements, compose, pyproject, lock files): 16 MiB.
MAX_PROJECT_FILE_BYTES = 16 << 20

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def unreadable_reason(path: Path) -> str | None:
    """Why ``path`` must not be opened as a project file, or None: a FIFO would block the read forever, a device
    (a link to ``/dev/zero``) or an oversized file would be read without end. Directories and missing files are
    left to ``open``, whose own error names them."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    for test, kind in _KINDS:
        if test(info.st_mode):
            return f"not a regular file ({kind})"
    if stat.S_ISREG(info.st_mode) and info.st_size > MAX_PROJECT_FILE_BYTES:
        return f"too large ({info.st_size} bytes; the limit is {MAX_PROJECT_FILE_BYTES})"
    return None


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

"""Opening a file deadweight did not write, without blocking or reading without end.

Why a module of its own, below every layer: the project reader, the usage scan, the index detection, the
settings loader and the guard's baseline all read files a user (or an attacker) points them at. A FIFO
blocks an ``open`` for reading forever, ``/dev/zero`` never ends, a 5 GB file fills the memory. One test
says which paths must not be opened, and one reader applies it where a caller wants ``Path.read_text``'s
behaviour (an ``OSError`` for what cannot be read) with those refusals added.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

__all__ = ["MAX_PROJECT_FILE_BYTES", "read_bounded_text", "unreadable_reason"]

#: The largest project file read (Dockerfile, requirements, compose, pyproject, lock files): 16 MiB.
MAX_PROJECT_FILE_BYTES = 16 << 20

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def unreadable_reason(path: Path | str, limit: int = MAX_PROJECT_FILE_BYTES) -> str | None:
    """Why ``path`` must not be opened as a project file, or None: a FIFO would block the read forever, a device
    (a link to ``/dev/zero``) or an oversized file would be read without end. Directories and missing files are
    left to ``open``, whose own error names them."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):  # missing, a loop, a name too long or with a NUL: open() says which
        return None
    for test, kind in _KINDS:
        if test(info.st_mode):
            return f"not a regular file ({kind})"
    if stat.S_ISREG(info.st_mode) and info.st_size > limit:
        return f"too large ({info.st_size} bytes; the limit is {limit})"
    return None


def read_bounded_text(path: Path | str, *, errors: str = "strict", limit: int = MAX_PROJECT_FILE_BYTES) -> str:
    """``Path(path).read_text(encoding="utf-8", errors=errors)``, except that a FIFO, a device or a file over
    ``limit`` raises ``OSError`` (with the reason as its text) instead of blocking or reading without end."""
    refused = unreadable_reason(path, limit)
    if refused is not None:
        raise OSError(errno.EINVAL, refused, str(path))
    return Path(path).read_text(encoding="utf-8", errors=errors)

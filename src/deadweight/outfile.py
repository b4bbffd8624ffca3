"""Writing a report to a path the user named, without ever destroying what the path is.

The atomic temp-file-and-rename that protects a regular file from a half-written report is wrong for anything
else: renamed over ``/dev/null`` it replaces the device node with a regular file, over a symlink it replaces the
link, over a FIFO it replaces the pipe a reader waits on. So a rename happens only onto a regular file (keeping its
mode and, where we may, its owner) or onto a path that does not exist yet. A symlink stays a link: what it points
to is written (atomically when that is a regular file or missing). Everything else (a character or block device,
a FIFO, a socket) is opened and written as a shell's ``>`` would.

Errors are one line and keep their kind: a path that cannot be opened or created is a usage error (exit 2, as
``docs/exit-codes.md`` says for ``--output``), a write that fails part-way (a full disk, an I/O error) is an
output error (exit 3), and in both cases a file that existed before is left as it was.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

from deadweight.errors import OutputError, UsageError

# Failures that happen while bytes go out rather than when the path is opened: the target is fine, the
# device is not. Everything else (ENOENT, EACCES, EISDIR, ENOTDIR, EROFS, ENAMETOOLONG ...) is about the path.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG, errno.EPIPE})


def write_output_file(path: str, data: bytes, *, option: str = "--output") -> None:
    """Write ``data`` to ``path`` as described in the module docstring. Raises UsageError or OutputError."""
    target = Path(path)
    try:
        info: os.stat_result | None = os.lstat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise _error(option, path, exc) from None
    try:
        if info is not None and stat.S_ISLNK(info.st_mode):
            followed = _stat_or_none(target)  # ELOOP raises here; /proc/self/fd/N magic links resolve
            if followed is None or stat.S_ISREG(followed.st_mode):
                target, info = Path(os.path.realpath(target)), followed
            else:
                info = followed
        if info is None or stat.S_ISREG(info.st_mode):
            replace_atomically(target, data, mode=stat.S_IMODE(info.st_mode) if info else None,
                               owner=(info.st_uid, info.st_gid) if info else None)
        else:
            _write_through(target, data)
    except OSError as exc:
        raise _error(option, path, exc) from None


def _stat_or_none(target: Path) -> os.stat_result | None:
    try:
        return os.stat(target)
    except FileNotFoundError:
        return None


def _error(option: str, path: str, exc: OSError) -> UsageError | OutputError:
    reason = exc.strerror or str(exc)
    if exc.errno in _WRITE_ERRNOS:
        return OutputError(f"{option} {path}: write failed ({reason})")
    return UsageError(f"{option} {path}: cannot write ({reason})")


def replace_atomically(target: Path, data: bytes, *, mode: int | None = None,
                       owner: tuple[int, int] | None = None, suffix: str = ".tmp") -> None:
    """Temp file beside the target, fsync, rename: a reader sees the old file or the new one, never half.

    The new file gets ``mode`` and ``owner`` (the old file's, kept where we may give it away); without a
    mode, the one ``open(..., "w")`` would give a new path. The one atomic replace of deadweight: reports
    (``--output``) and the files ``fix --write`` edits.
    """
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            _set_ownership(handle.fileno(), mode, owner)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _set_ownership(fd: int, mode: int | None, owner: tuple[int, int] | None) -> None:
    if mode is None:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
    else:
        os.fchmod(fd, mode)
    if owner is not None and owner != (os.geteuid(), os.getegid()):
        with contextlib.suppress(PermissionError):  # only root may give a file away; keep what we can
            os.fchown(fd, *owner)


def _write_through(target: Path, data: bytes) -> None:
    """Devices, FIFOs and sockets: an ordinary open for writing, never a rename over them."""
    fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
    finally:
        os.close(fd)

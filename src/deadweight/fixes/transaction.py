"""All or nothing: write every changed file of a run, or leave every file as it was.

Each file is written to a temporary file beside it (same directory, so the rename is atomic; same mode, and
the same owner when we may set it: root fixing a mounted project must not leave root-owned files), flushed
and fsynced, then renamed over the original. Before anything is written, every file is checked to
still hold the bytes that were read (an editor or a ``git checkout`` may have changed it since): otherwise
nothing is written. When a write or rename fails part way, the files already replaced get their original
bytes back and files created are removed, the way pip-audit's fixer restores requirements files.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from deadweight.errors import FixError
from deadweight.fixes.workspace import Workspace
from deadweight.outfile import replace_atomically

__all__ = ["commit"]


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FixError(f"cannot re-read {path}: {exc.strerror or exc}") from None


def _atomic_write(path: Path, data: bytes, mode: int | None, owner: tuple[int, int] | None = None) -> None:
    replace_atomically(path, data, mode=mode, owner=owner, suffix=".deadweight")
    _fsync_dir(path.parent)  # the rename itself survives a crash: every file of the run, or none


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def commit(workspace: Workspace) -> list[str]:
    """Write every changed file; returns their display paths. Raises ``FixError`` (nothing written, or
    everything restored) when a file changed on disk since it was read or a write fails."""
    keys = workspace.changed_keys()
    for key in keys:
        if _digest(key) != workspace.original_digest(key):
            raise FixError(f"{workspace.display(key)} changed on disk since deadweight read it: nothing written")
    done: list[Path] = []
    try:
        for key in keys:
            text = workspace.current(key)
            assert text is not None
            # checked again just before this file is replaced: an editor saving it while we wrote the others
            if _digest(key) != workspace.original_digest(key):
                raise _Changed
            _atomic_write(key, text.encode("utf-8"), workspace.original_mode(key), workspace.original_owner(key))
            done.append(key)
    except (_Changed, FixError, OSError) as exc:
        failed = workspace.display(keys[len(done)])
        if isinstance(exc, _Changed):
            what = f"{failed} changed on disk since deadweight read it"
        elif isinstance(exc, FixError):
            what = str(exc)
        else:
            what = f"cannot write {failed}: {exc.strerror or exc}"
        problems = _roll_back(workspace, done)
        extra = f"; could not restore {', '.join(problems)}" if problems else "; every file left as it was"
        raise FixError(what + extra) from None
    return [workspace.display(key) for key in keys]


class _Changed(Exception):
    """A file's bytes are no longer those read: stop, and put back what was written."""


def _roll_back(workspace: Workspace, done: list[Path]) -> list[str]:
    problems = []
    for key in reversed(done):
        original = workspace.original_text(key)
        try:
            if original is None:
                key.unlink()
            else:
                _atomic_write(key, original.encode("utf-8"), workspace.original_mode(key),
                              workspace.original_owner(key))
        except OSError:
            problems.append(workspace.display(key))
    return problems

"""A scratch copy of the project to build from, with a chosen set of edits applied: the user's files are never
touched by a verification (only ``--write``, through ``fixes/transaction``, writes them, and only the kept edits).

The whole project root is copied once (``.git`` left out), so a Dockerfile outside its build context and a
compose file's relative paths keep working; each ``apply`` then puts exactly the given texts in place and every
other file it touched before back to the original bytes, so one copy serves every subset the bisection builds.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from deadweight.errors import BuildError

__all__ = ["Scratch"]

_SKIP = shutil.ignore_patterns(".git", "__pycache__")


class Scratch:
    """A temporary copy of ``root``; ``close()`` (or ``with``) removes it."""

    def __init__(self, root: str | Path) -> None:
        self.source = Path(root).resolve()
        self._tmp = Path(tempfile.mkdtemp(prefix="deadweight-verify-"))
        self.root = self._tmp / "project"
        try:
            shutil.copytree(self.source, self.root, symlinks=True, ignore=_SKIP)
        except (OSError, shutil.Error) as exc:
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise BuildError(f"{self.source}: cannot make a scratch copy to build from: {exc}") from None
        self._originals: dict[str, bytes | None] = {}  # relative path -> bytes before any apply (None: absent)

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)

    def path(self, user_path: str | Path) -> Path:
        """Where ``user_path`` (absolute inside the project, or relative to its root) is in the copy."""
        p = Path(user_path)
        absolute = Path(os.path.abspath(p if p.is_absolute() else self.source / p))  # a link itself, not its target
        for candidate in (absolute, absolute.resolve()):  # the project may be reached through a symlinked dir
            if candidate.is_relative_to(self.source):
                return self.root / candidate.relative_to(self.source)
        raise BuildError(
            f"{user_path} is outside the project root {self.source}: it cannot be built from a scratch copy"
        )

    def apply(self, texts: Mapping[str, str | None]) -> None:
        """Make the copy hold the original files with exactly ``texts`` (path relative to the root -> text, None:
        the file absent) in place: files an earlier ``apply`` changed and ``texts`` does not name go back."""
        for rel in sorted(set(self._originals) - set(texts)):
            self._put(rel, self._originals[rel])
        for rel, text in sorted(texts.items()):
            target = self.root / rel
            if rel not in self._originals:
                self._originals[rel] = target.read_bytes() if target.is_file() else None
            self._put(rel, None if text is None else text.encode("utf-8"))

    def _put(self, rel: str, data: bytes | None) -> None:
        target = self.root / rel
        if data is None:
            target.unlink(missing_ok=True)
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():  # never write through a link the project shipped: replace the link itself
            target.unlink()
        target.write_bytes(data)

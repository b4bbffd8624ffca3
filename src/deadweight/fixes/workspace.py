"""The text of every file the fixes touch, as the fixes so far left it.

A file is read once (bytes, decoded as UTF-8 exactly: no newline translation), so every later edit starts
from what the previous fixes left and the transaction can check the disk still holds what was read. A file
that is not UTF-8, or holds unresolved merge-conflict markers, is refused: no edit of it is safe.

Only files inside the project root are ever read or written: a path is resolved (symlinks followed) before
it is checked, so a symlinked requirements file is edited where it really is when that is inside the root,
and refused when it points out of it. An audit report given with ``--from-report`` is data from outside,
and nothing it names (``/etc/passwd``, ``../../elsewhere``) can make a fix touch a file the project does not own.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from deadweight.fixes.refused import FixRefused
from deadweight.model.plan import FileChange
from deadweight.project.files import unreadable_reason

__all__ = ["Snapshot", "Workspace"]

_CONFLICT_RE = re.compile(r"^(<{7}|>{7})( |$)|^={7}$", re.MULTILINE)


@dataclass(frozen=True)
class _Original:
    text: str | None  # None: the file did not exist
    digest: str | None  # sha256 of the bytes read, None when absent
    mode: int | None
    owner: tuple[int, int] | None = None  # uid, gid: kept when the file is replaced


Snapshot = dict[Path, str | None]


class Workspace:
    """Files by absolute path: the original read from disk and the current text."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self._originals: dict[Path, _Original] = {}
        self._current: dict[Path, str | None] = {}

    def key(self, path: str | Path) -> Path:
        """The file's resolved absolute path; ``FixRefused`` when that is not inside the project root."""
        p = Path(path)
        try:
            key = (p if p.is_absolute() else self.root / p).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop
            raise FixRefused(f"cannot resolve {path}: {exc}") from None
        if key != self.root and not key.is_relative_to(self.root):
            via = "" if Path(path) == key else f" (it resolves to {key})"
            raise FixRefused(f"{path} is outside the project root {self.root}{via}: deadweight edits only "
                             "the project's own files")
        return key

    def _load(self, key: Path) -> None:
        if key in self._originals:
            return
        if not key.exists():
            self._originals[key] = _Original(None, None, None)
            self._current[key] = None
            return
        refused = unreadable_reason(key)  # the project reader's own limits: a FIFO, a device, over 16 MiB
        if refused is not None:
            raise FixRefused(f"{self.display(key)}: {refused}")
        if not key.is_file():
            raise FixRefused(f"{self.display(key)} is not a regular file")
        try:
            data = key.read_bytes()
        except OSError as exc:
            raise FixRefused(f"cannot read {self.display(key)}: {exc.strerror or exc}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise FixRefused(f"{self.display(key)} is not UTF-8 text") from None
        if _CONFLICT_RE.search(text):
            raise FixRefused(f"{self.display(key)} has unresolved merge-conflict markers")
        st = key.stat()
        self._originals[key] = _Original(text, hashlib.sha256(data).hexdigest(), st.st_mode & 0o7777,
                                         (st.st_uid, st.st_gid))
        self._current[key] = text

    def exists(self, path: str | Path) -> bool:
        key = self.key(path)
        self._load(key)
        return self._current[key] is not None

    def text(self, path: str | Path) -> str:
        """The current text; ``FixRefused`` when the file does not exist (or was refused)."""
        key = self.key(path)
        self._load(key)
        current = self._current[key]
        if current is None:
            raise FixRefused(f"{self.display(key)} does not exist")
        return current

    def set(self, path: str | Path, text: str) -> None:
        key = self.key(path)
        self._load(key)
        self._current[key] = text

    def snapshot(self) -> Snapshot:
        return dict(self._current)

    def restore(self, snapshot: Snapshot) -> None:
        for key in list(self._current):
            if key in snapshot:
                self._current[key] = snapshot[key]
            else:  # read after the snapshot: unchanged since its original
                self._current[key] = self._originals[key].text

    def changes_since(self, snapshot: Snapshot) -> tuple[FileChange, ...]:
        """The files whose text changed since ``snapshot``, sorted by path."""
        out = []
        for key in sorted(self._current):
            before = snapshot[key] if key in snapshot else self._originals[key].text
            after = self._current[key]
            if after is not None and after != before:
                out.append(FileChange(self.display(key), before, after))
        return tuple(out)

    def changes(self) -> tuple[FileChange, ...]:
        """Every changed file: original text and current text."""
        return self.changes_since({})

    def original_digest(self, key: Path) -> str | None:
        return self._originals[key].digest

    def original_mode(self, key: Path) -> int | None:
        return self._originals[key].mode

    def original_owner(self, key: Path) -> tuple[int, int] | None:
        return self._originals[key].owner

    def original_text(self, key: Path) -> str | None:
        return self._originals[key].text

    def changed_keys(self) -> list[Path]:
        return [k for k in sorted(self._current)
                if self._current[k] is not None and self._current[k] != self._originals[k].text]

    def current(self, key: Path) -> str | None:
        return self._current.get(key)

    def display(self, key: Path) -> str:
        """The path as the user would name it: relative to the root when inside it."""
        try:
            return str(key.relative_to(self.root))
        except ValueError:
            return str(key)

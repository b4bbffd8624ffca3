"""The plan ``deadweight fix`` makes: for every finding, the text changes that remove it, or why none was made.

``fixes/`` produces it, reporters render it (a unified diff grouped by finding, JSON), ``pipeline/fix.py``
writes it. A change is whole-file text before and after (``before`` None: the file is created), so a diff
renderer needs nothing but the model. A fix's ``changes`` are the steps it made, each relative to the
text the fixes before it left: applied in order they give ``FixPlan.files``. Frozen, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from deadweight.model.finding import Severity

__all__ = ["FileChange", "FixPlan", "FixStatus", "PlannedFix", "UnauditedService"]

# planned: the edits are in the plan (and written, with --write); refused: an edit could not be made safely
# (``reason`` says why; exit 4); manual: the finding has no automatic fix; skipped: not selected, or a verdict
# not certain enough to act on (``reason`` says which)
FixStatus = Literal["planned", "refused", "manual", "skipped"]


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str  # as the user would name it: relative to the project root when inside it
    before: str | None  # None: a new file
    after: str


@dataclass(frozen=True)
class PlannedFix:
    """What ``fix`` does about one finding."""

    service: str
    rule: str
    title: str
    package: str | None
    path: str | None
    hint: str  # the finding's fix hint (rendered from its remedy)
    savings_bytes: int
    estimated: bool
    severity: Severity  # the finding's: the exit code asks whether findings at the fail level remain
    status: FixStatus
    reason: str = ""  # why refused / manual / skipped; for planned, a note ("already made by the fix above")
    changes: tuple[FileChange, ...] = ()
    commands: tuple[str, ...] = ()  # commands the fix ran (``uv lock``), in order

    @property
    def changed(self) -> bool:
        return any(c.before != c.after for c in self.changes)

    @property
    def fixed(self) -> bool:
        """Its edits are in the plan (made now, or already in the files): once written, the finding is gone."""
        return self.status == "planned"


@dataclass(frozen=True, slots=True)
class UnauditedService:
    """A service the audit could not audit, so nothing of it can be fixed: exit 2 or 3 as for ``audit``."""

    service: str
    error: str
    error_kind: Literal["usage", "input"] | None


@dataclass(frozen=True)
class FixPlan:
    root: str
    fixes: tuple[PlannedFix, ...]
    files: tuple[FileChange, ...]  # every changed file, original text and final text, sorted by path
    written: bool = False  # ``--write`` wrote the changed files (False: a dry run, or nothing to change)
    warnings: tuple[str, ...] = ()
    unaudited: tuple[UnauditedService, ...] = ()

    @property
    def refused(self) -> tuple[PlannedFix, ...]:
        return tuple(f for f in self.fixes if f.status == "refused")

    @property
    def planned(self) -> tuple[PlannedFix, ...]:
        return tuple(f for f in self.fixes if f.status == "planned")

    @property
    def changed_files(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files if f.before != f.after)

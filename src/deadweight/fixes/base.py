"""What every fixer shares: the refusal, the settings, and the context one edit is made in.

A fixer is ``fix(edit, ctx) -> None``: it reads the files it needs from ``ctx.workspace`` (the text the
fixes before it left, never the disk), writes the edited text back, and re-parses what it wrote with
deadweight's own parsers to check that exactly the intended change happened (``FixRefused`` otherwise). An
edit that is already in the text (a shared requirements file fixed for another service, a second run) is
no change and no error: fixes are idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from deadweight.fixes.refused import FixRefused, FixSkipped
from deadweight.fixes.workspace import Workspace
from deadweight.model.finding import Finding
from deadweight.model.project import Project, Service

if TYPE_CHECKING:
    from deadweight.model.remedy import Edit

__all__ = ["DEFAULT_CPU_INDEX", "FixContext", "FixRefused", "FixSettings", "FixSkipped", "Fixer"]

DEFAULT_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


@dataclass(frozen=True)
class FixSettings:
    cpu_index_url: str = DEFAULT_CPU_INDEX  # where the torch family's CPU builds come from (a mirror, the lab's)
    memory_headroom: float = 1.5  # DW701/DW702: the new limit is the observed peak times this, rounded up to 64 MiB
    pin_pyproject: bool = False  # DW501: pin ``>=`` ranges in pyproject too (libraries should not pin)
    lock: bool = True  # regenerate lock files (uv lock, poetry lock, pdm lock); False: --no-lock
    offline: bool = False  # no index lookups (hash refresh, variant versions): such fixes are refused


@dataclass
class FixContext:
    """One finding's fix: the service it is in, the project, the settings and the shared workspace."""

    service: Service
    project: Project
    finding: Finding
    settings: FixSettings
    workspace: Workspace
    commands: list[str] = field(default_factory=list)  # commands run for this fix (``uv lock``), for the report
    notes: list[str] = field(default_factory=list)  # what the fix decided that a reader should know


Fixer = Callable[["Edit", FixContext], None]

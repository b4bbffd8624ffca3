"""Editor for requirements files (pip's format): remove or replace one requirement at the line the parser
recorded, keeping comments, continuations, hashes, markers, extras and line endings."""

from __future__ import annotations

from deadweight.fixes.base import FixContext, FixRefused
from deadweight.model.remedy import RemoveRequirement, ReplaceRequirement

__all__ = ["remove", "replace"]


def remove(edit: RemoveRequirement, ctx: FixContext) -> None:
    raise FixRefused("removing a requirement from a requirements file is not implemented yet")


def replace(edit: ReplaceRequirement, ctx: FixContext) -> None:
    raise FixRefused("replacing a requirement in a requirements file is not implemented yet")

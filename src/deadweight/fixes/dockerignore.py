"""Editor for .dockerignore: create or extend it with exactly the patterns that exclude the clutter, checked
against every COPY/ADD source so the image keeps what it needs."""

from __future__ import annotations

from deadweight.fixes.base import FixContext, FixRefused
from deadweight.model.remedy import AddDockerignore

__all__ = ["add_patterns"]


def add_patterns(edit: AddDockerignore, ctx: FixContext) -> None:
    raise FixRefused("adding .dockerignore patterns is not implemented yet")

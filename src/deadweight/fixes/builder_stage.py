"""DW301: the final stage rewritten into a builder stage that compiles and a runtime stage that copies only
the result, installing there exactly the OS packages the compiled extensions load."""

from __future__ import annotations

from deadweight.fixes.base import FixContext, FixRefused
from deadweight.model.remedy import SplitBuilderStage

__all__ = ["split"]


def split(edit: SplitBuilderStage, ctx: FixContext) -> None:
    raise FixRefused("splitting into a builder stage is not implemented yet")

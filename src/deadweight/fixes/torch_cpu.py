"""DW101: the torch family (torch, torchvision, torchaudio, with matching versions) installed from the CPU
index, for every way a project declares torch: pip (requirements + Dockerfile), uv, Poetry, PDM."""

from __future__ import annotations

from deadweight.fixes.base import FixContext, FixRefused
from deadweight.model.remedy import SetIndex

__all__ = ["route"]


def route(edit: SetIndex, ctx: FixContext) -> None:
    raise FixRefused("installing the torch family from the CPU index is not implemented yet")

"""Editor for pyproject.toml (tomlkit round-trip): PEP 621 dependencies and optional groups, Poetry, PDM and
uv dependency groups (the torch family's CPU index routing is fixes/torch_cpu.py)."""

from __future__ import annotations

from deadweight.fixes.base import FixContext, FixRefused
from deadweight.model.remedy import RemoveRequirement, ReplaceRequirement

__all__ = ["remove", "replace"]


def remove(edit: RemoveRequirement, ctx: FixContext) -> None:
    raise FixRefused("removing a dependency from pyproject.toml is not implemented yet")


def replace(edit: ReplaceRequirement, ctx: FixContext) -> None:
    raise FixRefused("replacing a dependency in pyproject.toml is not implemented yet")

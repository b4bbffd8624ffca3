"""Editor for compose files (ruamel.yaml round-trip): a service's memory limit, in the form the file uses."""

from __future__ import annotations

from deadweight.fixes.base import FixContext, FixRefused
from deadweight.model.remedy import SetMemoryLimit

__all__ = ["set_memory_limit"]


def set_memory_limit(edit: SetMemoryLimit, ctx: FixContext) -> None:
    raise FixRefused("setting the memory limit is not implemented yet")

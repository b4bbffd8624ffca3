"""Editor for Dockerfiles: one instruction at a time, at the lines the parser recorded, keeping every other
byte (comments, continuations, heredocs, the escape directive)."""

from __future__ import annotations

from deadweight.fixes.base import FixContext, FixRefused
from deadweight.model.remedy import (
    AddCleanup,
    AddInstallFlag,
    RemoveRequirement,
    ReplaceBase,
    ReplaceRequirement,
)

__all__ = ["add_cleanup", "add_install_flag", "remove_package", "replace_base", "replace_package"]


def remove_package(edit: RemoveRequirement, ctx: FixContext) -> None:
    raise FixRefused("removing a package from a RUN install is not implemented yet")


def replace_package(edit: ReplaceRequirement, ctx: FixContext) -> None:
    raise FixRefused("replacing a package in a RUN install is not implemented yet")


def add_install_flag(edit: AddInstallFlag, ctx: FixContext) -> None:
    raise FixRefused("adding an install flag is not implemented yet")


def add_cleanup(edit: AddCleanup, ctx: FixContext) -> None:
    raise FixRefused("adding a cleanup command is not implemented yet")


def replace_base(edit: ReplaceBase, ctx: FixContext) -> None:
    raise FixRefused("replacing the base image is not implemented yet")

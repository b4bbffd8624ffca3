"""Which fixer makes an edit: by the edit's kind and the kind of file it names."""

from __future__ import annotations

from deadweight.fixes import builder_stage, compose, dockerfile, dockerignore, pyproject, requirements, torch_cpu
from deadweight.fixes.base import FixContext, FixRefused
from deadweight.fixes.kinds import file_kind
from deadweight.model.remedy import (
    AddCleanup,
    AddDockerignore,
    AddInstallFlag,
    Edit,
    RemoveRequirement,
    ReplaceBase,
    ReplaceRequirement,
    SetIndex,
    SetMemoryLimit,
    SplitBuilderStage,
)

__all__ = ["ORDER", "apply_edit"]

# the order a plan makes edits in: requirements before the Dockerfile installs that read them, single-line
# Dockerfile edits before the builder-stage split that moves those lines, the split before the base change
# (the split keeps the final FROM's text for the runtime stage, where replace-base then finds it; the other way
# round the split would find its FROM changed and refuse), .dockerignore after the Dockerfile
# (it is checked against the COPY sources), compose last
ORDER = {
    "remove-requirement": 0, "replace-requirement": 1, "set-index": 2, "add-install-flag": 3, "add-cleanup": 4,
    "split-builder-stage": 5, "replace-base": 6, "add-dockerignore": 7, "set-memory-limit": 8,
}  # fmt: skip


def apply_edit(edit: Edit, ctx: FixContext) -> None:
    """Make ``edit`` in ``ctx.workspace``; ``FixRefused`` with the reason when it cannot be made safely."""
    kind = file_kind(edit.file)
    if edit.file is None:
        raise FixRefused("the project does not say where this is declared or installed")
    # the workspace's refusals (outside the project root, not a regular file, not UTF-8, merge-conflict markers)
    # hold for every editor: make them before any editor sees the edit
    ctx.workspace.exists(edit.file)
    match edit:
        case RemoveRequirement() | ReplaceRequirement():
            if kind == "requirements":
                return (requirements.remove(edit, ctx) if isinstance(edit, RemoveRequirement)
                        else requirements.replace(edit, ctx))
            if kind == "pyproject":
                return (pyproject.remove(edit, ctx) if isinstance(edit, RemoveRequirement)
                        else pyproject.replace(edit, ctx))
            if kind == "dockerfile":
                return (dockerfile.remove_package(edit, ctx) if isinstance(edit, RemoveRequirement)
                        else dockerfile.replace_package(edit, ctx))
        case SetIndex():
            return torch_cpu.route(edit, ctx)
        case AddInstallFlag():
            return dockerfile.add_install_flag(edit, ctx)
        case AddCleanup():
            return dockerfile.add_cleanup(edit, ctx)
        case ReplaceBase():
            return dockerfile.replace_base(edit, ctx)
        case SplitBuilderStage():
            return builder_stage.split(edit, ctx)
        case AddDockerignore():
            return dockerignore.add_patterns(edit, ctx)
        case SetMemoryLimit():
            return compose.set_memory_limit(edit, ctx)
    raise FixRefused(f"no editor for a {edit.kind} edit of {edit.file}")

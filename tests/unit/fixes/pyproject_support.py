"""Run the pyproject fixer on a file in a directory, as the planner would."""

from __future__ import annotations

import difflib
from dataclasses import replace as dc_replace
from pathlib import Path

from deadweight.fixes import pyproject
from deadweight.fixes.base import FixContext, FixSettings
from deadweight.fixes.workspace import Workspace
from deadweight.model.finding import Finding, Severity
from deadweight.model.project import DeclaredRequirement, Project, Service
from deadweight.model.remedy import RemoveRequirement, ReplaceRequirement
from deadweight.project.pyproject import parse_pyproject_file


def declared(path: Path) -> list[DeclaredRequirement]:
    res = parse_pyproject_file(path)
    return [*res.requirements, *res.optional]


def pick(path: Path, package: str, group: str | None = None, origin: str | None = None, *,
         anygroup: bool = False) -> DeclaredRequirement:
    found = [r for r in declared(path) if r.name == package and (anygroup or r.group == group)
             and (origin is None or r.origin == origin)]
    assert len(found) == 1, found
    return found[0]


def context(root: Path, reqs: list[DeclaredRequirement], settings: FixSettings | None = None,
            workspace: Workspace | None = None) -> FixContext:
    service = Service(name="app", context_dir=str(root), dockerfile=None, image=None, requirements=tuple(reqs))
    project = Project(root=str(root), services=(service,))
    finding = Finding(rule="DW201", title="t", service="app", severity=Severity.MEDIUM)
    return FixContext(service=service, project=project, finding=finding, settings=settings or FixSettings(),
                      workspace=workspace or Workspace(root))


def remove_edit(req: DeclaredRequirement) -> RemoveRequirement:
    return RemoveRequirement(req.name, file=req.source_file, line=req.line, end_line=req.end_line or req.line,
                             original=req.raw)


def replace_edit(req: DeclaredRequirement, name: str | None = None, specifier: str | None = None) -> ReplaceRequirement:
    return ReplaceRequirement(req.name, name=name, specifier=specifier, file=req.source_file, line=req.line,
                              end_line=req.end_line or req.line, original=req.raw)


def run(root: Path, edit: RemoveRequirement | ReplaceRequirement, settings: FixSettings | None = None,
        reqs: list[DeclaredRequirement] | None = None) -> tuple[str, FixContext]:
    path = root / "pyproject.toml"
    ctx = context(root, reqs if reqs is not None else declared(path), settings)
    if isinstance(edit, RemoveRequirement):
        pyproject.remove(edit, ctx)
    else:
        pyproject.replace(edit, ctx)
    return ctx.workspace.text(path), ctx


def unified(before: str, after: str, name: str = "pyproject.toml") -> str:
    return "".join(difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                        f"a/{name}", f"b/{name}"))


__all__ = ["context", "dc_replace", "declared", "pick", "remove_edit", "replace_edit", "run", "unified"]

"""Running the builder-stage fixer on a fixture project: the edit DW301 would make, and its context."""

from __future__ import annotations

import shutil
from pathlib import Path

from deadweight.fixes.base import FixContext, FixSettings
from deadweight.fixes.builder_stage import split
from deadweight.fixes.workspace import Workspace
from deadweight.inventory.ospackages import is_toolchain
from deadweight.model.finding import Finding, Severity
from deadweight.model.remedy import SplitBuilderStage
from deadweight.project.loader import load_project
from deadweight.project.stages import final_chain, shipped_installs

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fix" / "builder"


def copy_fixture(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(FIXTURES / name, target, ignore=shutil.ignore_patterns("expected.Dockerfile", "refused.txt"))
    return target


def context_for(root: Path, *, estimated: bool = True) -> tuple[SplitBuilderStage, FixContext]:
    """The DW301 edit for the project at ``root`` (as the rule makes it) and a fresh fix context."""
    project = load_project(str(root), scan_deployments=False)
    service = project.services[0]
    assert service.dockerfile is not None
    installs = [c for c in shipped_installs(service)
                if c.tool in ("apt-get", "apt", "apk") and any(is_toolchain(p.split("=")[0]) for p in c.packages)]
    packages = tuple(dict.fromkeys(p for c in installs for p in c.packages if is_toolchain(p.split("=")[0])))
    start = final_chain(service)[0].from_instruction
    edit = SplitBuilderStage(packages, tuple(c.line for c in installs), file=service.dockerfile.path,
                             line=start.start_line, end_line=start.end_line, original=start.original)
    finding = Finding(rule="DW301", title="Build toolchain installed in the final stage", service=service.name,
                      severity=Severity.MEDIUM, estimated=estimated, remedy=(edit,))
    ctx = FixContext(service=service, project=project, finding=finding, settings=FixSettings(),
                     workspace=Workspace(project.root))
    return edit, ctx


def run_split(root: Path) -> tuple[str, FixContext]:
    """The fixed Dockerfile text (``FixRefused`` propagates) and the context, for its notes."""
    edit, ctx = context_for(root)
    split(edit, ctx)
    assert edit.file is not None
    return ctx.workspace.text(edit.file), ctx

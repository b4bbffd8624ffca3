"""From an audit to a plan: every finding's remedy made in one shared workspace, each finding all or nothing.

Findings are fixed in the order of ``registry.ORDER`` (by the kind of their first edit), so the fixes that
rewrite whole structures (the builder-stage split) see the text the single-line fixes left, and each
fixer re-reads that text: the plan is made on the edited model, never on stale line numbers. A finding whose
edit is refused leaves the workspace as it found it; the others go on. A finding whose edits change nothing
(two services sharing one requirements file, a second run over files already fixed) is planned with no
changes and the note "already made": fixes are idempotent, so ``fix --write`` twice writes once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from deadweight.errors import DeadweightError, UsageError
from deadweight.fixes.base import FixContext, Fixer, FixRefused, FixSettings, FixSkipped
from deadweight.fixes.registry import ORDER, apply_edit
from deadweight.fixes.torch_family import FAMILY
from deadweight.fixes.workspace import Workspace
from deadweight.model.audit import AuditReport
from deadweight.model.finding import Finding
from deadweight.model.plan import FixPlan, FixStatus, PlannedFix, UnauditedService
from deadweight.model.project import Project, Service
from deadweight.model.usage import Confidence

__all__ = ["Selection", "plan_fixes"]

# removing a package on a verdict that is not certain can break the service: only act on high confidence
_REMOVALS = frozenset({"DW201", "DW202"})


@dataclass(frozen=True)
class Selection:
    """``--only RULE[,PACKAGE]``: the fixes to make (empty: all)."""

    only: tuple[tuple[str, str | None], ...] = ()

    @classmethod
    def parse(cls, values: Iterable[str]) -> Selection:
        out: list[tuple[str, str | None]] = []
        for value in values:
            parts = [p.strip() for p in value.split(",") if p.strip()]
            if not parts:
                continue
            rule, packages = parts[0].upper(), parts[1:]
            if not re.fullmatch(r"DW\d{3}", rule):
                raise UsageError(f"--only {value!r}: {parts[0]!r} is not a rule id (DW201, or DW201,PACKAGE)")
            if packages:
                out.extend((rule, p.lower()) for p in packages)
            else:
                out.append((rule, None))
        return cls(tuple(out))

    def wants(self, finding: Finding) -> bool:
        if not self.only:
            return True
        return any(rule == finding.rule and (package is None or package == (finding.package or "").lower())
                   for rule, package in self.only)


def _order(finding: Finding) -> tuple[int, str, str]:
    first = min((ORDER.get(e.kind, 99) for e in finding.remedy), default=99)
    return (first, finding.rule, finding.package or finding.path or "")


def plan_fixes(
    report: AuditReport,
    project: Project,
    settings: FixSettings,
    selection: Selection = Selection(),
    *,
    workspace: Workspace | None = None,
    apply: Fixer = apply_edit,
) -> tuple[FixPlan, Workspace]:
    """The plan for every finding of ``report`` (nothing written) and the workspace holding the edited text.

    ``apply`` makes one edit (``registry.apply_edit``, the editors; a test of the planner's own bookkeeping
    passes a small editor of its own). Services the audit could not audit are carried into the plan as
    ``unaudited``, for the exit code."""
    workspace = workspace if workspace is not None else Workspace(project.root)
    results: list[PlannedFix] = []
    services = {s.name: s for s in project.services}
    pending: list[tuple[Service, Finding]] = []
    for result in report.services:
        service = services.get(result.name)
        for finding in result.findings:
            if service is None:
                results.append(_row(finding, "skipped", f"service {result.name} is not in the project"))
            elif not selection.wants(finding):
                results.append(_row(finding, "skipped", "not selected (--only)"))
            elif not finding.remedy:
                results.append(_row(finding, "manual", "no automatic fix: " + (finding.fix or "see the rule's page")))
            elif finding.rule in _REMOVALS and finding.confidence is not Confidence.HIGH:
                results.append(_row(finding, "skipped",
                                    f"the verdict's confidence is {finding.confidence.value}: remove it by hand "
                                    "after checking"))
            else:
                pending.append((service, finding))
    # one owner per version: where DW101 moves the torch family to the CPU index, its fix pins the versions it
    # installs; a DW501 pin of the same package (the image's CUDA release) could name one the CPU index lacks
    routed = {service.name for service, finding in pending if finding.rule == "DW101"}
    for service, finding in list(pending):
        if finding.rule == "DW501" and service.name in routed and finding.package in FAMILY:
            pending.remove((service, finding))
            results.append(_row(finding, "skipped", "DW101's fix installs the torch family at pinned versions "
                                                    "from the CPU index"))
    for service, finding in sorted(pending, key=lambda pair: (_order(pair[1]), pair[0].name)):
        results.append(_fix_one(service, finding, project, settings, workspace, apply=apply))
    unaudited = tuple(UnauditedService(r.name, r.error, r.error_kind) for r in report.services if r.error)
    plan = FixPlan(root=project.root, fixes=tuple(results), files=workspace.changes(), unaudited=unaudited)
    return plan, workspace


def _fix_one(service: Service, finding: Finding, project: Project, settings: FixSettings,
             workspace: Workspace, *, apply: Fixer) -> PlannedFix:
    snapshot = workspace.snapshot()
    ctx = FixContext(service=service, project=project, finding=finding, settings=settings, workspace=workspace)
    try:
        for edit in finding.remedy:
            apply(edit, ctx)
    except FixSkipped as exc:  # left alone by a setting: the finding's other edits are undone too
        workspace.restore(snapshot)
        return _row(finding, "skipped", str(exc), commands=ctx.commands)
    except FixRefused as exc:
        workspace.restore(snapshot)
        return _row(finding, "refused", str(exc), commands=ctx.commands)
    except (DeadweightError, ValueError) as exc:
        # a re-parse that failed (ParseError) or line numbers that no longer fit the text (text.replace_lines):
        # the edit is not safe, whichever editor found out
        workspace.restore(snapshot)
        return _row(finding, "refused", f"the edited text did not check out: {exc}", commands=ctx.commands)
    changes = workspace.changes_since(snapshot)
    note = "; ".join(ctx.notes) if changes else "; ".join([*ctx.notes, "already made (by a fix above or before)"])
    return PlannedFix(
        service=finding.service, rule=finding.rule, title=finding.title, package=finding.package, path=finding.path,
        hint=finding.fix, savings_bytes=finding.savings_bytes, estimated=finding.estimated,
        severity=finding.severity, status="planned", reason=note, changes=changes, commands=tuple(ctx.commands),
    )


def _row(finding: Finding, status: FixStatus, reason: str, commands: Sequence[str] = ()) -> PlannedFix:
    return PlannedFix(
        service=finding.service, rule=finding.rule, title=finding.title, package=finding.package, path=finding.path,
        hint=finding.fix, savings_bytes=finding.savings_bytes, estimated=finding.estimated,
        severity=finding.severity, status=status, reason=reason, commands=tuple(commands),
    )

"""DW201: a declared dependency that nothing uses.

Only raised on a ``declared-unused`` verdict, which the usage layer gives only when the code scan was
complete and no import, command, setting, URL, plugin group or optional-dependency trigger names the
distribution, and nothing used requires it. Savings are the exclusive bytes: the distribution and what
only it needs, measured on the image (estimated from wheel sizes without one).
"""

from __future__ import annotations

from collections.abc import Iterable

from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.remedy import RemoveRequirement
from deadweight.model.usage import VerdictStatus
from deadweight.rules.base import Rule, RuleContext, requirement_span
from deadweight.rules.removal import freed_by_removing, removal_finding


class UnusedDeclared(Rule):
    id = "DW201"
    name = "UnusedDeclaredDependency"
    title = "Declared dependency nothing uses"
    severity = Severity.MEDIUM
    description = (
        "A dependency declared in requirements or pyproject is never imported, run, named in a setting or "
        "loaded as a plugin by the service."
    )
    fix = "Remove it from the requirements."

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        findings = []
        for req in ctx.service.requirements:
            verdict = ctx.verdicts.get(req.name)
            if verdict is None or verdict.status is not VerdictStatus.DECLARED_UNUSED:
                continue
            if req.editable or req.url:
                continue
            where = f"{req.source_file}:{req.line}" if req.line else req.source_file
            evidence = [
                Evidence("declaration", f"declared as {req.raw.strip()!r}", where),
                Evidence("usage", verdict.reason or "no import, command, setting or plugin uses it", None),
            ]
            findings.append(
                removal_finding(
                    self, ctx, req.name, freed_by_removing(ctx, req.name),
                    title="is declared but never used",
                    evidence=evidence,
                    confidence=verdict.confidence,
                    remedy=[RemoveRequirement(req.name, **requirement_span(req))],
                )
            )
        return findings

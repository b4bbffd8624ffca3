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
from deadweight.rules.base import Rule, RuleContext, distribution_claims, requirement_span
from deadweight.rules.removal import freed_with
from deadweight.units import human_bytes


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
            dist = ctx.distribution(req.name)
            freed = freed_with(ctx.inventory, dist) if (ctx.inventory and dist) else []
            savings = sum(d.size_bytes for d in freed)
            where = f"{req.source_file}:{req.line}" if req.line else req.source_file
            evidence = [Evidence("declaration", f"declared as {req.raw.strip()!r}", where)]
            evidence.append(Evidence("usage", verdict.reason or "no import, command, setting or plugin uses it", None))
            others = [d.name for d in freed if d.name != req.name]
            if others:
                evidence.append(Evidence("record", f"also frees {', '.join(others[:8])}", None))
            findings.append(
                self.finding(
                    ctx,
                    title=f"{req.name} is declared but never used ({human_bytes(savings)})",
                    package=req.name,
                    savings_bytes=savings,
                    confidence=verdict.confidence,
                    evidence=evidence,
                    remedy=[RemoveRequirement(req.name, **requirement_span(req))],
                    claims=distribution_claims(freed, ctx),
                )
            )
        return findings

"""DW202: installed in the image, declared nowhere, needed by nothing that is used.

Typical sources: a base image's extras, a dependency of a package since removed. Only roots are reported:
an orphan that leaves with another unused distribution is counted by that one's DW201/DW202 finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from packaging.utils import canonicalize_name

from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.remedy import RemoveRequirement
from deadweight.model.usage import VerdictStatus
from deadweight.rules.base import Rule, RuleContext
from deadweight.rules.layers import layer_evidence
from deadweight.rules.removal import freed_by_removing, freed_with, removal_finding

MIN_BYTES = 100 * 1024
_NAME_END = re.compile(r"[\s\[<>=!~;@(]")


def requirement_name(text: str) -> str:
    """Canonical project name of a requirement as written on an install line (``boto3[crt]>=1`` -> ``boto3``)."""
    return canonicalize_name(_NAME_END.split(text.strip(), maxsplit=1)[0])


class UndeclaredUnused(Rule):
    id = "DW202"
    name = "UndeclaredUnusedPackage"
    title = "Installed, undeclared and unused"
    severity = Severity.LOW
    description = (
        "A distribution is installed in the image, is not declared by the project and nothing that is used "
        "needs it."
    )
    fix = "Find the step that installs it and remove it."
    needs_image = True

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        if ctx.inventory is None or ctx.analysis is None:
            return []
        findings = []
        dockerfile = ctx.service.dockerfile.path if ctx.service.dockerfile else None
        inventory = ctx.inventory
        unused = [d for d in ctx.distributions() if (v := ctx.verdicts.get(d.name)) is not None and v.status.is_unused]
        frees = {d.name: {f.name for f in freed_with(inventory, d)} for d in unused}
        for dist in ctx.distributions():
            verdict = ctx.verdicts.get(dist.name)
            if verdict is None or verdict.status is not VerdictStatus.ORPHAN or dist.name in ctx.declared:
                continue
            if any(dist.name in names and other not in frees[dist.name] for other, names in frees.items()
                   if other != dist.name):
                continue  # it leaves with another unused distribution: that one's finding counts it
            freed = freed_by_removing(ctx, dist.name)
            if sum(d.size_bytes for d in freed) < MIN_BYTES:
                continue
            evidence = [Evidence("record", f"{dist.display_name} {dist.version} installed by "
                                 f"{dist.installer or 'unknown installer'}"
                                 f"{', explicitly requested' if dist.requested else ''}", dist.metadata_path)]
            metadata = ctx.analysis.tree.get(f"{dist.metadata_path}/METADATA") or ctx.analysis.tree.get(
                f"{dist.metadata_path}/PKG-INFO"
            )
            if metadata is not None:
                evidence.append(layer_evidence(ctx.analysis, metadata.layer, f"installed {dist.display_name}"))
            remedy = []
            for cmd in ctx.service.installs:
                for text in cmd.packages:
                    if requirement_name(text) != dist.name:
                        continue
                    evidence.append(Evidence("dockerfile", f"{cmd.tool} {cmd.action} names it",
                                             f"{dockerfile}:{cmd.line}" if dockerfile else None))
                    remedy.append(RemoveRequirement(dist.name, file=dockerfile, line=cmd.line,
                                                    end_line=cmd.end_line or cmd.line, original=text))
            evidence.append(Evidence("usage", verdict.reason or "nothing that is used needs it", None))
            findings.append(
                removal_finding(
                    self, ctx, dist.name, freed,
                    title="is installed but neither declared nor needed",
                    evidence=evidence,
                    confidence=verdict.confidence,
                    remedy=remedy,
                    # nothing in the project names it: the step that installs it is to be found by hand
                    fix=None if remedy else f"Find the step that installs {dist.name} and remove it.",
                )
            )
        return findings

"""DW501: a requirement without an exact pin (``>=``, ``~=``, or no version at all).

Unpinned requirements make every build a different image: sizes drift and a new release can pull a new
GPU stack. The fix pins to the version the image actually has, so nothing changes but reproducibility.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.version import InvalidVersion, Version

from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.remedy import ReplaceRequirement
from deadweight.rules.base import Rule, RuleContext, requirement_span


class UnpinnedRequirement(Rule):
    id = "DW501"
    name = "UnpinnedRequirement"
    title = "Unpinned requirement"
    severity = Severity.LOW
    description = "A requirement has no exact version (>=, ~= or none), so rebuilds may install something else."
    fix = "Pin it to the version the image actually has."

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        findings = []
        locked = {p.name: p.version for p in ctx.service.locked}
        for req in ctx.service.requirements:
            if req.pinned or req.url or req.editable or req.name in locked:
                continue
            if req.origin not in ("requirements", "dockerfile-run"):
                continue  # pyproject ranges are for libraries; lock files pin applications
            dist = ctx.distribution(req.name)
            where = f"{req.source_file}:{req.line}" if req.line else req.source_file
            version = dist.version if dist else None
            detail = f"{req.raw.strip()!r} allows any version" if not req.specifier else f"{req.raw.strip()!r}"
            evidence = [Evidence("declaration", detail, where)]
            if dist is not None:
                evidence.append(Evidence("record", f"the image has {req.name} {version}", dist.metadata_path))
            findings.append(
                self.finding(
                    ctx,
                    title=f"{req.name} is not pinned" + (f" (image has {version})" if version else ""),
                    package=req.name,
                    path=where,
                    savings_bytes=0,
                    estimated=False,
                    evidence=evidence,
                    remedy=[ReplaceRequirement(req.name, specifier=f"=={_public(version)}", **requirement_span(req))]
                    if version else (),
                    fix=None if version else "Pin it to the version you test with (==).",
                )
            )
        return findings


def _public(version: str) -> str:
    """The version without its local label: ``2.5.1+cu121`` pins as ``==2.5.1``. The label names a build
    (CUDA, CPU), which the index decides; ``==2.5.1`` accepts every build of that release, so the pin never
    fights DW101's move to the CPU index."""
    try:
        return Version(version).public
    except InvalidVersion:
        return version

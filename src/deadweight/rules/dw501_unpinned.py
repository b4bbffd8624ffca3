"""DW501: a requirement without an exact pin (``>=``, ``~=``, or no version at all).

Unpinned requirements make every build a different image: sizes drift and a new release can pull a new
GPU stack. The fix pins to the version the image actually has, so nothing changes but reproducibility.

pyproject.toml dependencies (PEP 621, Poetry, PDM, uv, dependency groups) are reported too: an image built
from them without a lock file resolves afresh on every build. A range there is usually deliberate (a
library's compatibility window), so one with an upper bound (Poetry's ``^``/``~``, ``~=``, ``<``, ``==X.*``)
is only ``info``; an open one (``>=``, none) keeps the rule's severity. ``fix`` pins them only with
``--pin-pyproject``.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.project import DeclaredRequirement
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
        # a package the build also installs at an exact pin (``RUN pip install torch==2.5.1+cpu``, as DW101's
        # fix writes before the requirements install) is pinned in the image: a range elsewhere adds nothing
        exact = {req.name for req in ctx.service.requirements if req.pinned and req.origin in _ORIGINS}
        for req in ctx.service.requirements:
            if req.pinned or req.url or req.editable or req.name in locked or req.name in exact:
                continue
            if req.origin not in _ORIGINS:
                continue
            dist = ctx.distribution(req.name)
            where = f"{req.source_file}:{req.line}" if req.line else req.source_file
            version = dist.version if dist else None
            detail = f"{req.raw.strip()!r} allows any version" if not req.specifier else f"{req.raw.strip()!r}"
            bounded = req.origin in _PYPROJECT and _bounded(req)
            if bounded:
                detail += " (a bounded range: deliberate in a library, still unpinned in an image)"
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
                    severity=Severity.INFO if bounded else None,
                    evidence=evidence,
                    remedy=[ReplaceRequirement(req.name, specifier=f"=={_public(version)}", **requirement_span(req))]
                    if version
                    else (),
                    fix=None if version else "Pin it to the version you test with (==).",
                )
            )
        return findings


_PYPROJECT = frozenset({"pyproject", "poetry", "pdm", "uv", "dependency-groups"})
_ORIGINS = frozenset({"requirements", "dockerfile-run", *_PYPROJECT})


def _bounded(req: DeclaredRequirement) -> bool:
    """Whether the specifier caps the version (``<``, ``<=``, ``~=``, ``==X.*``; Poetry's ``^``/``~`` read as
    ``>=X,<Y``): a compatibility window rather than "anything newer"."""
    try:
        specs = SpecifierSet(req.specifier)
    except InvalidSpecifier:
        return False
    return any(s.operator in ("<", "<=", "~=") or (s.operator == "==" and s.version.endswith(".*")) for s in specs)


def _public(version: str) -> str:
    """The version without its local label: ``2.5.1+cu121`` pins as ``==2.5.1``. The label names a build
    (CUDA, CPU), which the index decides; ``==2.5.1`` accepts every build of that release, so the pin never
    fights DW101's move to the CPU index."""
    try:
        return Version(version).public
    except InvalidVersion:
        return version

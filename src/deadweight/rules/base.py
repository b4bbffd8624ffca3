"""What every rule sees (``RuleContext``) and how a rule is written (``Rule``).

A rule is a small class with an id from the catalog and ``evaluate(ctx) -> Iterable[Finding]``. Titles and
severities come from the catalog so that an id never means two things; a rule only decides *whether* and
*how much*. Rules declare what they need (an image, observed memory) so the audit can say which were
skipped and why instead of silently reporting nothing.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from deadweight.config import Config
from deadweight.model.analysis import ImageAnalysis
from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.inventory import Distribution, Inventory
from deadweight.model.project import Service, ShippedFile
from deadweight.model.usage import Confidence, DeviceStatus, DeviceVerdict, Verdict
from deadweight.reports.rule_catalog import RULES, RuleInfo


@dataclass(frozen=True)
class CpuBuild:
    """Installed size of the CPU build of a framework, and where that figure came from."""

    name: str
    version: str
    installed_bytes: int
    source: str  # the wheel URL, or "table" when offline
    estimated: bool = False


@dataclass(frozen=True)
class RuleContext:
    """Everything known about one service. ``inventory`` is measured on the image when ``analysis`` is set,
    else estimated from index metadata (``estimated``)."""

    service: Service
    config: Config
    analysis: ImageAnalysis | None = None
    inventory: Inventory | None = None
    estimated: bool = False
    verdicts: Mapping[str, Verdict] = field(default_factory=dict)
    declared: frozenset[str] = frozenset()
    device: DeviceVerdict = field(default_factory=lambda: DeviceVerdict(DeviceStatus.UNKNOWN))
    scan_complete: bool = True
    shipped: Sequence[ShippedFile] = ()
    cpu_builds: Mapping[str, CpuBuild] = field(default_factory=dict)  # "torch" -> CPU build size
    gui_calls: tuple[str, ...] = ()  # "file:line" of GUI calls (cv2.imshow ...) in the code
    # distributions with no musllinux wheel for the target Python (() = all have one; None = not checked)
    musl_gaps: tuple[str, ...] | None = None
    memory_peak_bytes: int | None = None
    memory_evidence: str | None = None

    def distributions(self) -> list[Distribution]:
        return self.inventory.distributions() if self.inventory else []

    def distribution(self, name: str) -> Distribution | None:
        for dist in self.distributions():
            if dist.name == name:
                return dist
        return None


class Rule(ABC):
    """Subclasses set ``id`` (and ``needs_image`` / ``needs_run``) and implement ``evaluate``."""

    id: ClassVar[str]
    needs_image: ClassVar[bool] = False  # only meaningful with bytes measured on an image
    needs_run: ClassVar[bool] = False  # needs observed memory (``--run``)

    @property
    def info(self) -> RuleInfo:
        return RULES[self.id]

    @abstractmethod
    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]: ...

    def finding(
        self,
        ctx: RuleContext,
        *,
        title: str | None = None,
        package: str | None = None,
        path: str | None = None,
        savings_bytes: int = 0,
        estimated: bool | None = None,
        confidence: Confidence = Confidence.HIGH,
        evidence: Sequence[Evidence] = (),
        fix: str | None = None,
        claims: Mapping[str, int] | None = None,
        severity: Severity | None = None,
    ) -> Finding:
        """A finding of this rule with catalog defaults filled in."""
        return Finding(
            rule=self.id,
            title=title or self.info.title,
            service=ctx.service.name,
            severity=severity if severity is not None else self.info.severity,
            package=package,
            path=path,
            savings_bytes=max(0, savings_bytes),
            estimated=ctx.estimated if estimated is None else estimated,
            confidence=confidence,
            evidence=tuple(evidence),
            fix=fix or self.info.fix,
            claims=dict(claims or {}),
        )


def file_claims(paths: Iterable[str], ctx: RuleContext) -> dict[str, int]:
    """Claims for image paths, sized from the final tree (``file:<path>`` keys shared by every rule)."""
    if ctx.analysis is None:
        return {}
    tree = ctx.analysis.tree
    return {f"file:{path}": node.size for path in paths if (node := tree.get(path)) is not None}


def distribution_claims(dists: Iterable[Distribution], ctx: RuleContext) -> dict[str, int]:
    """Claims for everything some distributions own; estimated ones claim by name."""
    out: dict[str, int] = {}
    for dist in dists:
        if ctx.analysis is not None and dist.files:
            out.update(file_claims(dist.files, ctx))
        else:
            out[f"dist:{dist.name}"] = dist.size_bytes
    return out

"""The result of ``deadweight audit``: per-service findings and fleet totals. Reporters render this; they
never compute anything that is not here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from deadweight.model.cost import CostModel
from deadweight.model.finding import Finding, Severity


@dataclass(frozen=True, slots=True)
class SkippedRule:
    rule: str
    reason: str  # e.g. "needs --run (observed memory)"


@dataclass(frozen=True)
class ServiceResult:
    name: str
    image: str | None  # the image reference that was audited, or None in static mode
    mode: str  # "image" (measured on an image) or "static" (estimated from wheel metadata)
    size_bytes: int | None  # image size as `docker image inspect` reports it; None when unknown
    dead_weight_bytes: int  # bytes the findings save, each byte counted once
    findings: tuple[Finding, ...] = ()
    skipped: tuple[SkippedRule, ...] = ()
    error: str | None = None  # why this service could not be audited (others still are)
    error_kind: Literal["usage", "input"] | None = None  # the error's kind: exit 2 or 3, as docs/exit-codes.md says
    layers: tuple[tuple[str, int], ...] = ()  # (diff id, bytes) for fleet de-duplication
    warnings: tuple[str, ...] = ()

    @property
    def top_cause(self) -> Finding | None:
        return min(self.findings, key=Finding.sort_key) if self.findings else None

    @property
    def dead_fraction(self) -> float | None:
        if not self.size_bytes:
            return None
        return self.dead_weight_bytes / self.size_bytes

    @property
    def after_bytes(self) -> int | None:
        return None if self.size_bytes is None else max(0, self.size_bytes - self.dead_weight_bytes)


@dataclass(frozen=True)
class AuditTotals:
    size_bytes: int  # plain sum over services with a known size
    dead_weight_bytes: int
    unique_layer_bytes: int  # layers shared by several images counted once


@dataclass(frozen=True)
class AuditReport:
    root: str  # what was audited (path)
    services: tuple[ServiceResult, ...]
    totals: AuditTotals
    cost: CostModel = field(default_factory=CostModel)
    offline: bool = False
    warnings: tuple[str, ...] = ()

    def max_severity(self) -> Severity | None:
        severities = [f.severity for s in self.services for f in s.findings]
        return max(severities) if severities else None

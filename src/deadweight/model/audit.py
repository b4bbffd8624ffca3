"""The result of ``deadweight audit``: per-service findings and fleet totals. Reporters render this; they
never compute anything that is not here.

Every figure a format shows is a field or a property of this model (fleet size after the fixes, per-rule
savings with shared bytes counted once, monthly costs before and after), so the terminal, Markdown, JSON
and SARIF reports agree by construction. The orders that carry meaning (biggest saving first, the
heaviest service first) are defined here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from deadweight.model.cost import CostEstimate, CostModel, monthly_cost
from deadweight.model.finding import Finding, Severity, deduplicated_savings, deduplicated_shares


def finding_order(finding: Finding) -> tuple[object, ...]:
    """``Finding.sort_key`` (biggest saving first) made total: title and fix break the last ties, so two
    runs over the same report always list findings in the same order."""
    return (*finding.sort_key(), finding.title, finding.fix)


def ordered_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=finding_order)


@dataclass(frozen=True, slots=True)
class SkippedRule:
    rule: str
    reason: str  # e.g. "needs --run (observed memory)"


@dataclass(frozen=True, slots=True)
class MemoryObservation:
    """What ``--run`` measured for one service: its peak beside its limit, finding or not, so a report shows
    what was observed ("peak 372 MiB of 512 MiB, 73%")."""

    peak_bytes: int | None  # None: the service ran but no peak could be read (``evidence`` says why)
    limit_bytes: int | None  # the compose/deploy memory limit, None when the service has none
    evidence: str | None = None  # how the peak was observed (the engine's stats, the requests made)

    @property
    def fraction(self) -> float | None:
        """Peak over limit (0.73 for 372 MiB of 512 MiB); None without both."""
        if self.peak_bytes is None or not self.limit_bytes:
            return None
        return self.peak_bytes / self.limit_bytes


@dataclass(frozen=True)
class ServiceResult:
    name: str
    image: str | None  # the image reference that was audited, or None in static mode
    mode: str  # "image" (measured on an image), "static" (estimated from wheel metadata) or "none" (not audited)
    size_bytes: int | None  # image size as `docker image inspect` reports it; None when unknown
    dead_weight_bytes: int  # bytes the findings save, each byte counted once
    findings: tuple[Finding, ...] = ()
    skipped: tuple[SkippedRule, ...] = ()
    error: str | None = None  # why this service could not be audited (others still are)
    error_kind: Literal["usage", "input"] | None = None  # the error's kind: exit 2 or 3, as docs/exit-codes.md says
    layers: tuple[tuple[str, int], ...] = ()  # (diff id, bytes) for fleet de-duplication
    warnings: tuple[str, ...] = ()
    # static mode: packages the estimate could not resolve (why in ``warnings``). Their sizes and verdicts are
    # missing, so "no findings" would claim a check that was not made: the service counts as not checked
    unresolved: tuple[str, ...] = ()
    # why nothing of this service was audited, though it is no error (an ``image:``-only service whose image
    # neither the engine nor a registry has, a build target that is not a Python stage); mode is "none"
    not_audited: str | None = None
    memory: MemoryObservation | None = None  # ``--run``: the observed peak against the limit

    @property
    def checked(self) -> bool:
        """Audited, and nothing it holds escaped the audit."""
        return self.error is None and not self.unresolved and self.not_audited is None

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

    @property
    def all_estimated(self) -> bool:
        """The service has findings and none of their savings was measured on an image."""
        return bool(self.findings) and all(f.estimated for f in self.findings)

    @property
    def ordered_findings(self) -> list[Finding]:
        """Its findings, biggest saving first (``finding_order``)."""
        return ordered_findings(self.findings)

    @property
    def finding_shares(self) -> list[tuple[Finding, int]]:
        """Its findings in ``ordered_findings`` order, each with the bytes it frees that no finding before it
        already counts (``deduplicated_shares``): they add up to ``dead_weight_bytes``, so a treemap of the
        service draws each byte once."""
        return deduplicated_shares(self.ordered_findings)

    def rank_key(self) -> tuple[int, int, str]:
        """Services with the most dead weight first, failed ones last, then by name."""
        return (1 if self.error else 0, -self.dead_weight_bytes, self.name)


@dataclass(frozen=True)
class AuditTotals:
    size_bytes: int  # plain sum over services with a known size
    dead_weight_bytes: int
    unique_layer_bytes: int  # layers shared by several images counted once


@dataclass(frozen=True, slots=True)
class CostComparison:
    """Monthly cost of some images now and after every fix, under one CostModel (USD)."""

    before: CostEstimate
    after: CostEstimate

    @property
    def saved_storage(self) -> float:
        return self.before.storage - self.after.storage

    @property
    def saved_transfer(self) -> float:
        return self.before.transfer - self.after.transfer

    @property
    def saved_total(self) -> float:
        return self.before.total - self.after.total


@dataclass(frozen=True, slots=True)
class RuleSavings:
    """What one rule's findings are worth over the fleet."""

    rule: str
    title: str  # the title of its first finding (heaviest service first), for rules a catalog does not know
    findings: int
    services: int  # services (by the findings' ``service``) with at least one of its findings
    savings_bytes: int  # summed over services; inside a service, bytes several findings claim count once
    estimated: bool  # every one of its savings is estimated


@dataclass(frozen=True, slots=True)
class SkippedGroup:
    """Rules skipped for the same reason in the same services: one line of a report, not one per service."""

    reason: str
    rules: tuple[str, ...]  # sorted
    services: tuple[str, ...]  # sorted, each once


@dataclass(frozen=True, slots=True)
class RankedFinding:
    """A finding of the fleet-wide action list, with the service it belongs to."""

    service: str
    finding: Finding


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

    # ------------------------------------------------------------------------------------- services

    @property
    def ranked_services(self) -> list[ServiceResult]:
        """Services in ``ServiceResult.rank_key`` order (heaviest first, failed last)."""
        return sorted(self.services, key=ServiceResult.rank_key)

    @property
    def measured_services(self) -> tuple[ServiceResult, ...]:
        """Services whose image size is known: the set ``totals.size_bytes`` sums."""
        return tuple(s for s in self.services if s.size_bytes is not None)

    @property
    def failed_services(self) -> tuple[ServiceResult, ...]:
        return tuple(s for s in self.services if s.error)

    @property
    def nothing_audited(self) -> str | None:
        """Why no service at all was audited ("redis: no image redis:7 in the engine or a registry; ..."), or
        None when one was. Such a report says "nothing audited", never "no findings", and exits 3."""
        if any(s.not_audited is None and s.error is None for s in self.services):
            return None
        reasons = [f"{s.name}: {s.not_audited or s.error}" for s in self.services]
        return "; ".join(reasons) if reasons else "the project has no services"

    @property
    def skipped_groups(self) -> tuple[SkippedGroup, ...]:
        """Skipped rules grouped by reason and the services they were skipped for, sorted by reason then
        services ("DW701, DW702 skipped for api, worker: needs --run")."""
        names_of: dict[tuple[str, str], set[str]] = {}
        for service in self.services:
            for skipped in service.skipped:
                names_of.setdefault((skipped.reason, skipped.rule), set()).add(service.name)
        grouped: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for (reason, rule), names in names_of.items():
            grouped.setdefault((reason, tuple(sorted(names))), []).append(rule)
        return tuple(
            SkippedGroup(reason, tuple(sorted(rules)), services)
            for (reason, services), rules in sorted(grouped.items())
        )

    @property
    def finding_count(self) -> int:
        return sum(len(s.findings) for s in self.services)

    # ----------------------------------------------------------------------------------- fleet bytes

    @property
    def after_bytes(self) -> int:
        """Fleet size after every fix, over the services whose size is known (the same set
        ``totals.size_bytes`` sums), so "before" and "after" compare like with like."""
        return sum(s.after_bytes for s in self.services if s.after_bytes is not None)

    @property
    def reduction_bytes(self) -> int:
        """How much smaller the measured fleet gets: ``totals.size_bytes - after_bytes``."""
        return self.totals.size_bytes - self.after_bytes

    @property
    def unmeasured_dead_weight_bytes(self) -> int:
        """Dead weight of services of unknown size: in ``totals.dead_weight_bytes``, not in the fleet sizes."""
        return sum(s.dead_weight_bytes for s in self.services if s.size_bytes is None)

    # ----------------------------------------------------------------------------------------- rules

    @cached_property
    def rule_savings(self) -> tuple[RuleSavings, ...]:
        """Per rule, biggest first (then by id): bytes its findings save, counted once within a service."""
        per_rule: dict[str, list[Finding]] = {}
        for service in self.ranked_services:
            for finding in service.findings:
                per_rule.setdefault(finding.rule, []).append(finding)
        rows = []
        for rule, findings in per_rule.items():
            by_service: dict[str, list[Finding]] = {}
            for finding in findings:
                by_service.setdefault(finding.service, []).append(finding)
            rows.append(
                RuleSavings(
                    rule=rule,
                    title=findings[0].title,
                    findings=len(findings),
                    services=len(by_service),
                    savings_bytes=sum(deduplicated_savings(group) for group in by_service.values()),
                    estimated=all(f.estimated for f in findings),
                )
            )
        return tuple(sorted(rows, key=lambda r: (-r.savings_bytes, r.rule)))

    @property
    def rule_savings_overlap(self) -> bool:
        """The per-rule savings add up to more than the dead weight: some bytes count under several rules
        (a pip cache also shadowed by a later layer), which the totals count once."""
        return sum(r.savings_bytes for r in self.rule_savings) > self.totals.dead_weight_bytes

    @property
    def ranked_findings(self) -> list[RankedFinding]:
        """Every finding of the fleet, biggest saving first (``finding_order``, then service name)."""
        pairs = sorted(
            ((f, s.name) for s in self.services for f in s.findings),
            key=lambda pair: (finding_order(pair[0]), pair[1]),
        )
        return [RankedFinding(name, finding) for finding, name in pairs]

    # ------------------------------------------------------------------------------------------ cost

    @property
    def fleet_cost(self) -> CostComparison:
        """The measured fleet (``totals.size_bytes``) now and after the fixes (``after_bytes``)."""
        return CostComparison(
            before=monthly_cost(self.totals.size_bytes, self.cost),
            after=monthly_cost(self.after_bytes, self.cost),
        )

    @property
    def dead_weight_cost(self) -> CostEstimate:
        """What ``totals.dead_weight_bytes`` cost a month, the dead weight of services of unknown size
        included (so it can exceed ``fleet_cost.saved_total``)."""
        return monthly_cost(self.totals.dead_weight_bytes, self.cost)

    def service_cost(self, service: ServiceResult) -> CostComparison | None:
        """One service now and after its fixes; ``None`` when its size is unknown."""
        if service.size_bytes is None or service.after_bytes is None:
            return None
        return CostComparison(
            before=monthly_cost(service.size_bytes, self.cost),
            after=monthly_cost(service.after_bytes, self.cost),
        )

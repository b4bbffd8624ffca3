"""The figures of the results report (``deadweight optimize``) derived from a :class:`VerifyReport`: fleet sums,
cost on measured compressed sizes, and the audit finding behind each edit.

Every format (terminal table, JSON, the Markdown report) reads them from here, so they agree by construction and
no reporter does arithmetic beyond putting a number in a cell. Pure functions of the model, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from deadweight.model.audit import CostComparison
from deadweight.model.cost import monthly_cost
from deadweight.model.finding import Finding
from deadweight.model.plan import PlannedFix
from deadweight.model.verification import ServiceVerification, VerifyReport

__all__ = [
    "FleetTotals",
    "finding_of",
    "fleet_cost",
    "fleet_totals",
    "kept_edits",
    "service_cost",
    "unproven",
    "verified",
]


@dataclass(frozen=True, slots=True)
class FleetTotals:
    """The services that were built before and after (``compared``), summed; the rest are left out of every sum
    so that before and after compare like with like."""

    compared: int  # services with an image comparison
    services: int  # all services verified (or tried)
    before_bytes: int  # plain sums of image sizes
    after_bytes: int
    unique_before_bytes: int  # layers shared by several images counted once (the report's own figures)
    unique_after_bytes: int
    compressed_before_bytes: int | None  # None when some compared image has no compressed size
    compressed_after_bytes: int | None
    cold_build_seconds: float | None  # after builds, summed; None when some was not measured
    warm_build_seconds: float | None
    verify_seconds: float  # time in checks, summed
    measured_savings_bytes: int  # before - after over the compared services

    @property
    def saved_fraction(self) -> float:
        return self.measured_savings_bytes / self.before_bytes if self.before_bytes else 0.0

    @property
    def unique_saved_bytes(self) -> int:
        return self.unique_before_bytes - self.unique_after_bytes


def _sum_or_none(values: list[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _seconds_or_none(values: list[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else sum(v for v in values if v is not None)


def fleet_totals(report: VerifyReport) -> FleetTotals:
    compared = [s for s in report.services if s.comparison is not None]
    comparisons = [s.comparison for s in compared if s.comparison is not None]
    before = sum(c.before.size_bytes for c in comparisons)
    after = sum(c.after.size_bytes for c in comparisons)
    builds = [s.after_build for s in compared]
    return FleetTotals(
        compared=len(compared),
        services=len(report.services),
        before_bytes=before,
        after_bytes=after,
        unique_before_bytes=report.unique_before_bytes or before,
        unique_after_bytes=report.unique_after_bytes or after,
        compressed_before_bytes=_sum_or_none([c.before.compressed_bytes for c in comparisons]) if comparisons else None,
        compressed_after_bytes=_sum_or_none([c.after.compressed_bytes for c in comparisons]) if comparisons else None,
        cold_build_seconds=_seconds_or_none([b.cold_seconds if b else None for b in builds]),
        warm_build_seconds=_seconds_or_none([b.warm_seconds if b else None for b in builds]),
        verify_seconds=sum(s.verify_seconds for s in report.services),
        measured_savings_bytes=before - after,
    )


def service_cost(report: VerifyReport, service: ServiceVerification) -> CostComparison | None:
    """One service's monthly cost before and after under the audit's cost model, on the MEASURED compressed
    sizes (what a registry stores and a pull transfers); None when either compressed size is unknown."""
    comparison = service.comparison
    if comparison is None or comparison.before.compressed_bytes is None or comparison.after.compressed_bytes is None:
        return None
    return CostComparison(
        before=monthly_cost(comparison.before.compressed_bytes, report.audit.cost),
        after=monthly_cost(comparison.after.compressed_bytes, report.audit.cost),
    )


def fleet_cost(report: VerifyReport) -> CostComparison | None:
    """The compared services' monthly cost, each image stored and pulled on its own compressed size (a layer
    several images share is counted per image: an upper bound for storage); None when a size is unknown."""
    totals = fleet_totals(report)
    if totals.compressed_before_bytes is None or totals.compressed_after_bytes is None:
        return None
    return CostComparison(
        before=monthly_cost(totals.compressed_before_bytes, report.audit.cost),
        after=monthly_cost(totals.compressed_after_bytes, report.audit.cost),
    )


def finding_of(report: VerifyReport, fix: PlannedFix) -> Finding | None:
    """The audit finding a planned fix removes (same service, rule, package and path): its evidence is the
    "why" of the edit."""
    for service in report.audit.services:
        if service.name != fix.service:
            continue
        for finding in service.findings:
            if (finding.rule, finding.package, finding.path) == (fix.rule, fix.package, fix.path):
                return finding
    return None


def unproven(report: VerifyReport) -> tuple[str, ...]:
    """Services with kept edits in which no check ran (all skipped, or none selected): nothing proves those
    edits, so the run is not "verified" even though nothing failed."""
    return tuple(
        s.service
        for s in report.services
        if any(e.status == "kept" for e in s.edits) and not any(c.status != "skip" for c in s.checks)
    )


def verified(report: VerifyReport) -> bool:
    """Every service passed and every kept edit was proven by at least one check that ran."""
    return report.passed and not unproven(report)


def kept_edits(report: VerifyReport) -> int:
    return sum(1 for s in report.services for e in s.edits if e.status == "kept")

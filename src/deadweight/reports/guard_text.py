"""``deadweight guard`` as plain text: the verdict first, then per service what failed, what was waived,
what could not be checked, and what passed; growth and new distributions when there is a baseline."""

from __future__ import annotations

from deadweight.guard.model import Check, FleetVerdict, GuardVerdict, ServiceVerdict, Status
from deadweight.units import human_bytes

LABELS = {Status.FAIL: "FAIL", Status.WAIVED: "WAIVED", Status.NOT_CHECKED: "NOT CHECKED", Status.PASS: "ok"}
ORDER = (Status.FAIL, Status.WAIVED, Status.NOT_CHECKED, Status.PASS)
VERDICTS = {Status.FAIL: "over budget", Status.NOT_CHECKED: "could not check everything",
            Status.PASS: "within budget"}


def summary_line(verdict: GuardVerdict) -> str:
    counts = (f"{verdict.count(Status.FAIL)} over budget, {verdict.count(Status.WAIVED)} waived, "
              f"{verdict.count(Status.NOT_CHECKED)} not checked, {verdict.count(Status.PASS)} within budget")
    errors = sum(1 for s in verdict.services if s.error)
    if errors:
        counts += f", {errors} service{'s' if errors != 1 else ''} not audited"
    return f"deadweight guard: {VERDICTS[verdict.status]} ({counts})"


def growth_line(service: ServiceVerdict) -> str | None:
    growth = service.growth
    if growth is None:
        return None
    if not growth.comparable:
        return f"growth: not compared ({growth.reason})"
    grown = growth.bytes or 0
    sign = "+" if grown >= 0 else "-"
    pct = growth.percent
    share = f" ({sign}{abs(pct):.1f}%)" if pct is not None else ""
    return (f"growth: {sign}{human_bytes(abs(grown))}{share}, {human_bytes(growth.baseline_bytes)} -> "
            f"{human_bytes(growth.current_bytes)}")


def appeared_line(service: ServiceVerdict) -> str | None:
    if service.growth is None:
        return None
    if service.new_distributions is None:
        return "new distributions: not known (the baseline lists none: use a guard --format json baseline)"
    if not service.new_distributions:
        return "new distributions: none"
    return "new distributions: " + ", ".join(f"{n} {human_bytes(b)}" for n, b in service.new_distributions)


def fleet_line(fleet: FleetVerdict) -> str:
    """The fleet's totals in one line (or why there are none)."""
    if fleet.size_bytes is None:
        return f"fleet: no totals ({fleet.reason})"
    est = " (estimated)" if fleet.estimated else ""
    pct = fleet.dead_weight_percent
    share = f" ({pct:.1f}%)" if pct is not None else ""
    return (f"fleet: {human_bytes(fleet.size_bytes)}{est} with shared layers counted once, dead weight "
            f"{human_bytes(fleet.dead_weight_bytes)}{share}")


def _check_line(check: Check) -> str:
    return f"  {LABELS[check.status]:<11} {check.budget:<24} {check.message}"


def render(verdict: GuardVerdict) -> str:
    lines = [summary_line(verdict)]
    if verdict.baseline:
        lines.append(f"baseline: {verdict.baseline}")
    if verdict.config_source:
        lines.append(f"budgets: {verdict.config_source}")
    for service in verdict.services:
        lines.append("")
        where = service.image or "static estimate"
        if service.error:
            lines.append(f"{service.name} ({where}): NOT AUDITED: {service.error}")
            continue
        facts = service.facts
        assert facts is not None
        est = " (estimated)" if facts.estimated else ""
        pct = facts.dead_weight_percent
        share = f" ({pct:.1f}%)" if pct is not None else ""
        lines.append(f"{service.name} ({where}): {human_bytes(facts.size_bytes)}{est}, dead weight "
                     f"{human_bytes(facts.dead_weight_bytes)}{share}")
        for status in ORDER:
            lines += [_check_line(c) for c in service.checks if c.status is status]
        if not service.checks:
            lines.append("  no budgets apply")
        for extra in (growth_line(service), appeared_line(service)):
            if extra:
                lines.append(f"  {extra}")
        if service.known_findings:
            known = ", ".join(f"{r.rule} {r.subject or ''}".strip() for r in service.known_findings)
            lines.append(f"  in the baseline (reported, not failing): {known}")
    if verdict.fleet is not None:
        lines += ["", fleet_line(verdict.fleet)]
        for status in ORDER:
            lines += [_check_line(c) for c in verdict.fleet.checks if c.status is status]
    if verdict.notes:
        lines.append("")
        lines += [f"note: {n}" for n in verdict.notes]
    return "\n".join(lines) + "\n"

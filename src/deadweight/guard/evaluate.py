"""Budgets, the baseline ratchet and waivers applied to an audit: pure, no I/O (``collect_facts`` did that).

For each service, in this order: size budgets (``max-size`` ... ``max-dead-weight-percent``), rule budgets,
class budgets, distribution budgets, then, with a baseline, growth budgets, one ``new-finding`` check per
finding the baseline did not have, and ``max-new-distributions``. Then the fleet's budgets (``[guard.fleet]``)
against the audit's totals. A check over its budget is then matched
against the waivers: an unexpired waiver makes it ``waived``; one that expired leaves it failing and says so.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from deadweight.guard.baseline import Baseline, BaselineService
from deadweight.guard.config import Budgets, GuardConfig, RuleBudget, Waiver
from deadweight.guard.model import (
    FLEET,
    Check,
    Facts,
    FindingRef,
    FleetVerdict,
    Growth,
    GuardVerdict,
    ServiceVerdict,
    Status,
    Unit,
    WaiverRef,
)
from deadweight.model.audit import AuditReport, ServiceResult
from deadweight.model.finding import Finding, Severity
from deadweight.units import human_bytes

#: What each top-level budget measures, and which fact holds it.
SIMPLE_BUDGETS: tuple[tuple[str, str, Unit, str], ...] = (
    ("max-size", "image size", Unit.BYTES, "size_bytes"),
    ("max-compressed-size", "compressed size", Unit.BYTES, "compressed_bytes"),
    ("max-largest-layer", "largest layer", Unit.BYTES, "largest_layer_bytes"),
    ("max-layers", "layers", Unit.COUNT, "layer_count"),
    ("max-dead-weight", "dead weight", Unit.BYTES, "dead_weight_bytes"),
    ("max-dead-weight-percent", "dead weight share", Unit.PERCENT, "dead_weight_percent"),
)


def show(value: float | None, unit: Unit) -> str:
    if value is None:
        return "unknown"
    if unit is Unit.BYTES:
        return human_bytes(int(value))
    if unit is Unit.PERCENT:
        return f"{value:.1f}%"
    return str(int(value))


def finding_ref(finding: Finding) -> FindingRef:
    return FindingRef(
        rule=finding.rule, service=finding.service, package=finding.package, path=finding.path,
        title=finding.title, severity=str(finding.severity), savings_bytes=finding.savings_bytes,
        estimated=finding.estimated,
    )


def _limit_check(
    budget: str, service: str, what: str, actual: float | None, limit: float, *, unit: Unit, estimated: bool,
    missing: str, rule: str | None = None, package: str | None = None, detail: str = "",
) -> Check:
    est = " (estimated)" if estimated and unit is not Unit.COUNT else ""
    if actual is None:
        return Check(budget, service, Status.NOT_CHECKED, f"{what}: not checked: {missing}", unit, limit=limit,
                     estimated=estimated, rule=rule, package=package, reason=missing)
    over = actual > limit
    verb = "over budget" if over else "within budget"
    message = f"{what} {show(actual, unit)}{est} {verb} ({show(limit, unit)})" + (f": {detail}" if detail else "")
    return Check(budget, service, Status.FAIL if over else Status.PASS, message, unit, limit=limit, actual=actual,
                 estimated=estimated, rule=rule, package=package)


def _missing_reason(facts: Facts, attr: str, mode: str) -> str:
    if attr in ("largest_layer_bytes", "layer_count", "compressed_bytes") and mode == "static":
        return "a static audit has no image layers (give --image or --build)"
    if attr == "compressed_bytes":
        return "this image source gives no compressed sizes (a registry or an OCI layout does)"
    if attr == "breakdown":
        return "the breakdown needs an image (static audits have none; give --image or --build)"
    if attr == "distributions":
        return "; ".join(facts.notes) or "the distributions could not be read"
    return "; ".join(facts.notes) or "unknown for this service"


def _list_findings(refs: Sequence[FindingRef]) -> str:
    parts = [f"{r.subject or r.rule} {human_bytes(r.savings_bytes)}" for r in refs[:5]]
    more = f" and {len(refs) - 5} more" if len(refs) > 5 else ""
    return ", ".join(parts) + more


def _rule_checks(
    service: ServiceResult, refs: Sequence[FindingRef], rules: Mapping[str, RuleBudget], *, estimated: bool,
    counted: str, rules_run: frozenset[str] | None,
) -> list[Check]:
    checks = []
    skipped = {s.rule: s.reason for s in service.skipped}
    if rules_run is not None:
        for rule in rules:
            if rule not in rules_run and rule not in skipped:
                skipped[rule] = "the rule did not run (not selected, ignored, opt-in, or unknown)"
    for rule, budget in sorted(rules.items()):
        mine = sorted((r for r in refs if r.rule == rule), key=lambda r: (-r.savings_bytes, r.subject or ""))
        key = f"rules.{rule}"
        if rule in skipped:
            checks.append(Check(key, service.name, Status.NOT_CHECKED, f"{rule}: not checked: {skipped[rule]}",
                                Unit.COUNT if budget.count is not None else Unit.BYTES,
                                limit=budget.count if budget.count is not None else budget.bytes,
                                rule=rule, reason=skipped[rule]))
            continue
        detail = _list_findings(mine)
        # a package selector of a waiver can match a rule budget when all its findings are about one package
        packages = {r.package for r in mine}
        package = next(iter(packages)) if len(packages) == 1 else None
        if budget.count is not None:
            checks.append(_limit_check(key, service.name, f"{rule} {counted}findings", len(mine), budget.count,
                                       unit=Unit.COUNT, estimated=estimated, missing="", rule=rule,
                                       package=package, detail=detail))
        else:
            assert budget.bytes is not None
            total = sum(r.savings_bytes for r in mine)
            checks.append(_limit_check(key, service.name, f"{rule} {counted}savings", total, budget.bytes,
                                       unit=Unit.BYTES, estimated=estimated, missing="", rule=rule,
                                       package=package, detail=detail))
    return checks


def _budget_checks(result: ServiceResult, facts: Facts, budgets: Budgets, refs: Sequence[FindingRef],
                   *, counted: str, rules_run: frozenset[str] | None) -> list[Check]:
    name, est = result.name, facts.estimated
    checks: list[Check] = []
    limits: dict[str, float] = {**budgets.sizes, **budgets.counts, **budgets.percents}
    for key, what, unit, attr in SIMPLE_BUDGETS:
        if key in limits:
            checks.append(_limit_check(key, name, what, getattr(facts, attr), limits[key], unit=unit, estimated=est,
                                       missing=_missing_reason(facts, attr, result.mode)))
    checks += _rule_checks(result, refs, budgets.rules, estimated=est, counted=counted, rules_run=rules_run)
    for cls, limit in sorted(budgets.classes.items()):
        actual = None if facts.breakdown is None else facts.breakdown.get(cls, 0)
        checks.append(_limit_check(f"classes.{cls}", name, f"class {cls}", actual, limit, unit=Unit.BYTES,
                                   estimated=est, missing=_missing_reason(facts, "breakdown", result.mode)))
    for pattern, limit in sorted(budgets.distributions.items()):
        if facts.distributions is None:
            checks.append(_limit_check(f"distributions.{pattern}", name, f"distribution {pattern}", None, limit,
                                       unit=Unit.BYTES, estimated=est, package=pattern,
                                       missing=_missing_reason(facts, "distributions", result.mode)))
            continue
        matched = {n: b for n, b in facts.distributions.items() if fnmatch.fnmatchcase(n, pattern)}
        detail = ", ".join(f"{n} {human_bytes(b)}" for n, b in sorted(matched.items(), key=lambda i: (-i[1], i[0])))
        what = f"distribution {pattern}" if pattern in matched or not matched else f"distributions {pattern}"
        if not matched:
            detail = "none installed"
        checks.append(_limit_check(f"distributions.{pattern}", name, what, sum(matched.values()), limit,
                                   unit=Unit.BYTES, estimated=est, missing="", package=pattern,
                                   detail=detail if len(matched) != 1 or pattern not in matched else ""))
    return checks


def _growth(result: ServiceResult, facts: Facts, base: BaselineService | None) -> Growth:
    current = facts.size_bytes
    if base is None:
        return Growth(None, current, False, "the service is not in the baseline")
    if base.error or base.size_bytes is None:
        return Growth(base.size_bytes, current, False, "the baseline has no size for this service")
    if current is None:
        return Growth(base.size_bytes, None, False, "this run has no size for this service")
    if base.mode is not None and base.mode != result.mode:
        return Growth(base.size_bytes, current, False,
                      f"the baseline was a {base.mode} audit and this one is {result.mode}: sizes do not compare")
    return Growth(base.size_bytes, current, True)


def _baseline_checks(
    result: ServiceResult, facts: Facts, budgets: Budgets, *, base: BaselineService | None, growth: Growth,
    new: Sequence[FindingRef], new_dists: tuple[tuple[str, int], ...] | None,
) -> list[Check]:
    name, est = result.name, facts.estimated
    checks: list[Check] = []
    why = growth.reason or ""
    if "max-growth" in budgets.sizes:
        grown = growth.bytes
        span = f"{human_bytes(growth.baseline_bytes)} -> {human_bytes(growth.current_bytes)}"
        checks.append(_limit_check("max-growth", name, "growth", grown, budgets.sizes["max-growth"], unit=Unit.BYTES,
                                   estimated=est, missing=why, detail=span))
    if "max-growth-percent" in budgets.percents:
        pct = growth.percent
        missing = why or ("the baseline size is 0" if pct is None else "")
        checks.append(_limit_check("max-growth-percent", name, "growth", pct, budgets.percents["max-growth-percent"],
                                   unit=Unit.PERCENT, estimated=est, missing=missing))
    floor = budgets.fail_on_new
    if base is not None and base.error:
        reason = f"the baseline could not audit this service ({base.error})"
        checks.append(Check("new-finding", name, Status.NOT_CHECKED, f"new findings: not checked: {reason}",
                            Unit.COUNT, reason=reason))
        new = ()
    for ref in new:
        saving = ("an estimated " if ref.estimated else "") + human_bytes(ref.savings_bytes)
        subject = f" ({ref.subject})" if ref.subject else ""
        fails = floor is not None and Severity.parse(ref.severity) >= floor
        tail = "" if fails else f" (below fail-on-new {floor if floor is not None else 'none'})"
        message = f"new finding {ref.rule} {ref.title}{subject}: {saving}{tail}"
        checks.append(Check("new-finding", name, Status.FAIL if fails else Status.PASS, message, Unit.BYTES,
                            actual=ref.savings_bytes, estimated=ref.estimated, rule=ref.rule, package=ref.package,
                            finding=ref))
    if "max-new-distributions" in budgets.counts:
        limit = budgets.counts["max-new-distributions"]
        if new_dists is None:
            reason = ("the baseline lists no distributions (an audit report: use a guard --format json "
                      "report as the baseline)") if base is not None else why
            checks.append(_limit_check("max-new-distributions", name, "new distributions", None, limit, unit=Unit.COUNT,
                                       estimated=est, missing=reason))
        else:
            detail = ", ".join(f"{n} {human_bytes(b)}" for n, b in new_dists)
            checks.append(_limit_check("max-new-distributions", name, "new distributions", len(new_dists), limit,
                                       unit=Unit.COUNT, estimated=est, missing="", detail=detail))
    return checks


FLEET_BUDGETS: tuple[tuple[str, str, Unit], ...] = (
    ("max-size", "fleet size (shared layers once)", Unit.BYTES),
    ("max-dead-weight", "fleet dead weight", Unit.BYTES),
    ("max-dead-weight-percent", "fleet dead weight share", Unit.PERCENT),
)


def _fleet(report: AuditReport, budgets: Budgets) -> FleetVerdict:
    """The fleet's totals from the audit's (``AuditTotals``) against the ``[guard.fleet]`` budgets; every one
    not checked when some service could not be audited or checked, since its total would be short."""
    missing = sorted(s.name for s in report.services if not s.checked or s.size_bytes is None)
    estimated = any(s.mode == "static" for s in report.services)
    if missing:
        reason = f"{', '.join(missing)} could not be audited or sized: the fleet's totals would be short"
        fleet = FleetVerdict(None, None, None, estimated, reason=reason)
    else:
        totals = report.totals
        fleet = FleetVerdict(totals.unique_layer_bytes, totals.size_bytes, totals.dead_weight_bytes, estimated)
    actual = {"max-size": fleet.size_bytes, "max-dead-weight": fleet.dead_weight_bytes,
              "max-dead-weight-percent": fleet.dead_weight_percent}
    limits: dict[str, float] = {**budgets.sizes, **budgets.percents}
    checks = [
        _limit_check(f"fleet.{key}", FLEET, what, actual[key], limits[key], unit=unit, estimated=estimated,
                     missing=fleet.reason or "the fleet's sizes are unknown")
        for key, what, unit in FLEET_BUDGETS if key in limits
    ]
    return replace(fleet, checks=tuple(checks))


def _apply_waivers(checks: Iterable[Check], waivers: Sequence[Waiver], today: dt.date,
                   used: set[int]) -> list[Check]:
    out = []
    for check in checks:
        if check.status is not Status.FAIL:
            out.append(check)
            continue
        matching = [w for w in waivers
                    if w.matches(service=check.service, budget=check.budget, rule=check.rule, package=check.package)]
        used.update(w.index for w in matching)
        valid = next((w for w in matching if not w.expired(today)), None)
        if valid is not None:
            ref = WaiverRef(valid.owner, valid.reason, valid.expires, valid.describe(), expired=False)
            message = f"{check.message}; waived until {valid.expires.isoformat()} by {valid.describe()}"
            out.append(_replace(check, status=Status.WAIVED, message=message, waiver=ref))
        elif matching:
            w = matching[0]
            ref = WaiverRef(w.owner, w.reason, w.expires, w.describe(), expired=True)
            message = f"{check.message}; {w.describe()} expired on {w.expires.isoformat()}"
            out.append(_replace(check, message=message, waiver=ref))
        else:
            out.append(check)
    return out


def _replace(check: Check, **changes: Any) -> Check:
    return replace(check, **changes)


def evaluate(
    report: AuditReport,
    facts: Mapping[str, Facts],
    config: GuardConfig,
    *,
    baseline: Baseline | None = None,
    today: dt.date,
    allow_unchecked: bool = False,
    rules_run: frozenset[str] | None = None,
) -> GuardVerdict:
    """``rules_run``: the rule ids the audit ran (None: all); a rule budget for one that did not run is
    "not checked", never "0 findings"."""
    used: set[int] = set()
    verdicts = []
    for result in sorted(report.services, key=lambda s: s.name):
        refs = tuple(sorted((finding_ref(f) for f in result.findings),
                            key=lambda r: (-r.savings_bytes, r.rule, r.subject or "")))
        service_facts = facts.get(result.name)
        if not result.checked or service_facts is None:
            why = result.error or result.not_audited or (
                f"could not resolve {', '.join(result.unresolved)}" if result.unresolved
                else "no figures for this service")
            verdicts.append(ServiceVerdict(result.name, result.image, result.mode, why, None, findings=refs))
            continue
        budgets = config.budgets_for(result.name)
        base = baseline.services.get(result.name) if baseline is not None else None
        growth = None
        known: tuple[FindingRef, ...] = ()
        new = refs
        new_dists: tuple[tuple[str, int], ...] | None = None
        if baseline is not None:
            growth = _growth(result, service_facts, base)
            keys = base.finding_keys if base is not None else frozenset()
            known = tuple(r for r in refs if r.key in keys)
            new = tuple(r for r in refs if r.key not in keys)
            if base is not None and base.distributions is not None and service_facts.distributions is not None:
                new_dists = tuple(sorted(((n, b) for n, b in service_facts.distributions.items()
                                          if n not in base.distributions), key=lambda i: (-i[1], i[0])))
        checks = _budget_checks(result, service_facts, budgets, new, counted="new " if baseline else "",
                                rules_run=rules_run)
        if baseline is not None:
            assert growth is not None
            checks += _baseline_checks(result, service_facts, budgets, base=base, growth=growth, new=new,
                                        new_dists=new_dists)
        else:
            for key in ("max-growth", "max-growth-percent", "max-new-distributions"):
                if key in budgets.sizes or key in budgets.percents or key in budgets.counts:
                    checks.append(Check(key, result.name, Status.NOT_CHECKED, f"{key}: not checked: needs --baseline",
                                        Unit.BYTES if key == "max-growth" else
                                        Unit.PERCENT if key == "max-growth-percent" else Unit.COUNT,
                                        reason="needs --baseline"))
        checks = _apply_waivers(checks, config.waivers, today, used)
        verdicts.append(ServiceVerdict(
            name=result.name, image=result.image, mode=result.mode, error=None, facts=service_facts,
            checks=tuple(checks), findings=refs, known_findings=known, growth=growth, new_distributions=new_dists,
        ))
    fleet = None
    if config.fleet is not None:
        fleet = _fleet(report, config.fleet)
        fleet = replace(fleet, checks=tuple(_apply_waivers(fleet.checks, config.waivers, today, used)))
    notes = []
    for waiver in config.waivers:
        if waiver.index in used:
            continue
        if waiver.expired(today):
            notes.append(f"{waiver.describe()} expired on {waiver.expires.isoformat()} and matches nothing: "
                         "remove it")
        else:
            notes.append(f"{waiver.describe()} matches nothing this run")
    return GuardVerdict(
        root=report.root,
        services=tuple(verdicts),
        today=today,
        baseline=baseline.path if baseline else None,
        baseline_schema=baseline.schema if baseline else None,
        config_source=config.source,
        allow_unchecked=allow_unchecked,
        notes=tuple(notes),
        warnings=tuple(report.warnings),
        fleet=fleet,
    )

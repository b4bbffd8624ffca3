"""Figures the audit reports show, computed once on the model: every format reads these."""

from __future__ import annotations

import pytest

from deadweight.model.audit import (
    AuditReport,
    AuditTotals,
    ServiceResult,
    SkippedGroup,
    SkippedRule,
    finding_order,
    ordered_findings,
)
from deadweight.model.cost import CostModel
from deadweight.model.finding import Finding, Severity, deduplicated_savings

GB = 1_000_000_000


def _finding(
    rule: str, service: str, saves: int, claims: dict[str, int] | None = None, *, estimated: bool = False,
    fix: str = "",
) -> Finding:
    return Finding(rule=rule, title=f"{rule} title", service=service, severity=Severity.MEDIUM,
                   savings_bytes=saves, estimated=estimated, fix=fix, claims=claims or {})


def _service(name: str, size: int | None, *findings: Finding, error: str | None = None) -> ServiceResult:
    return ServiceResult(name, f"img/{name}", "image" if size is not None else "static", size,
                         deduplicated_savings(findings), findings=findings, error=error)


def _report(*services: ServiceResult, cost: CostModel | None = None) -> AuditReport:
    return AuditReport(
        root="/p",
        services=services,
        totals=AuditTotals(
            size_bytes=sum(s.size_bytes or 0 for s in services),
            dead_weight_bytes=sum(s.dead_weight_bytes for s in services),
            unique_layer_bytes=0,
        ),
        cost=cost or CostModel(),
    )


def test_rule_savings_count_shared_claims_once_per_service_not_across_services() -> None:
    shared = {"file:/root/.cache/pip": 100}
    report = _report(
        # in "a" two DW302 findings claim the same 100 bytes: the rule saves 100 + 30 there, not 230
        _service("a", 1_000, _finding("DW302", "a", 100, shared), _finding("DW302", "a", 130, {**shared, "x": 30})),
        # in "b" the same key is another image's bytes: counted again
        _service("b", 1_000, _finding("DW302", "b", 100, shared), _finding("DW201", "b", 400)),
    )
    rows = {r.rule: r for r in report.rule_savings}
    assert rows["DW302"].savings_bytes == 130 + 100
    assert (rows["DW302"].findings, rows["DW302"].services) == (3, 2)
    assert rows["DW201"].savings_bytes == 400
    assert [r.rule for r in report.rule_savings] == ["DW201", "DW302"]  # biggest first
    assert not report.rule_savings_overlap


def test_rule_savings_overlap_when_two_rules_claim_the_same_bytes() -> None:
    claim = {"shadow:1:/root/.cache/pip": 95}
    service = _service("api", 1_000, _finding("DW303", "api", 95, claim), _finding("DW302", "api", 180, claim))
    report = _report(service)
    assert report.totals.dead_weight_bytes == 180  # the shadowed 95 bytes once
    assert sum(r.savings_bytes for r in report.rule_savings) == 275
    assert report.rule_savings_overlap


def test_rule_savings_ties_sort_by_rule_and_estimated_only_when_all_are() -> None:
    report = _report(
        _service("a", 1_000, _finding("DW304", "a", 50, estimated=True), _finding("DW102", "a", 50)),
        _service("b", 1_000, _finding("DW304", "b", 0, estimated=True), _finding("DW102", "b", 0, estimated=True)),
    )
    assert [(r.rule, r.estimated) for r in report.rule_savings] == [("DW102", False), ("DW304", True)]


def test_fleet_after_bytes_and_reduction_use_measured_services_only() -> None:
    report = _report(
        _service("a", 5 * GB, _finding("DW101", "a", 4 * GB)),
        _service("b", 100, _finding("DW201", "b", 300)),  # saves more than its size: after is 0, not negative
        _service("ml", None, _finding("DW102", "ml", 60)),
        _service("bad", None, error="unreachable"),
    )
    assert report.after_bytes == 1 * GB
    assert report.reduction_bytes == 4 * GB + 100
    assert report.unmeasured_dead_weight_bytes == 60
    assert [s.name for s in report.measured_services] == ["a", "b"]
    assert [s.name for s in report.failed_services] == ["bad"]
    assert report.finding_count == 3


def test_fleet_cost_before_after_and_dead_weight_cost() -> None:
    model = CostModel(storage_per_gb_month=0.10, transfer_per_gb=0.09, pulls_per_month=100)
    report = _report(
        _service("a", 5 * GB, _finding("DW101", "a", 4 * GB)),
        _service("ml", None, _finding("DW102", "ml", 1 * GB)),
        cost=model,
    )
    fleet = report.fleet_cost
    assert fleet.before.storage == pytest.approx(0.50)
    assert fleet.after.storage == pytest.approx(0.10)
    assert fleet.before.transfer == pytest.approx(45.0)
    assert fleet.after.transfer == pytest.approx(9.0)
    assert fleet.saved_storage == pytest.approx(0.40)
    assert fleet.saved_transfer == pytest.approx(36.0)
    assert fleet.saved_total == pytest.approx(36.40)
    # the unmeasured service's dead weight is priced too, so this is 5 GB, not 4
    assert report.dead_weight_cost.total == pytest.approx(5 * 9.10)


def test_service_cost_per_service() -> None:
    a = _service("a", 2 * GB, _finding("DW101", "a", 1 * GB))
    report = _report(a, _service("ml", None), cost=CostModel(storage_per_gb_month=1.0, transfer_per_gb=0.0))
    cost = report.service_cost(a)
    assert cost is not None
    assert (cost.before.total, cost.after.total, cost.saved_total) == pytest.approx((2.0, 1.0, 1.0))
    assert report.service_cost(report.services[1]) is None


def test_ranked_services_heaviest_first_failed_last() -> None:
    report = _report(
        _service("zz", 10, _finding("DW201", "zz", 5)),
        _service("bad", None, error="boom"),
        _service("aa", 10, _finding("DW201", "aa", 5)),
        _service("big", 100, _finding("DW201", "big", 50)),
    )
    assert [s.name for s in report.ranked_services] == ["big", "aa", "zz", "bad"]


def test_finding_order_is_total_and_ranked_findings_span_the_fleet() -> None:
    x = _finding("DW201", "b", 10, fix="remove x")
    y = _finding("DW201", "a", 10, fix="remove a")  # same key but the fix breaks the tie
    z = _finding("DW101", "a", 90)
    assert ordered_findings([x, y, z]) == [z, y, x]
    assert finding_order(y) < finding_order(x)
    report = _report(_service("b", 100, x), _service("a", 100, y, z))
    assert [(r.service, r.finding) for r in report.ranked_findings] == [("a", z), ("a", y), ("b", x)]


def test_all_estimated_needs_findings() -> None:
    assert not _service("empty", 10).all_estimated
    assert _service("s", None, _finding("DW102", "s", 1, estimated=True)).all_estimated
    assert not _service("m", 10, _finding("DW102", "m", 1, estimated=True), _finding("DW201", "m", 1)).all_estimated


def test_skipped_rules_group_by_reason_and_services() -> None:
    run = "needs --run"
    def skipping(name: str, *rules: tuple[str, str]) -> ServiceResult:
        return ServiceResult(name, None, "static", None, 0, skipped=tuple(SkippedRule(r, why) for r, why in rules))

    report = _report(
        skipping("worker", ("DW702", run), ("DW701", run)),
        skipping("api", ("DW701", run), ("DW702", run), ("DW701", run)),  # a repeated skip counts once
        skipping("ml", ("DW303", "needs an image"), ("DW701", run)),
    )
    assert report.skipped_groups == (
        SkippedGroup("needs --run", ("DW701",), ("api", "ml", "worker")),
        SkippedGroup("needs --run", ("DW702",), ("api", "worker")),
        SkippedGroup("needs an image", ("DW303",), ("ml",)),
    )
    assert _report(_service("a", 10)).skipped_groups == ()


def test_finding_shares_hold_each_byte_once_biggest_finding_first() -> None:
    cache = {"file:/root/.cache/pip": 100}
    big = _finding("DW302", "a", 300, {**cache, "file:/x": 200})
    shadowed = _finding("DW303", "a", 100, cache)  # all of it already counted by the bigger DW302
    partly = _finding("DW301", "a", 150, {**cache, "file:/gcc": 50})  # 100 counted, 50 its own
    plain = _finding("DW501", "a", 40)  # no claims: counts in full
    svc = _service("a", 1_000, shadowed, plain, partly, big)
    shares = svc.finding_shares
    assert [(f.rule, share) for f, share in shares] == [("DW302", 300), ("DW301", 50), ("DW303", 0), ("DW501", 40)]
    assert [f for f, _ in shares] == svc.ordered_findings
    assert sum(share for _, share in shares) == svc.dead_weight_bytes == 390

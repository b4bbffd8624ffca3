"""The results report's derived figures: sums over the compared services only, unknown stays unknown, and the
audit finding behind each edit."""

from __future__ import annotations

from dataclasses import replace

from deadweight.model.results import (
    finding_of,
    fleet_cost,
    fleet_totals,
    kept_edits,
    service_cost,
    unproven,
    verified,
)
from tests.unit.reports.results_sample import PIP_CACHE, RECOMMENDS, TORCH, sample_verify_report


def test_totals_sum_the_compared_services() -> None:
    report = sample_verify_report()
    totals = fleet_totals(report)
    assert (totals.before_bytes, totals.after_bytes) == (6_860_000_000, 2_325_000_000)
    assert totals.measured_savings_bytes == 4_535_000_000
    assert round(totals.saved_fraction, 4) == 0.6611
    assert totals.unique_saved_bytes == 6_619_000_000 - 2_084_000_000
    assert totals.cold_build_seconds == 135.0 and totals.verify_seconds == 10.5
    assert kept_edits(report) == 3


def test_a_service_not_built_is_left_out_and_unknowns_stay_unknown() -> None:
    report = sample_verify_report()
    worker, api = report.services
    assert api.after_build is not None and api.comparison is not None
    unmeasured = replace(
        api,
        after_build=replace(api.after_build, warm_seconds=None),
        comparison=replace(api.comparison, before=replace(api.comparison.before, compressed_bytes=None)),
    )
    report = replace(
        report,
        services=(replace(worker, comparison=None, error="build failed"), unmeasured),
        unique_before_bytes=0,
        unique_after_bytes=0,
    )
    totals = fleet_totals(report)
    assert (totals.compared, totals.services) == (1, 2)
    assert totals.before_bytes == 5_610_000_000
    assert totals.unique_before_bytes == 5_610_000_000  # not reported: the plain sum, never 0
    assert totals.compressed_before_bytes is None and totals.warm_build_seconds is None
    assert fleet_cost(report) is None and service_cost(report, unmeasured) is None


def test_cost_uses_compressed_sizes() -> None:
    report = sample_verify_report()
    cost = service_cost(report, report.services[1])
    assert cost is not None
    assert round(cost.before.storage, 4) == 0.336 and round(cost.after.transfer, 4) == 3.78


def test_finding_of_matches_service_rule_package_and_path() -> None:
    report = sample_verify_report()
    torch = finding_of(report, TORCH)
    assert torch is not None and torch.package == "torch" and torch.service == "api"
    cache = finding_of(report, PIP_CACHE)
    assert cache is not None and cache.rule == "DW302"
    assert finding_of(report, RECOMMENDS) is not None
    assert finding_of(report, replace(TORCH, service="worker")) is None


def test_kept_edits_with_no_check_that_ran_are_not_verified() -> None:
    report = sample_verify_report()
    worker, api = report.services
    assert verified(report) and unproven(report) == ()
    only_skipped = replace(api, checks=tuple(c for c in api.checks if c.status == "skip"))
    report = replace(report, services=(worker, only_skipped))
    assert report.passed  # nothing failed ...
    assert unproven(report) == ("api",) and not verified(report)  # ... but nothing proved api's edits
    nothing_to_prove = replace(only_skipped, edits=())
    assert verified(replace(report, services=(worker, nothing_to_prove)))

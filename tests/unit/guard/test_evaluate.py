from __future__ import annotations

import datetime as dt

from deadweight.guard.model import Check, GuardVerdict, Status
from tests.unit.guard.sample import (
    GB,
    MB,
    api,
    api_facts,
    baseline_of,
    batch,
    etl,
    etl_facts,
    finding,
    report,
    run,
)


def checks(verdict: GuardVerdict, service: str = "api") -> dict[str, Check]:
    (svc,) = [s for s in verdict.services if s.name == service]
    return {c.budget if c.budget != "new-finding" else f"new-finding:{c.rule}": c for c in svc.checks}


def statuses(verdict: GuardVerdict, service: str = "api") -> dict[str, Status]:
    return {k: c.status for k, c in checks(verdict, service).items()}


def test_size_budgets_compare_the_measured_figures() -> None:
    verdict = run('max-size = "3GB"\nmax-largest-layer = "2GB"\nmax-layers = 9\nmax-dead-weight = "2.2GB"\n'
                  "max-dead-weight-percent = 70\nmax-compressed-size = '1GB'")
    got = checks(verdict)
    assert got["max-size"].status is Status.PASS and got["max-size"].actual == 3 * GB  # at the limit is within
    assert got["max-largest-layer"].status is Status.FAIL and got["max-largest-layer"].actual == 2500 * MB
    assert got["max-layers"].status is Status.PASS
    dead = 2 * GB + 150 * MB
    assert got["max-dead-weight"].status is Status.PASS and got["max-dead-weight"].actual == dead
    assert got["max-dead-weight-percent"].actual == 100 * dead / (3 * GB)
    assert got["max-dead-weight-percent"].status is Status.FAIL
    assert got["max-compressed-size"].status is Status.NOT_CHECKED  # a docker archive has no compressed sizes
    assert "compressed" in (got["max-compressed-size"].reason or "")
    assert "largest layer 2.50 GB over budget (2.00 GB)" in got["max-largest-layer"].message
    assert verdict.status is Status.FAIL  # over budget wins over "not checked"


def test_static_mode_estimates_and_says_what_it_cannot_check() -> None:
    verdict = run('max-size = "300MB"\nmax-layers = 3\n[classes]\ngpu = 0\n[distributions]\npandas = "100MB"')
    got = checks(verdict, "etl")
    assert got["max-size"].status is Status.FAIL and got["max-size"].estimated
    assert "(estimated)" in got["max-size"].message
    assert got["max-layers"].status is Status.NOT_CHECKED and "static audit" in (got["max-layers"].reason or "")
    assert got["classes.gpu"].status is Status.NOT_CHECKED and "breakdown" in (got["classes.gpu"].reason or "")
    assert got["distributions.pandas"].status is Status.PASS and got["distributions.pandas"].actual == 70 * MB
    # the measured service has a breakdown: gpu = 0 fails there
    assert checks(verdict)["classes.gpu"].status is Status.FAIL
    assert checks(verdict)["classes.gpu"].actual == 2 * GB


def test_not_checked_is_exit_3_unless_allowed() -> None:
    text = "max-layers = 30"
    assert run(text).status is Status.NOT_CHECKED  # etl is static: no layers
    assert run(text, allow_unchecked=True).status is Status.PASS
    # a service that could not be audited is never allowed away
    rep = report(api(), batch())
    verdict = run(text, rep, {"api": api_facts()}, allow_unchecked=True)
    assert verdict.status is Status.NOT_CHECKED
    assert [s.error for s in verdict.services if s.name == "batch"] == ["Dockerfile: cannot parse line 3"]


def test_rule_budgets_count_findings_or_bytes_with_a_unit() -> None:
    verdict = run('[rules]\nDW101 = 0\nDW501 = 1\nDW302 = "100MB"\nDW303 = 0\nDW701 = 0')
    got = checks(verdict)
    assert (got["rules.DW101"].status, got["rules.DW101"].actual) == (Status.FAIL, 1)
    assert "torch 2.00 GB" in got["rules.DW101"].message
    assert got["rules.DW501"].status is Status.PASS
    assert (got["rules.DW302"].status, got["rules.DW302"].actual) == (Status.FAIL, 150 * MB)
    assert got["rules.DW303"].status is Status.PASS and got["rules.DW303"].actual == 0
    assert got["rules.DW701"].status is Status.NOT_CHECKED and "--run" in (got["rules.DW701"].reason or "")


def test_distribution_globs_sum_what_they_match() -> None:
    verdict = run('[distributions]\n"nvidia-*" = "1GB"\ntorch = "1GB"\n"tensorflow*" = 0')
    got = checks(verdict)
    nvidia = got["distributions.nvidia-*"]
    assert (nvidia.status, nvidia.actual) == (Status.FAIL, 1200 * MB)
    assert "nvidia-cublas-cu12 700 MB, nvidia-cudnn-cu12 500 MB" in nvidia.message
    assert got["distributions.torch"].status is Status.PASS
    assert got["distributions.tensorflow*"].actual == 0


def test_service_overrides_apply_to_that_service_only() -> None:
    verdict = run('max-size = "1GB"\n[services.api]\nmax-size = "4GB"')
    assert statuses(verdict)["max-size"] is Status.PASS
    assert statuses(verdict, "etl")["max-size"] is Status.PASS  # 400 MB < 1 GB
    assert checks(verdict)["max-size"].limit == 4 * GB


BASE_API = {
    "name": "api", "mode": "image", "size_bytes": 2 * GB,
    "findings": [{"rule": "DW501", "package": "fastapi", "path": None, "savings_bytes": 0},
                 # the same cache, smaller then: matched by rule + service + path, not by savings
                 {"rule": "DW302", "package": None, "path": "/root/.cache/pip", "savings_bytes": 10 * MB}],
}


def test_the_ratchet_fails_new_findings_only() -> None:
    verdict = run("", baseline=baseline_of(BASE_API, {"name": "etl", "mode": "static", "size_bytes": 400 * MB}))
    (svc,) = [s for s in verdict.services if s.name == "api"]
    assert [(r.rule, r.subject) for r in svc.known_findings] == [("DW302", "/root/.cache/pip"), ("DW501", "fastapi")]
    new = [c for c in svc.checks if c.budget == "new-finding"]
    assert [(c.rule, c.package, c.status, c.actual) for c in new] == [("DW101", "torch", Status.FAIL, 2 * GB)]
    assert new[0].message == "new finding DW101 title of DW101 (torch): 2.00 GB"
    assert verdict.status is Status.FAIL
    # growth is reported though no growth budget is set; a plain audit baseline lists no distributions
    assert svc.growth is not None and svc.growth.bytes == 1 * GB and svc.growth.percent == 50.0
    assert svc.new_distributions is None


def test_a_finding_on_another_package_or_service_is_new() -> None:
    other = dict(BASE_API, findings=[{"rule": "DW101", "package": "tensorflow", "path": None},
                                     {"rule": "DW302", "package": None, "path": "/root/.cache/uv"}])
    verdict = run("", baseline=baseline_of(other, {"name": "etl", "findings": [{"rule": "DW101", "package": "torch"}]}))
    news = sorted(c.rule or "" for c in verdict.checks if c.budget == "new-finding")
    assert news == ["DW101", "DW302", "DW501"]


def test_fail_on_new_sets_the_severity_floor() -> None:
    verdict = run('fail-on-new = "high"', baseline=baseline_of({"name": "api", "size_bytes": 3 * GB}))
    got = {c.rule: c.status for c in verdict.checks if c.budget == "new-finding"}
    assert got == {"DW101": Status.FAIL, "DW302": Status.PASS, "DW501": Status.PASS}
    verdict = run('fail-on-new = "none"', baseline=baseline_of({"name": "api", "size_bytes": 3 * GB}))
    assert verdict.count(Status.FAIL) == 0


def test_rule_budgets_with_a_baseline_count_new_findings_only() -> None:
    verdict = run("[rules]\nDW302 = 0\nDW101 = 0", baseline=baseline_of(BASE_API))
    got = checks(verdict)
    assert got["rules.DW302"].status is Status.PASS and got["rules.DW302"].actual == 0
    assert got["rules.DW101"].status is Status.FAIL


def test_growth_budgets() -> None:
    base = baseline_of(BASE_API, {"name": "etl", "mode": "static", "size_bytes": 390 * MB})
    verdict = run('max-growth = "500MB"\nmax-growth-percent = 5', baseline=base)
    got = checks(verdict)
    assert (got["max-growth"].status, got["max-growth"].actual) == (Status.FAIL, 1 * GB)
    assert "2.00 GB -> 3.00 GB" in got["max-growth"].message
    assert (got["max-growth-percent"].status, got["max-growth-percent"].actual) == (Status.FAIL, 50.0)
    etl_checks = checks(verdict, "etl")
    assert etl_checks["max-growth"].status is Status.PASS and etl_checks["max-growth"].estimated
    assert etl_checks["max-growth-percent"].actual is not None and etl_checks["max-growth-percent"].actual < 5


def test_growth_that_cannot_be_compared_is_not_checked() -> None:
    base = baseline_of(dict(BASE_API, mode="static"))  # estimated then, measured now; etl missing
    verdict = run('max-growth = "5GB"', baseline=base)
    assert "do not compare" in (checks(verdict)["max-growth"].reason or "")
    assert checks(verdict)["max-growth"].status is Status.NOT_CHECKED
    assert checks(verdict, "etl")["max-growth"].reason == "the service is not in the baseline"
    # without a baseline, growth budgets need one
    assert checks(run('max-growth = "5GB"'))["max-growth"].reason == "needs --baseline"


def test_new_distributions_from_a_guard_baseline() -> None:
    base = baseline_of({"name": "api", "mode": "image", "facts": {"size_bytes": 2 * GB,
                        "distributions": {"fastapi": 1 * MB, "torch": 700 * MB}}, "findings": []},
                       schema="deadweight-guard/1")
    verdict = run("max-new-distributions = 1", baseline=base)
    (svc,) = [s for s in verdict.services if s.name == "api"]
    assert svc.new_distributions == (("nvidia-cublas-cu12", 700 * MB), ("nvidia-cudnn-cu12", 500 * MB))
    assert svc.growth is not None and svc.growth.bytes == 1 * GB
    assert checks(verdict)["max-new-distributions"].status is Status.FAIL
    # an audit baseline cannot tell: not checked, with the reason
    verdict = run("max-new-distributions = 1", baseline=baseline_of(BASE_API))
    assert "lists no distributions" in (checks(verdict)["max-new-distributions"].reason or "")


WAIVE = """
[rules]
DW101 = 0
[[waivers]]
rule = "DW101"
package = "torch"
owner = "ml-team"
reason = "GPU nodes next quarter"
expires = 2026-06-30
"""


def test_an_unexpired_waiver_passes_and_is_listed() -> None:
    verdict = run(WAIVE)
    check = checks(verdict)["rules.DW101"]
    assert check.status is Status.WAIVED and check.waiver is not None and not check.waiver.expired
    assert "waived until 2026-06-30" in check.message and "ml-team" in check.message
    assert verdict.status is Status.PASS
    # the expiry day itself still holds
    assert run(WAIVE, today=dt.date(2026, 6, 30)).status is Status.PASS


def test_an_expired_waiver_fails_with_a_line_saying_so() -> None:
    verdict = run(WAIVE, today=dt.date(2026, 7, 1))
    check = checks(verdict)["rules.DW101"]
    assert check.status is Status.FAIL and check.waiver is not None and check.waiver.expired
    assert "expired on 2026-06-30" in check.message
    assert verdict.status is Status.FAIL


def test_a_waiver_matches_only_what_all_its_selectors_match() -> None:
    text = WAIVE.replace('package = "torch"', 'package = "tensorflow"')
    assert checks(run(text))["rules.DW101"].status is Status.FAIL
    text = WAIVE.replace('package = "torch"', 'service = "etl"')
    assert checks(run(text))["rules.DW101"].status is Status.FAIL
    text = WAIVE.replace('package = "torch"', 'budget = "rules"')
    assert checks(run(text))["rules.DW101"].status is Status.WAIVED  # a budget key prefix
    glob = '[distributions]\n"nvidia-*" = 0\n[[waivers]]\npackage = "nvidia-*"\nowner = "o"\nreason = "r"\n' \
           "expires = 2027-01-01"
    assert checks(run(glob))["distributions.nvidia-*"].status is Status.WAIVED


def test_waivers_that_match_nothing_are_notes() -> None:
    text = WAIVE.replace("DW101 = 0", "DW101 = 5") + (
        '[[waivers]]\nrule = "DW3"\nowner = "o"\nreason = "old"\nexpires = 2020-01-01\n')
    verdict = run(text)
    assert verdict.status is Status.PASS
    assert len(verdict.notes) == 2
    assert "matches nothing this run" in verdict.notes[0]
    assert "expired on 2020-01-01 and matches nothing: remove it" in verdict.notes[1]


def test_waivers_apply_to_new_findings() -> None:
    text = ('[[waivers]]\nrule = "DW101"\nowner = "o"\nreason = "r"\nexpires = 2026-12-31\n'
            '[[waivers]]\nrule = "DW302"\nservice = "api"\nowner = "o"\nreason = "r"\nexpires = 2026-12-31\n'
            '[[waivers]]\nrule = "DW501"\nowner = "o"\nreason = "r"\nexpires = 2026-12-31\n')
    verdict = run(text, baseline=baseline_of({"name": "api", "size_bytes": 3 * GB}))
    assert {c.rule: c.status for c in verdict.checks if c.budget == "new-finding"} == {
        "DW101": Status.WAIVED, "DW302": Status.WAIVED, "DW501": Status.WAIVED}
    assert verdict.status is Status.PASS


def test_no_budgets_no_baseline_passes_with_nothing_checked() -> None:
    rep = report(api(findings=(finding("DW101", "api", 5, package="torch"),)), etl())
    verdict = run("", rep, {"api": api_facts(rep.services[0]), "etl": etl_facts()})
    assert verdict.checks == () and verdict.status is Status.PASS


def test_a_rule_that_did_not_run_is_not_checked_never_zero() -> None:
    from deadweight.guard.evaluate import evaluate
    from tests.unit.guard.sample import guard

    rep = report()
    facts = {"api": api_facts(), "etl": etl_facts()}
    verdict = evaluate(rep, facts, guard("[rules]\nDW801 = 0\nDW101 = 5"), today=dt.date(2026, 1, 1),
                       rules_run=frozenset({"DW101", "DW302"}))
    got = checks(verdict)
    assert got["rules.DW801"].status is Status.NOT_CHECKED and "did not run" in (got["rules.DW801"].reason or "")
    assert got["rules.DW101"].status is Status.PASS


def test_a_baseline_that_could_not_audit_the_service_cannot_ratchet() -> None:
    verdict = run("", baseline=baseline_of({"name": "api", "error": "image not found", "findings": []}))
    got = [c for c in verdict.checks if c.service == "api" and c.budget == "new-finding"]
    assert [(c.status, c.rule) for c in got] == [(Status.NOT_CHECKED, None)]
    assert "image not found" in (got[0].reason or "")
    assert verdict.status is Status.NOT_CHECKED

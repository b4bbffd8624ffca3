"""Every guard format over one verdict that has each status: failed, waived, expired waiver, not checked,
passed, a service that could not be audited, and a baseline."""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from typing import Any

import jsonschema
import pytest

from deadweight.guard.baseline import parse_baseline
from deadweight.guard.model import GuardVerdict, Status
from deadweight.reports import guard_json, guard_junit, guard_markdown, guard_sarif, guard_text
from tests.unit.guard.sample import GB, MB, api, api_facts, baseline_of, batch, etl, etl_facts, report, run
from tests.unit.reports.test_sarif import SARIF_SUBSET

CONFIG = """
max-size = "2.5GB"
max-layers = 20
[rules]
DW302 = 0
[distributions]
"nvidia-*" = "1GB"
[[waivers]]
rule = "DW302"
owner = "platform"
reason = "cache cleanup | next sprint"
expires = 2026-05-01
[[waivers]]
budget = "distributions"
package = "nvidia-*"
owner = "ml-team"
reason = "GPU pilot until Q3"
expires = 2026-09-30
"""


@pytest.fixture
def verdict() -> GuardVerdict:
    base = baseline_of({"name": "api", "mode": "image", "size_bytes": 2 * GB,
                        "findings": [{"rule": "DW501", "package": "fastapi", "path": None}]},
                       {"name": "etl", "mode": "static", "size_bytes": 400 * MB})
    return run(CONFIG, report(api(), etl(), batch()), {"api": api_facts(), "etl": etl_facts()}, baseline=base,
               today=dt.date(2026, 6, 1))


def test_the_sample_has_every_status(verdict: GuardVerdict) -> None:
    got = {(c.service, c.budget, c.rule): c.status for c in verdict.checks}
    assert got[("api", "max-size", None)] is Status.FAIL
    assert got[("api", "rules.DW302", "DW302")] is Status.FAIL  # its waiver expired on 2026-05-01
    assert got[("api", "distributions.nvidia-*", None)] is Status.WAIVED
    assert got[("api", "new-finding", "DW101")] is Status.FAIL
    assert got[("etl", "max-layers", None)] is Status.NOT_CHECKED
    assert got[("api", "max-layers", None)] is Status.PASS
    assert verdict.status is Status.FAIL


def test_json_validates_and_carries_the_figures(verdict: GuardVerdict) -> None:
    doc = json.loads(guard_json.render(verdict))
    jsonschema.validate(doc, guard_json.load_schema(), cls=jsonschema.Draft202012Validator,
                        format_checker=jsonschema.FormatChecker())
    assert doc["schema"] == "deadweight-guard/1" and doc["status"] == "fail"
    assert doc["summary"] == {"services": 3, "errors": 1, "checks": len(verdict.checks), "pass": 4, "fail": 4,
                              "waived": 1, "not_checked": 1}
    services = {s["name"]: s for s in doc["services"]}
    assert services["batch"]["status"] == "not_checked" and services["batch"]["facts"] is None
    api_doc = services["api"]
    assert api_doc["growth"]["bytes"] == 1 * GB and api_doc["growth"]["percent"] == 50.0
    assert {(f["rule"], f["in_baseline"]) for f in api_doc["findings"]} == {
        ("DW101", False), ("DW302", False), ("DW501", True)}
    (expired,) = [c for c in api_doc["checks"] if c["budget"] == "rules.DW302"]
    assert expired["waiver"]["expired"] is True and expired["waiver"]["expires"] == "2026-05-01"
    assert api_doc["facts"]["distributions"]["torch"] == 800 * MB


def test_a_guard_report_is_a_baseline_with_distributions(verdict: GuardVerdict) -> None:
    base = parse_baseline(json.loads(guard_json.render(verdict)), "guard.json")
    assert base.schema == "deadweight-guard/1"
    assert base.services["api"].distributions == api_facts().distributions
    assert base.services["api"].size_bytes == 3 * GB
    assert ("DW101", "api", "torch", "") in base.services["api"].finding_keys
    # guarding the same fleet against its own report: nothing new, no growth
    again = run(CONFIG, report(api(), etl()), {"api": api_facts(), "etl": etl_facts()}, baseline=base)
    assert [c for c in again.checks if c.budget == "new-finding"] == []
    (svc,) = [s for s in again.services if s.name == "api"]
    assert svc.growth is not None and svc.growth.bytes == 0 and svc.new_distributions == ()


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(status="over"),
    lambda d: d["services"][0]["checks"][0].update(status="bad"),
    lambda d: d["summary"].pop("fail"),
    lambda d: d.update(extra=1),
])
def test_schema_rejects_broken_documents(verdict: GuardVerdict, mutate: Any) -> None:
    doc = json.loads(guard_json.render(verdict))
    mutate(doc)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(doc, guard_json.load_schema(), cls=jsonschema.Draft202012Validator)


def test_sarif_has_one_result_per_violated_budget(verdict: GuardVerdict) -> None:
    log = json.loads(guard_sarif.render(verdict))
    jsonschema.validate(log, SARIF_SUBSET)
    (run_,) = log["runs"]
    results = run_["results"]
    failing = [c for c in verdict.checks if c.status is Status.FAIL]
    assert len(results) == len(failing) == 4
    rules = run_["tool"]["driver"]["rules"]
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] == "error"
    by_rule = {(r["ruleId"], r["properties"]["rule"]): r for r in results}
    new = by_rule[("guard/new-finding", "DW101")]
    assert new["properties"]["savings_bytes"] == 2 * GB and new["properties"]["rule"] == "DW101"
    assert new["locations"][0]["logicalLocations"][0]["fullyQualifiedName"] == "api:torch"
    assert by_rule[("guard/rules.DW302", "DW302")]["properties"]["waiver_expired"] is True
    notes = [n["message"]["text"] for n in run_["invocations"][0]["toolExecutionNotifications"]]
    assert any("batch: could not be audited" in n for n in notes)
    assert any("max-layers not checked" in n for n in notes)
    assert any("waived until 2026-09-30" in n for n in notes)
    assert run_["invocations"][0]["executionSuccessful"] is False
    fingerprints = [r["partialFingerprints"]["deadweightGuard/v1"] for r in results]
    assert len(set(fingerprints)) == len(fingerprints)


def test_junit_one_testcase_per_budget(verdict: GuardVerdict) -> None:
    root = ET.fromstring(guard_junit.render(verdict))
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert set(suites) == {"api", "etl", "batch"}
    api_cases = {c.get("name"): c for c in suites["api"].findall("testcase")}
    assert api_cases["max-size"].find("failure") is not None
    assert api_cases["new-finding DW101 torch"].find("failure").get("message", "").startswith("new finding DW101")  # type: ignore[union-attr]
    waived = api_cases["distributions.nvidia-*"]
    assert waived.find("failure") is None and "waived" in (waived.findtext("system-out") or "")
    assert api_cases["max-layers"].find("failure") is None and api_cases["max-layers"].find("skipped") is None
    skipped = suites["etl"].find("testcase[@name='max-layers']/skipped")
    assert skipped is not None and "static audit" in skipped.get("message", "")
    assert suites["batch"].find("testcase/error") is not None
    total = sum(len(s.findall("testcase")) for s in suites.values())
    assert root.get("tests") == str(total) == str(len(verdict.checks) + 1)
    assert root.get("failures") == "4" and root.get("skipped") == "1" and root.get("errors") == "1"
    assert suites["api"].get("failures") == "4"


def test_markdown_says_what_grew_and_why(verdict: GuardVerdict) -> None:
    text = guard_markdown.render(verdict)
    lines = text.splitlines()
    assert lines[0].startswith("### :x: deadweight guard: over budget (4 over budget, 1 waived")
    assert "| api | `new-finding` | new finding DW101 title of DW101 (torch): 2.00 GB |" in lines
    assert any(line.startswith("- **api**: growth: +1.00 GB (+50.0%), 2.00 GB -> 3.00 GB") for line in lines)
    assert "- **batch** could not be audited: Dockerfile: cannot parse line 3" in lines
    assert "cache cleanup \\| next sprint" in text  # a pipe in user text does not break the table
    assert "not checked: etl `max-layers`" in text
    assert len(lines) < 30


def test_text_lists_failures_first(verdict: GuardVerdict) -> None:
    text = guard_text.render(verdict)
    lines = text.splitlines()
    assert lines[0] == ("deadweight guard: over budget (4 over budget, 1 waived, 1 not checked, 4 within budget, "
                        "1 service not audited)")
    api_at = next(i for i, line in enumerate(lines) if line.startswith("api (docker:api:1)"))
    statuses = [line.split()[0] for line in lines[api_at + 1:api_at + 8]]
    assert statuses[:4] == ["FAIL"] * 4 and statuses[4] == "WAIVED"
    assert "  in the baseline (reported, not failing): DW501 fastapi" in lines
    assert "batch (static estimate): NOT AUDITED: Dockerfile: cannot parse line 3" in lines
    assert "etl (static estimate): 400 MB (estimated), dead weight 0 B (0.0%)" in lines

"""The optimize JSON contract: every document validates against the shipped schema, and the figures are the
model's (sizes measured on the images, sums over the compared services, cost on compressed sizes)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import jsonschema
import pytest

from deadweight.model.cost import CostModel
from deadweight.model.verification import CheckResult
from deadweight.reports import results_json
from tests.unit.reports.results_sample import api_verification, sample_verify_report


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = results_json.load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _doc(report: Any = None) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(results_json.render(report or sample_verify_report()))
    return doc


def _errors(validator: jsonschema.Draft202012Validator, doc: dict[str, Any]) -> list[str]:
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(doc)]


def test_sample_validates(validator: jsonschema.Draft202012Validator) -> None:
    assert _errors(validator, _doc()) == []


def test_summary_sums_the_measured_images() -> None:
    doc = _doc()
    assert doc["schema"] == "deadweight/1" and doc["command"] == "optimize"
    summary = doc["summary"]
    assert summary["before_bytes"] == 5_610_000_000 + 1_250_000_000
    assert summary["after_bytes"] == 1_120_000_000 + 1_205_000_000
    assert summary["saved_bytes"] == summary["before_bytes"] - summary["after_bytes"] == 4_535_000_000
    assert summary["unique_before_bytes"] == 6_619_000_000 and summary["unique_after_bytes"] == 2_084_000_000
    assert summary["compressed_before_bytes"] == 3_860_000_000 and summary["compressed_after_bytes"] == 900_000_000
    assert summary["cold_build_seconds"] == 135.0 and summary["warm_build_seconds"] == 2.5
    assert summary["verify_seconds"] == 10.5
    assert summary["edits"] == {"kept": 3, "dropped": 1, "not-built": 0}
    assert doc["passed"] is True and doc["written"] is False
    assert doc["files"] == ["Dockerfile", "requirements.txt", "worker/Dockerfile"]


def test_cost_is_on_compressed_sizes_under_the_audit_cost_model() -> None:
    cost = _doc()["cost"]
    # 3.86 GB stored at $0.10 and pulled 100 times at $0.09 per GB; after, 0.9 GB
    assert cost["basis"] == "compressed"
    assert math.isclose(cost["before"]["storage"], 0.386) and math.isclose(cost["before"]["transfer"], 34.74)
    assert math.isclose(cost["after"]["total"], 0.09 + 8.1)
    assert math.isclose(cost["saved_per_month"], 35.126 - 8.19)
    priced = _doc(sample_verify_report(CostModel(storage_per_gb_month=1.0, transfer_per_gb=0.0, pulls_per_month=1)))
    assert math.isclose(priced["cost"]["saved_per_month"], 3.86 - 0.9)
    assert priced["cost"]["storage_per_gb_month"] == 1.0


def test_services_sorted_with_edits_evidence_and_checks() -> None:
    doc = _doc()
    assert [s["name"] for s in doc["services"]] == ["api", "worker"]
    api, worker = doc["services"]
    assert api["saved_bytes"] == 4_490_000_000
    assert api["before"]["largest_layer_bytes"] == 5_369_000_000 and api["after"]["largest_layer_bytes"] == 879_000_000
    assert api["before_build"] == {
        "image": "deadweight-verify/api:before",
        "builder": "classic",
        "cold_seconds": 160.0,
        "warm_seconds": 2.0,
    }
    torch = api["edits"][0]
    assert torch["rule"] == "DW101" and torch["status"] == "kept"
    assert torch["measured_savings_bytes"] == 4_300_000_000 and torch["estimated_savings_bytes"] == 4_490_000_000
    assert [e["kind"] for e in torch["evidence"]] == ["record", "dockerfile", "deployment"]
    assert torch["files"] == ["Dockerfile", "requirements.txt"]
    assert api["checks"][0]["command"].endswith("python -m pip check")
    assert api["checks"][1]["data"] == {"modules": {"fastapi": None, "torch": None}}
    assert api["cost"]["before"]["storage"] == pytest.approx(0.336)
    dropped = worker["edits"][1]
    assert dropped["status"] == "dropped" and dropped["broke"] == ["imports"]
    assert "libpq.so.5" in dropped["reason"] and dropped["measured_savings_bytes"] is None
    assert worker["before_build"]["builder"] == "given" and worker["before_build"]["cold_seconds"] is None
    assert worker["bisect_builds"] == 3


def test_unknown_compressed_size_gives_no_cost_and_still_validates(
    validator: jsonschema.Draft202012Validator,
) -> None:
    report = sample_verify_report()
    api = api_verification()
    assert api.comparison is not None
    unknown = replace(
        api, comparison=replace(api.comparison, after=replace(api.comparison.after, compressed_bytes=None))
    )
    report = replace(report, services=(report.services[0], unknown))
    doc = _doc(report)
    assert doc["cost"] is None and doc["summary"]["compressed_after_bytes"] is None
    assert doc["services"][0]["cost"] is None and doc["services"][1]["cost"] is not None
    assert _errors(validator, doc) == []


def test_failed_service_and_odd_check_data_validate(validator: jsonschema.Draft202012Validator) -> None:
    report = sample_verify_report()
    broken = replace(
        report.services[0],
        comparison=None,
        after_build=None,
        checks=(
            CheckResult(
                "start",
                "starts and becomes healthy",
                "error",
                "engine went away",
                "",
                data={"peak": float("nan"), "when": {1, 2}, "obj": object},
            ),
        ),
        error="docker build failed: exit 1",
    )
    report = replace(report, services=(broken, report.services[1]))
    doc = _doc(report)
    assert doc["passed"] is False
    worker = doc["services"][1]
    assert worker["error"] == "docker build failed: exit 1" and worker["before"] is None
    assert worker["checks"][0]["data"]["peak"] is None and worker["checks"][0]["data"]["when"] == [1, 2]
    # the sums leave out what was not compared
    assert doc["summary"]["compared"] == 1 and doc["summary"]["before_bytes"] == 5_610_000_000
    assert _errors(validator, doc) == []


def test_schema_rejects_a_check_that_says_ok(validator: jsonschema.Draft202012Validator) -> None:
    doc = _doc()
    doc["services"][0]["checks"][0]["status"] = "ok"
    assert _errors(validator, doc)

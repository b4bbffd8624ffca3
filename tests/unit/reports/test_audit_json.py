"""The JSON audit contract: field names from design.md, sorting, nulls, and validity against the schema."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from typing import Any

import jsonschema
import pytest

from deadweight.model.audit import AuditReport, AuditTotals
from deadweight.model.cost import CostModel
from deadweight.reports import audit_json
from tests.unit.reports.audit_sample import sample_report


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(audit_json.render(sample_report()))


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = audit_json.load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _service(doc: dict[str, Any], name: str) -> dict[str, Any]:
    (service,) = [s for s in doc["services"] if s["name"] == name]
    return service


def test_document_validates_against_the_shipped_schema(
    doc: dict[str, Any], validator: jsonschema.Draft202012Validator
) -> None:
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    assert errors == []


def test_contract_fields_from_design(doc: dict[str, Any]) -> None:
    assert doc["schema"] == "deadweight/1"
    api = _service(doc, "api")
    assert {"name", "image", "size_bytes", "dead_weight_bytes", "findings"} <= api.keys()
    finding = api["findings"][0]
    assert {
        "rule", "title", "package", "path", "savings_bytes", "estimated", "confidence", "evidence", "fix",
    } <= finding.keys()
    assert set(finding["evidence"][0]) == {"kind", "detail", "location"}
    assert {"size_bytes", "dead_weight_bytes", "unique_layer_bytes"} <= doc["totals"].keys()


def test_services_sorted_by_name_and_findings_by_savings(doc: dict[str, Any]) -> None:
    assert [s["name"] for s in doc["services"]] == ["api", "batch", "ml", "web|admin", "worker"]
    api = _service(doc, "api")
    assert [f["rule"] for f in api["findings"]] == ["DW101", "DW302", "DW303", "DW201", "DW501"]
    savings = [f["savings_bytes"] for f in api["findings"]]
    assert savings == [4_490_000_000, 180_000_000, 95_000_000, 70_000_000, 0]
    assert [s["rule"] for s in api["skipped"]] == ["DW701", "DW702"]  # given as DW702, DW701
    kinds = [e["kind"] for e in api["findings"][0]["evidence"]]
    assert kinds == sorted(kinds) == ["deployment", "dockerfile", "record"]


def test_values_are_bytes_severity_and_nulls(doc: dict[str, Any]) -> None:
    api = _service(doc, "api")
    # 4.49 GB + 180 MB + 70 MB; the 95 MB of shadowed pip cache is already inside DW302's claims
    assert api["dead_weight_bytes"] == 4_740_000_000
    assert api["after_bytes"] == 5_610_000_000 - 4_740_000_000
    torch = api["findings"][0]
    assert torch["severity"] == "high" and torch["confidence"] == "high" and torch["estimated"] is False
    assert torch["package"] == "torch" and torch["path"] is None
    assert torch["help_uri"].endswith("/docs/rules/DW101.md")

    batch = _service(doc, "batch")
    assert batch["error"] == "registry:127.0.0.1:5000/batch:2: manifest unknown"
    assert batch["size_bytes"] is None and batch["after_bytes"] is None and batch["findings"] == []

    ml = _service(doc, "ml")
    assert ml["image"] is None and ml["mode"] == "static"
    assert ml["findings"][0]["estimated"] is True and ml["findings"][0]["confidence"] == "medium"

    worker = _service(doc, "worker")
    assert worker["findings"][0]["evidence"][0]["location"] is None
    assert worker["warnings"] == ["layer sha256:worker: 3 hard links outside the layer"]


def test_totals_and_cost(doc: dict[str, Any]) -> None:
    totals = doc["totals"]
    assert totals["size_bytes"] == 5_610_000_000 + 1_250_000_000 + 241_000_000
    assert totals["dead_weight_bytes"] == 4_740_000_000 + 255_000_000 + 60_000_000
    assert totals["unique_layer_bytes"] == 6_619_000_000
    # after = known sizes minus their dead weight; ml (unknown size) is not in either side
    assert totals["after_bytes"] == 870_000_000 + 995_000_000 + 241_000_000
    assert (totals["services"], totals["errors"], totals["findings"]) == (5, 1, 8)
    assert doc["max_severity"] == "high"
    cost = doc["cost"]
    prices = (cost["storage_per_gb_month"], cost["transfer_per_gb"], cost["pulls_per_month"])
    assert prices == (0.10, 0.09, 100)
    # 5.055 GB of dead weight: $0.5055 stored, 5.055 x 100 x $0.09 = $45.495 moved
    assert cost["monthly_savings"] == {"storage": 0.51, "transfer": 45.49, "total": 46.0}


def test_output_is_deterministic_whatever_the_input_order() -> None:
    report = sample_report()
    shuffled = replace(report, services=tuple(reversed(report.services)))
    shuffled = replace(
        shuffled,
        services=tuple(replace(s, findings=tuple(reversed(s.findings))) for s in shuffled.services),
    )
    assert audit_json.render(shuffled) == audit_json.render(report)


def test_empty_fleet_is_valid(validator: jsonschema.Draft202012Validator) -> None:
    report = AuditReport(root="/srv/empty", services=(), totals=AuditTotals(0, 0, 0), cost=CostModel())
    doc = json.loads(audit_json.render(report))
    assert list(validator.iter_errors(doc)) == []
    assert doc["max_severity"] is None and doc["services"] == []


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda d: d["services"][0].update(size_bytes=5_610_000_000.5), "sizes are integers"),
        (lambda d: d["services"][0]["findings"][0].update(rule="torch"), "rule ids look like DW101"),
        (lambda d: d["services"][0]["findings"][0].pop("savings_bytes"), "savings are required"),
        (lambda d: d.update(schema="deadweight/2"), "the version is pinned"),
        (lambda d: d["services"][0]["findings"][0]["evidence"][0].update(where="x"), "no undocumented keys"),
    ],
)
def test_schema_rejects_contract_breaks(
    doc: dict[str, Any], validator: jsonschema.Draft202012Validator, mutate: Any, why: str
) -> None:
    broken = copy.deepcopy(doc)
    mutate(broken)
    assert not validator.is_valid(broken), why

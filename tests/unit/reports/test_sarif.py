"""SARIF 2.1.0 output: structure (checked against the spec's required fields), rules, levels, locations."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import urlparse

import jsonschema
import pytest

from deadweight.model.audit import AuditReport, AuditTotals, ServiceResult
from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.reports import sarif
from deadweight.rules import RULES
from tests.unit.reports.audit_sample import sample_report

# A subset of the OASIS SARIF 2.1.0 schema (sarif-schema-2.1.0.json): the objects this renderer writes, with
# the spec's required properties, enums and minimums, and additionalProperties: false as the spec has it
# (custom data must go in "properties").
_MESSAGE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"text": {"type": "string"}, "markdown": {"type": "string"}, "id": {"type": "string"}},
    "anyOf": [{"required": ["text"]}, {"required": ["id"]}],
}
_MULTIFORMAT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["text"],
    "properties": {"text": {"type": "string"}, "markdown": {"type": "string"}},
}
_LEVEL = {"enum": ["none", "note", "warning", "error"]}
_PROPS = {"type": "object"}
SARIF_SUBSET: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "additionalProperties": False,
    "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "version": {"enum": ["2.1.0"]},
        "runs": {"type": "array", "items": {"$ref": "#/definitions/run"}},
    },
    "definitions": {
        "run": {
            "type": "object",
            "additionalProperties": False,
            "required": ["tool"],
            "properties": {
                "tool": {"$ref": "#/definitions/tool"},
                "invocations": {"type": "array", "items": {"$ref": "#/definitions/invocation"}},
                "results": {"type": "array", "items": {"$ref": "#/definitions/result"}},
                "originalUriBaseIds": {
                    "type": "object",
                    "additionalProperties": {"$ref": "#/definitions/artifactLocation"},
                },
                "columnKind": {"enum": ["utf16CodeUnits", "unicodeCodePoints"]},
                "properties": _PROPS,
            },
        },
        "tool": {
            "type": "object",
            "additionalProperties": False,
            "required": ["driver"],
            "properties": {"driver": {"$ref": "#/definitions/toolComponent"}},
        },
        "toolComponent": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name"],
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "semanticVersion": {"type": "string"},
                "informationUri": {"type": "string", "format": "uri"},
                "rules": {
                    "type": "array",
                    "uniqueItems": True,
                    "items": {"$ref": "#/definitions/descriptor"},
                },
            },
        },
        "descriptor": {
            "type": "object",
            "additionalProperties": False,
            "required": ["id"],
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "shortDescription": _MULTIFORMAT,
                "fullDescription": _MULTIFORMAT,
                "help": _MULTIFORMAT,
                "helpUri": {"type": "string", "format": "uri"},
                "defaultConfiguration": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "level": _LEVEL,
                        "enabled": {"type": "boolean"},
                        "rank": {"type": "number"},
                    },
                },
                "properties": _PROPS,
            },
        },
        "result": {
            "type": "object",
            "additionalProperties": False,
            "required": ["message"],
            "properties": {
                "ruleId": {"type": "string"},
                "ruleIndex": {"type": "integer", "minimum": -1},
                "level": _LEVEL,
                "message": _MESSAGE,
                "locations": {"type": "array", "items": {"$ref": "#/definitions/location"}},
                "relatedLocations": {"type": "array", "items": {"$ref": "#/definitions/location"}},
                "partialFingerprints": {"type": "object", "additionalProperties": {"type": "string"}},
                "properties": _PROPS,
            },
        },
        "location": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "id": {"type": "integer", "minimum": -1},
                "physicalLocation": {"$ref": "#/definitions/physicalLocation"},
                "logicalLocations": {"type": "array", "items": {"$ref": "#/definitions/logicalLocation"}},
                "message": _MESSAGE,
            },
        },
        "physicalLocation": {
            "type": "object",
            "additionalProperties": False,
            "anyOf": [{"required": ["address"]}, {"required": ["artifactLocation"]}],
            "properties": {
                "artifactLocation": {"$ref": "#/definitions/artifactLocation"},
                "region": {"$ref": "#/definitions/region"},
            },
        },
        "artifactLocation": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "uri": {"type": "string", "format": "uri-reference"},
                "uriBaseId": {"type": "string"},
            },
        },
        "region": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "startLine": {"type": "integer", "minimum": 1},
                "startColumn": {"type": "integer", "minimum": 1},
            },
        },
        "logicalLocation": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "fullyQualifiedName": {"type": "string"},
                "kind": {"type": "string"},
            },
        },
        "invocation": {
            "type": "object",
            "additionalProperties": False,
            "required": ["executionSuccessful"],
            "properties": {
                "executionSuccessful": {"type": "boolean"},
                "toolExecutionNotifications": {
                    "type": "array",
                    "items": {"$ref": "#/definitions/notification"},
                },
                "toolConfigurationNotifications": {
                    "type": "array",
                    "items": {"$ref": "#/definitions/notification"},
                },
            },
        },
        "notification": {
            "type": "object",
            "additionalProperties": False,
            "required": ["message"],
            "properties": {
                "message": _MESSAGE,
                "level": _LEVEL,
                "descriptor": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"id": {"type": "string"}, "index": {"type": "integer", "minimum": -1}},
                },
            },
        },
    },
}


@pytest.fixture(scope="module")
def log() -> dict[str, Any]:
    return json.loads(sarif.render(sample_report()))


def _results(log: dict[str, Any], rule: str, service: str) -> list[dict[str, Any]]:
    return [
        r for r in log["runs"][0]["results"] if r["ruleId"] == rule and r["properties"]["service"] == service
    ]


def test_log_is_valid_sarif_subset(log: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(SARIF_SUBSET)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(log)]
    assert errors == []
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-schema-2.1.0.json")


def test_driver_rules_come_from_the_catalog(log: dict[str, Any]) -> None:
    driver = log["runs"][0]["tool"]["driver"]
    assert driver["name"] == "deadweight"
    rules = {r["id"]: r for r in driver["rules"]}
    assert list(rules) == sorted(RULES)
    torch = rules["DW101"]
    assert torch["name"] == "CudaTorchOnCpuService"
    assert torch["shortDescription"]["text"] == "CUDA torch in a CPU-only service"
    assert torch["helpUri"].endswith("/docs/rules/DW101.md")
    assert torch["defaultConfiguration"] == {"level": "error", "enabled": True}
    assert rules["DW201"]["defaultConfiguration"]["level"] == "warning"
    assert rules["DW501"]["defaultConfiguration"]["level"] == "note"
    assert rules["DW801"]["defaultConfiguration"] == {"level": "note", "enabled": False}  # opt-in rule


def test_one_result_per_finding_with_rule_index_and_level(log: dict[str, Any]) -> None:
    run = log["runs"][0]
    results = run["results"]
    assert len(results) == 8
    for result in results:
        assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
    levels = {(r["ruleId"], r["properties"]["service"]): r["level"] for r in results}
    assert levels[("DW101", "api")] == "error"
    assert levels[("DW302", "api")] == "warning"
    assert levels[("DW304", "worker")] == "note"


def test_file_line_evidence_becomes_a_region(log: dict[str, Any]) -> None:
    (torch,) = _results(log, "DW101", "api")
    # the RECORD path has no line, so the first file:line evidence (Dockerfile:9) is the primary location
    physical = torch["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "Dockerfile", "uriBaseId": "PROJECTROOT"}
    assert physical["region"] == {"startLine": 9}
    (related,) = torch["relatedLocations"]
    assert related["physicalLocation"]["artifactLocation"]["uri"] == "compose.yaml"
    assert related["physicalLocation"]["region"] == {"startLine": 14}
    assert related["message"]["text"] == "deployment: no GPU reservation in compose"
    assert log["runs"][0]["originalUriBaseIds"] == {"PROJECTROOT": {"uri": "file:///srv/fleet/"}}
    (static,) = _results(log, "DW102", "ml")
    assert static["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "ml/vision.py"
    assert static["locations"][0]["physicalLocation"]["region"]["startLine"] == 3


def test_image_only_evidence_becomes_a_logical_location(log: dict[str, Any]) -> None:
    (cache,) = _results(log, "DW302", "api")  # evidence is a layer digest, not a file
    assert "physicalLocation" not in cache["locations"][0]
    assert cache["locations"][0]["logicalLocations"] == [
        {"name": "/root/.cache/pip", "fullyQualifiedName": "api:/root/.cache/pip", "kind": "resource"}
    ]
    (toolchain,) = _results(log, "DW301", "worker")  # evidence without a location at all
    assert toolchain["locations"][0]["logicalLocations"][0]["name"] == "gcc-12"
    assert toolchain["locations"][0]["logicalLocations"][0]["kind"] == "module"


def test_result_properties_and_message(log: dict[str, Any]) -> None:
    (torch,) = _results(log, "DW101", "api")
    props = torch["properties"]
    assert props["savings_bytes"] == 4_490_000_000
    assert props["estimated"] is False
    assert (props["service"], props["package"]) == ("api", "torch")
    assert torch["message"]["text"] == (
        "CUDA torch in a CPU-only service (torch) in service api: saves 4.49 GB. "
        "Fix: install torch from https://download.pytorch.org/whl/cpu"
    )
    (opencv,) = _results(log, "DW102", "ml")
    assert opencv["properties"]["estimated"] is True
    assert "saves an estimated 60.0 MB" in opencv["message"]["text"]


def test_failures_and_skips_are_invocation_notifications(log: dict[str, Any]) -> None:
    (invocation,) = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    errors = [n for n in invocation["toolExecutionNotifications"] if n["level"] == "error"]
    assert [n["message"]["text"] for n in errors] == [
        "service batch: registry:127.0.0.1:5000/batch:2: manifest unknown"
    ]
    skipped = invocation["toolConfigurationNotifications"]
    assert {
        (n["descriptor"]["id"], n["message"]["text"].split("service ")[1].split(":")[0]) for n in skipped
    } == {
        ("DW701", "api"),
        ("DW702", "api"),
        ("DW701", "worker"),
        ("DW702", "worker"),
        ("DW303", "ml"),
    }


def test_fingerprints_track_the_thing_not_the_numbers() -> None:
    report = sample_report()
    before = sarif.to_sarif(report)["runs"][0]["results"]
    grown = replace(
        report,
        services=tuple(
            replace(s, findings=tuple(replace(f, savings_bytes=f.savings_bytes + 1) for f in s.findings))
            for s in report.services
        ),
    )
    after = sarif.to_sarif(grown)["runs"][0]["results"]
    key = "deadweightFinding/v1"
    assert [r["partialFingerprints"][key] for r in before] == [r["partialFingerprints"][key] for r in after]
    assert len({r["partialFingerprints"][key] for r in before}) == len(before)


@pytest.mark.parametrize(
    ("location", "parsed"),
    [
        ("Dockerfile:9", ("Dockerfile", 9, None)),
        ("services/api/requirements.txt:12:5", ("services/api/requirements.txt", 12, 5)),
        ("/srv/fleet/Dockerfile:3", ("/srv/fleet/Dockerfile", 3, None)),
        ("sha256:1234567890", None),  # a digest of only decimal digits is still not a line
        ("/usr/local/lib/python3.11/site-packages/torch", None),
        ("Dockerfile:0", None),
        ("Dockerfile", None),
    ],
)
def test_parse_file_line(location: str, parsed: tuple[str, int, int | None] | None) -> None:
    assert sarif.parse_file_line(location) == parsed


def test_absolute_and_odd_paths_become_valid_uris() -> None:
    finding = Finding(
        rule="DW201",
        title="Declared dependency nothing uses",
        service="svc",
        severity=Severity.MEDIUM,
        package="six",
        savings_bytes=1_000,
        evidence=(Evidence("requirement", "six", "/srv/my app/requirements.txt:4"),),
    )
    service = ServiceResult(
        name="svc", image=None, mode="static", size_bytes=None, dead_weight_bytes=1_000, findings=(finding,)
    )
    log = sarif.to_sarif(
        AuditReport(root="relative/dir", services=(service,), totals=AuditTotals(0, 1_000, 0))
    )
    run = log["runs"][0]
    artifact = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": "file:///srv/my%20app/requirements.txt"}
    assert "originalUriBaseIds" not in run  # a relative root cannot be a base URI
    assert run["invocations"][0]["executionSuccessful"] is True
    assert list(jsonschema.Draft7Validator(SARIF_SUBSET).iter_errors(log)) == []


def test_unknown_rule_ids_still_get_a_descriptor() -> None:
    finding = Finding(rule="DW999", title="Future rule", service="svc", severity=Severity.INFO)
    service = ServiceResult(
        name="svc", image="x", mode="image", size_bytes=10, dead_weight_bytes=0, findings=(finding,)
    )
    run = sarif.to_sarif(AuditReport(root="/p", services=(service,), totals=AuditTotals(10, 0, 10)))["runs"][
        0
    ]
    rule = run["tool"]["driver"]["rules"][run["results"][0]["ruleIndex"]]
    assert rule["id"] == "DW999" and rule["helpUri"].endswith("DW999.md")
    assert run["results"][0]["level"] == "note"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda log: log["runs"][0]["results"][0].pop("message"),
        lambda log: log["runs"][0]["results"][0].update(level="high"),
        lambda log: log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"].update(
            startLine=0
        ),
        lambda log: log["runs"][0]["results"][0].update(savings_bytes=1),
        lambda log: log["runs"][0]["tool"]["driver"].pop("name"),
    ],
)
def test_subset_schema_catches_spec_violations(log: dict[str, Any], mutate: Any) -> None:
    broken = json.loads(json.dumps(log))
    mutate(broken)
    assert not jsonschema.Draft7Validator(SARIF_SUBSET).is_valid(broken)


def test_help_uris_are_absolute(log: dict[str, Any]) -> None:
    for rule in log["runs"][0]["tool"]["driver"]["rules"]:
        parsed = urlparse(rule["helpUri"])
        assert parsed.scheme == "https" and parsed.netloc, rule["id"]

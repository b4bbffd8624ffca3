"""The remedy in the JSON audit: every edit kind as {kind, fields...}, valid against the shipped schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from deadweight.model.audit import AuditReport, AuditTotals, ServiceResult
from deadweight.model.finding import Finding, Severity
from deadweight.model.remedy import (
    AddCleanup,
    AddDockerignore,
    AddInstallFlag,
    Edit,
    RemoveRequirement,
    ReplaceBase,
    ReplaceRequirement,
    SetIndex,
    SetMemoryLimit,
    SplitBuilderStage,
)
from deadweight.model.usage import Verdict, VerdictStatus
from deadweight.reports import audit_json
from deadweight.rules.dw201_unused_declared import UnusedDeclared
from tests.unit.rules.ruleimages import context, requirements_service

EDITS: tuple[Edit, ...] = (
    RemoveRequirement("requests", file="requirements.txt", line=3, end_line=3, original="requests==2.32.3"),
    ReplaceRequirement("onnxruntime-gpu", name="onnxruntime", file="requirements.txt", line=2, end_line=2),
    ReplaceRequirement("requests", specifier="==2.32.3"),
    SetIndex("torch", "https://download.pytorch.org/whl/cpu", "2.5.1"),
    AddInstallFlag("pip", "install", "--no-cache-dir", env="PIP_NO_CACHE_DIR=1", file="Dockerfile", line=5,
                   end_line=5, original="RUN pip install -r requirements.txt\n"),
    AddCleanup("apt-get", "rm -rf /var/lib/apt/lists/*", file="Dockerfile", line=2, end_line=3),
    ReplaceBase("python:3.11", "python:3.11-slim", alternative="python:3.11-alpine", file="Dockerfile", line=1,
                end_line=1, original="FROM python:3.11\n"),
    AddDockerignore(("**/.venv", ".git"), file=".dockerignore"),
    SplitBuilderStage(("gcc-12", "make"), (2, 6), file="Dockerfile", line=1, end_line=1),
    SetMemoryLimit("api", 1408 << 20, 1 << 30, file="compose.yaml", line=7, end_line=7),
)


def report(findings: tuple[Finding, ...]) -> AuditReport:
    service = ServiceResult("api", None, "static", None, 0, findings=findings)
    return AuditReport(root="/srv", services=(service,), totals=AuditTotals(0, 0, 0))


def finding(remedy: tuple[Edit, ...]) -> Finding:
    return Finding("DW201", "t", "api", Severity.LOW, package="requests", remedy=remedy, fix="f")


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(audit_json.load_schema())


def remedy_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    [out] = [f["remedy"] for s in doc["services"] for f in s["findings"]]
    return out


def test_every_edit_kind_is_written_with_its_fields_and_validates(validator: jsonschema.Draft202012Validator) -> None:
    doc = json.loads(audit_json.render(report((finding(EDITS),))))
    assert list(validator.iter_errors(doc)) == []
    written = remedy_of(doc)
    assert [e["kind"] for e in written] == [e.kind for e in EDITS]
    assert written[0] == {"kind": "remove-requirement", "package": "requests", "reason": "",
                          "file": "requirements.txt", "line": 3, "end_line": 3, "original": "requests==2.32.3"}
    assert written[7]["patterns"] == ["**/.venv", ".git"] and written[8]["install_lines"] == [2, 6]
    assert written[9]["limit_bytes"] == 1408 << 20 and written[3]["file"] is None


def test_the_schema_holds_each_kind_to_its_own_fields(validator: jsonschema.Draft202012Validator) -> None:
    doc = json.loads(audit_json.render(report((finding((EDITS[0],)),))))
    remedy_of(doc)[0]["index_url"] = "https://example.org"  # a set-index field on a remove-requirement
    assert list(validator.iter_errors(doc))
    doc = json.loads(audit_json.render(report((finding(()),))))
    assert remedy_of(doc) == [] and list(validator.iter_errors(doc)) == []


def test_a_rule_finding_round_trips_with_its_recorded_position(
    tmp_path: Path, validator: jsonschema.Draft202012Validator
) -> None:
    svc = requirements_service(tmp_path / "svc", "fastapi==0.115.0\npandas==2.2.3\n")
    verdicts = {"pandas": Verdict("pandas", VerdictStatus.DECLARED_UNUSED)}
    findings = tuple(UnusedDeclared().evaluate(context(svc, verdicts=verdicts)))
    doc = json.loads(audit_json.render(report(findings)))
    assert list(validator.iter_errors(doc)) == []
    [edit] = remedy_of(doc)
    assert (edit["kind"], edit["package"], edit["line"]) == ("remove-requirement", "pandas", 2)
    assert edit["file"] == str(tmp_path / "svc" / "requirements.txt") and edit["original"] == "pandas==2.2.3"

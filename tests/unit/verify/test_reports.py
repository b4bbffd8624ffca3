"""The verify reports and exit code over every shape a service can take: verified with a dropped edit, could
not be verified, nothing to verify. JSON validates against the shipped schema; the text names what people
need (sizes, the dropped edit and why, the check that broke)."""

from __future__ import annotations

import json

import jsonschema

from deadweight.cli.verify import exit_code
from deadweight.model.audit import AuditReport, AuditTotals, ServiceResult
from deadweight.model.finding import Severity
from deadweight.model.plan import FileChange, FixPlan, PlannedFix
from deadweight.model.verification import (
    BuildRecord,
    CheckResult,
    ClassChange,
    DistributionChange,
    EditOutcome,
    ImageComparison,
    ImageFigures,
    LayerRow,
    ServiceVerification,
    VerifyReport,
)
from deadweight.reports import verify_json, verify_text


def _fix(package: str, saves: int) -> PlannedFix:
    return PlannedFix(
        service="api",
        rule="DW201",
        title=f"{package} is declared but never used",
        package=package,
        path=None,
        hint="remove it",
        savings_bytes=saves,
        estimated=False,
        severity=Severity.HIGH,
        status="planned",
        changes=(FileChange("api/requirements.txt", f"{package}\nflask\n", "flask\n"),),
    )


def _figures(ref: str, size: int, dead: int) -> ImageFigures:
    layers = (LayerRow(0, size // 2, size // 5, "ADD rootfs /"), LayerRow(1, size - size // 2, None, "RUN pip install"))
    return ImageFigures(
        ref=ref,
        size_bytes=size,
        compressed_bytes=None,
        largest_layer_bytes=size - size // 2,
        layers=layers,
        dead_weight_bytes=dead,
        findings=2 if dead else 0,
    )


def _report(*, dropped: bool, failed_check: bool = False) -> VerifyReport:
    comparison = ImageComparison(
        before=_figures("docker:api:before", 500_000_000, 230_000_000),
        after=_figures("docker:api:after", 270_000_000, 0),
        distributions=(
            DistributionChange("scipy", "removed", "1.14.1", None, 155_000_000, 0),
            DistributionChange("flask", "kept", "3.0.0", "3.0.0", 1_000_000, 1_000_000),
        ),
        classes=(ClassChange("scientific", 300_000_000, 70_000_000),),
    )
    edits = [EditOutcome(_fix("scipy", 155_000_000), "kept", measured_savings_bytes=230_000_000)]
    if dropped:
        edits.append(
            EditOutcome(
                _fix("pyyaml", 3_000_000),
                "dropped",
                broke=("imports",),
                reason="DW201's edit (pyyaml): the imports check fails: app: No module named 'yaml'",
            )
        )
    checks = (
        CheckResult(
            "imports",
            "import 3 modules",
            "fail" if failed_check else "pass",
            "all 3 import",
            command="docker run --rm api:after python -c 'import app'",
        ),
        CheckResult("openapi", "GET endpoints", "skip", "no OpenAPI document"),
    )
    api = ServiceVerification(
        "api",
        BuildRecord("api:before", 10.5, 0.4, log="Step 1/4\n"),
        BuildRecord("api:after", 8.25, 0.3, log="Step 1/4\n"),
        comparison,
        checks=checks,
        edits=tuple(edits),
        bisect_builds=1 if dropped else 0,
        verify_seconds=4.2,
    )
    broken = ServiceVerification("worker", None, None, None, error="worker: docker build failed: no such file")
    idle = ServiceVerification("lean", BuildRecord("lean:latest", None, None, builder="given"), None, None)
    audit = AuditReport(
        root="/p",
        services=(ServiceResult("api", "docker:api:before", "image", 500_000_000, 230_000_000),),
        totals=AuditTotals(500_000_000, 230_000_000, 500_000_000),
    )
    plan = FixPlan(root="/p", fixes=tuple(e.fix for e in edits), files=())
    return VerifyReport(
        root="/p",
        audit=audit,
        plan=plan,
        services=(api, broken, idle),
        files=("api/requirements.txt",),
        unique_before_bytes=500_000_000,
        unique_after_bytes=270_000_000,
    )


def test_json_follows_the_schema_and_carries_every_figure() -> None:
    document = json.loads(verify_json.render(_report(dropped=True)))
    jsonschema.validate(document, verify_json.load_schema(), cls=jsonschema.Draft202012Validator)
    services = {s["name"]: s for s in document["services"]}
    assert [services[n]["status"] for n in ("api", "worker", "lean")] == ["passed", "error", "nothing-to-verify"]
    api = services["api"]
    assert api["comparison"]["saved_bytes"] == 230_000_000
    assert api["comparison"]["before"]["compressed_bytes"] is None  # one layer not measured: not a made-up sum
    assert [e["status"] for e in api["edits"]] == ["kept", "dropped"]
    assert api["edits"][1]["broke"] == ["imports"] and api["edits"][0]["files"] == ["api/requirements.txt"]
    assert document["summary"]["dropped"] == 1 and document["summary"]["failed"] == 1
    assert document["passed"] is False  # the worker could not be verified


def test_text_names_sizes_the_dropped_edit_and_what_could_not_be_checked() -> None:
    text = verify_text.render(_report(dropped=True))
    assert "500 MB" in text and "270 MB" in text and "-46.0%" in text
    assert "dropped  DW201 pyyaml: DW201's edit (pyyaml): the imports check fails" in text
    assert "kept     DW201 scipy: saved 230 MB (measured)" in text
    assert "worker: could not verify: worker: docker build failed" in text
    assert "lean: nothing to verify" in text
    assert "- scipy 1.14.1 (155 MB)" in text
    assert "--write would write: api/requirements.txt" in text
    assert "8.2s" in text and "10.5s" in text


def test_exit_codes() -> None:
    report = _report(dropped=True)
    assert exit_code(report) == 3  # a service could not be verified: never a pass
    only_api = VerifyReport(root="/p", audit=report.audit, plan=report.plan, services=report.services[:1])
    assert exit_code(only_api) == 1  # passed, with an edit dropped
    clean = _report(dropped=False)
    assert exit_code(VerifyReport(root="/p", audit=clean.audit, plan=clean.plan, services=clean.services[:1])) == 0
    failing = _report(dropped=False, failed_check=True)
    assert (
        exit_code(VerifyReport(root="/p", audit=failing.audit, plan=failing.plan, services=failing.services[:1])) == 4
    )

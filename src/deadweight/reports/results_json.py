"""``deadweight optimize --format json``: the results report as the versioned machine contract
(``"schema": "deadweight/1"``, ``"command": "optimize"``).

The same content as the Markdown report (``reports/results_markdown.py``): the fleet summary, per service the
images before and after (size, largest layer, compressed size, layers), the builds (cold and warm wall time),
each edit (kept or dropped, the evidence behind it, the bytes it saved measured on the rebuilt image), each check
with the command to rerun it, the files modified and the cost on measured compressed sizes. Sizes are integers in
bytes, ``null`` when unknown. Fields are only ever added; ``schemas/optimize.schema.json`` describes them and the
tests validate against it.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from deadweight.model.audit import CostComparison
from deadweight.model.cost import CostEstimate
from deadweight.model.results import finding_of, fleet_cost, fleet_totals, service_cost, verified
from deadweight.model.verification import (
    BuildRecord,
    EditOutcome,
    ServiceVerification,
    VerifyReport,
)
from deadweight.reports.verify_json import check_to_dict, figures_to_dict
from deadweight.safetext import json_report

SCHEMA = "deadweight/1"

__all__ = ["SCHEMA", "load_schema", "render", "to_dict"]


def render(report: VerifyReport) -> str:
    """The report as pretty-printed JSON, newline-terminated."""
    return json_report(to_dict(report))


def to_dict(report: VerifyReport) -> dict[str, Any]:
    totals = fleet_totals(report)
    edits = [e for s in report.services for e in s.edits]
    return {
        "schema": SCHEMA,
        "command": "optimize",
        "root": report.root,
        "passed": report.passed,
        "verified": verified(report),
        "written": report.written,
        "summary": {
            "services": totals.services,
            "compared": totals.compared,
            "before_bytes": totals.before_bytes,
            "after_bytes": totals.after_bytes,
            "saved_bytes": totals.measured_savings_bytes,
            "saved_fraction": round(totals.saved_fraction, 6),
            "unique_before_bytes": totals.unique_before_bytes,
            "unique_after_bytes": totals.unique_after_bytes,
            "compressed_before_bytes": totals.compressed_before_bytes,
            "compressed_after_bytes": totals.compressed_after_bytes,
            "cold_build_seconds": _seconds(totals.cold_build_seconds),
            "warm_build_seconds": _seconds(totals.warm_build_seconds),
            "verify_seconds": _seconds(totals.verify_seconds),
            "edits": {
                status: sum(1 for e in edits if e.status == status) for status in ("kept", "dropped", "not-built")
            },
        },
        "cost": _cost(report, fleet_cost(report)),
        "services": [_service(report, s) for s in sorted(report.services, key=lambda s: s.service)],
        "files": list(report.files),
        "warnings": list(report.warnings),
    }


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _estimate(estimate: CostEstimate) -> dict[str, float]:
    return {
        "storage": round(estimate.storage, 4),
        "transfer": round(estimate.transfer, 4),
        "total": round(estimate.total, 4),
    }


def _cost(report: VerifyReport, comparison: CostComparison | None) -> dict[str, Any] | None:
    if comparison is None:
        return None
    model = report.audit.cost
    return {
        "basis": "compressed",
        "storage_per_gb_month": model.storage_per_gb_month,
        "transfer_per_gb": model.transfer_per_gb,
        "pulls_per_month": model.pulls_per_month,
        "before": _estimate(comparison.before),
        "after": _estimate(comparison.after),
        "saved_per_month": round(comparison.saved_total, 4),
    }


def _service(report: VerifyReport, service: ServiceVerification) -> dict[str, Any]:
    comparison = service.comparison
    return {
        "name": service.service,
        "passed": service.passed,
        "error": service.error,
        "before": figures_to_dict(comparison.before) if comparison else None,
        "after": figures_to_dict(comparison.after) if comparison else None,
        "saved_bytes": comparison.saved_bytes if comparison else None,
        "before_build": _build(service.before_build),
        "after_build": _build(service.after_build),
        "verify_seconds": _seconds(service.verify_seconds),
        "bisect_builds": service.bisect_builds,
        "edits": [_edit(report, e) for e in service.edits],
        "checks": [check_to_dict(c) for c in service.checks],
        "distributions": [
            {
                "name": d.name,
                "change": d.change,
                "before_version": d.before_version,
                "after_version": d.after_version,
                "before_bytes": d.before_bytes,
                "after_bytes": d.after_bytes,
            }
            for d in (comparison.distributions if comparison else ())
        ],
        "classes": [
            {"class": c.dist_class, "before_bytes": c.before_bytes, "after_bytes": c.after_bytes}
            for c in (comparison.classes if comparison else ())
        ],
        "cost": _cost(report, service_cost(report, service)),
    }


def _build(build: BuildRecord | None) -> dict[str, Any] | None:
    if build is None:
        return None
    return {
        "image": build.image,
        "builder": build.builder,
        "cold_seconds": _seconds(build.cold_seconds),
        "warm_seconds": _seconds(build.warm_seconds),
    }


def _edit(report: VerifyReport, edit: EditOutcome) -> dict[str, Any]:
    fix = edit.fix
    finding = finding_of(report, fix)
    return {
        "rule": fix.rule,
        "title": fix.title,
        "package": fix.package,
        "path": fix.path,
        "fix": fix.hint,
        "status": edit.status,
        "broke": list(edit.broke),
        "reason": edit.reason,
        "measured_savings_bytes": edit.measured_savings_bytes,
        "estimated_savings_bytes": fix.savings_bytes,
        "evidence": [
            {"kind": e.kind, "detail": e.detail, "location": e.location} for e in (finding.evidence if finding else ())
        ],
        "files": sorted({c.path for c in fix.changes if c.before != c.after}),
    }


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of this output, as shipped in the package."""
    text = resources.files("deadweight").joinpath("schemas/optimize.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema

"""``deadweight audit --format json``: the versioned machine contract (``"schema": "deadweight/1"``).

CI scripts and dashboards parse this, so the field names and meanings in design.md are fixed; fields are only
ever added. Every list is sorted so that two runs over the same images give byte-identical output; sizes are
integers in bytes, ``null`` when unknown. ``schemas/audit.schema.json`` describes it and the tests validate
against it.
"""

from __future__ import annotations

import dataclasses
import json
from importlib import resources
from typing import Any

from deadweight.model.audit import AuditReport, ServiceResult, SkippedRule
from deadweight.model.finding import Evidence, Finding
from deadweight.model.remedy import Edit
from deadweight.rules import rule_help_uri
from deadweight.safetext import json_report

SCHEMA = "deadweight/1"


def render(report: AuditReport) -> str:
    """The report as pretty-printed JSON, newline-terminated."""
    return json_report(to_dict(report))


def to_dict(report: AuditReport) -> dict[str, Any]:
    """The JSON document as plain Python data (for callers that embed it)."""
    max_severity = report.max_severity()
    saved = report.dead_weight_cost
    return {
        "schema": SCHEMA,
        "command": "audit",
        "root": report.root,
        "offline": report.offline,
        "max_severity": None if max_severity is None else str(max_severity),
        "services": [_service(s) for s in sorted(report.services, key=lambda s: (s.name, s.image or ""))],
        "totals": {
            "size_bytes": report.totals.size_bytes,
            "dead_weight_bytes": report.totals.dead_weight_bytes,
            "unique_layer_bytes": report.totals.unique_layer_bytes,
            "after_bytes": report.after_bytes,
            "services": len(report.services),
            "errors": len(report.failed_services),
            "nothing_audited": report.nothing_audited,
            "findings": report.finding_count,
        },
        "cost": {
            "storage_per_gb_month": report.cost.storage_per_gb_month,
            "transfer_per_gb": report.cost.transfer_per_gb,
            "pulls_per_month": report.cost.pulls_per_month,
            "monthly_savings": {
                "storage": round(saved.storage, 2),
                "transfer": round(saved.transfer, 2),
                "total": round(saved.total, 2),
            },
        },
        "warnings": sorted(report.warnings),
    }


def _service(service: ServiceResult) -> dict[str, Any]:
    return {
        "name": service.name,
        "image": service.image,
        "mode": service.mode,
        "size_bytes": service.size_bytes,
        "dead_weight_bytes": service.dead_weight_bytes,
        "after_bytes": service.after_bytes,
        "error": service.error,
        "error_kind": service.error_kind,
        "findings": [_finding(f) for f in service.ordered_findings],
        "skipped": [_skipped(s) for s in sorted(service.skipped, key=lambda s: (s.rule, s.reason))],
        "warnings": sorted(service.warnings),
        "unresolved": list(service.unresolved),
        "not_audited": service.not_audited,
        "memory": None if service.memory is None else {
            "peak_bytes": service.memory.peak_bytes,
            "limit_bytes": service.memory.limit_bytes,
            "fraction": None if service.memory.fraction is None else round(service.memory.fraction, 4),
            "evidence": service.memory.evidence,
        },
    }


def _finding(finding: Finding) -> dict[str, Any]:
    evidence = sorted(finding.evidence, key=lambda e: (e.kind, e.location or "", e.detail))
    return {
        "rule": finding.rule,
        "title": finding.title,
        "severity": str(finding.severity),
        "package": finding.package,
        "path": finding.path,
        "savings_bytes": finding.savings_bytes,
        "estimated": finding.estimated,
        "confidence": finding.confidence.value,
        "evidence": [_evidence(e) for e in evidence],
        "fix": finding.fix,
        "remedy": [_edit(e) for e in finding.remedy],
        "help_uri": rule_help_uri(finding.rule),
    }


def _edit(edit: Edit) -> dict[str, Any]:
    """``{"kind": ..., <the edit's fields>}``, in the order the rule gives them (the order to apply them)."""
    fields = {f.name: getattr(edit, f.name) for f in dataclasses.fields(edit)}
    return {"kind": edit.kind, **{k: list(v) if isinstance(v, tuple) else v for k, v in fields.items()}}


def _evidence(evidence: Evidence) -> dict[str, Any]:
    return {"kind": evidence.kind, "detail": evidence.detail, "location": evidence.location}


def _skipped(skipped: SkippedRule) -> dict[str, Any]:
    return {"rule": skipped.rule, "reason": skipped.reason}


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of this output, as shipped in the package."""
    text = resources.files("deadweight").joinpath("schemas/audit.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema

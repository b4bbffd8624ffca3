"""``deadweight guard --format json``: the versioned verdict (``"schema": "deadweight-guard/1"``).

``schemas/guard.schema.json`` describes it and the tests validate against it. Sizes are integers in bytes
(``null`` when unknown), percentages are numbers (5.0 means 5%); lists are sorted. The ``services[].findings``
and ``services[].facts.distributions`` make this report usable as a later run's ``--baseline``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from deadweight.guard.model import Check, FindingRef, GuardVerdict, ServiceVerdict, Status
from deadweight.safetext import json_report

SCHEMA = "deadweight-guard/1"


def render(verdict: GuardVerdict) -> str:
    return json_report(to_dict(verdict))


def to_dict(verdict: GuardVerdict) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "command": "guard",
        "root": verdict.root,
        "status": verdict.status.value,
        "today": verdict.today.isoformat(),
        "baseline": verdict.baseline,
        "baseline_schema": verdict.baseline_schema,
        "config": verdict.config_source,
        "allow_unchecked": verdict.allow_unchecked,
        "summary": {
            "services": len(verdict.services),
            "errors": sum(1 for s in verdict.services if s.error),
            "checks": len(verdict.checks),
            **{status.value: verdict.count(status) for status in Status},
        },
        "services": [_service(s) for s in verdict.services],
        "fleet": None if verdict.fleet is None else {
            "size_bytes": verdict.fleet.size_bytes,
            "summed_bytes": verdict.fleet.summed_bytes,
            "dead_weight_bytes": verdict.fleet.dead_weight_bytes,
            "dead_weight_percent": verdict.fleet.dead_weight_percent,
            "estimated": verdict.fleet.estimated,
            "reason": verdict.fleet.reason,
            "checks": [_check(c) for c in verdict.fleet.checks],
        },
        "notes": list(verdict.notes),
        "warnings": sorted(verdict.warnings),
    }


def _finding(ref: FindingRef, known: set[tuple[str, str, str, str]] | None) -> dict[str, Any]:
    return {
        "rule": ref.rule,
        "title": ref.title,
        "severity": ref.severity,
        "package": ref.package,
        "path": ref.path,
        "savings_bytes": ref.savings_bytes,
        "estimated": ref.estimated,
        "in_baseline": None if known is None else ref.key in known,
    }


def _service(service: ServiceVerdict) -> dict[str, Any]:
    facts = service.facts
    known = None if service.growth is None else {r.key for r in service.known_findings}
    growth = service.growth
    return {
        "name": service.name,
        "image": service.image,
        "mode": service.mode,
        "status": service.status.value,
        "error": service.error,
        "facts": None if facts is None else {
            "size_bytes": facts.size_bytes,
            "compressed_bytes": facts.compressed_bytes,
            "largest_layer_bytes": facts.largest_layer_bytes,
            "layer_count": facts.layer_count,
            "dead_weight_bytes": facts.dead_weight_bytes,
            "dead_weight_percent": facts.dead_weight_percent,
            "estimated": facts.estimated,
            "breakdown": None if facts.breakdown is None else dict(sorted(facts.breakdown.items())),
            "distributions": None if facts.distributions is None else dict(sorted(facts.distributions.items())),
            "notes": list(facts.notes),
        },
        "growth": None if growth is None else {
            "baseline_bytes": growth.baseline_bytes,
            "current_bytes": growth.current_bytes,
            "bytes": growth.bytes,
            "percent": growth.percent,
            "comparable": growth.comparable,
            "reason": growth.reason,
        },
        "new_distributions": None if service.new_distributions is None else [
            {"name": n, "size_bytes": b} for n, b in service.new_distributions
        ],
        "findings": [_finding(r, known) for r in service.findings],
        "checks": [_check(c) for c in service.checks],
    }


def _check(check: Check) -> dict[str, Any]:
    finding = check.finding
    waiver = check.waiver
    return {
        "budget": check.budget,
        "status": check.status.value,
        "message": check.message,
        "unit": check.unit.value,
        "limit": check.limit,
        "actual": check.actual,
        "estimated": check.estimated,
        "rule": check.rule,
        "package": check.package,
        "finding": None if finding is None else {
            "rule": finding.rule, "package": finding.package, "path": finding.path, "title": finding.title,
            "severity": finding.severity, "savings_bytes": finding.savings_bytes, "estimated": finding.estimated,
        },
        "waiver": None if waiver is None else {
            "owner": waiver.owner, "reason": waiver.reason, "expires": waiver.expires.isoformat(),
            "expired": waiver.expired, "description": waiver.description,
        },
        "reason": check.reason,
    }


def load_schema() -> dict[str, Any]:
    text = resources.files("deadweight").joinpath("schemas/guard.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema

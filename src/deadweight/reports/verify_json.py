"""``deadweight verify --format json``: the verification as the versioned machine contract
(``"schema": "deadweight/1"``, ``"command": "verify"``).

Per service: the builds (cold and warm seconds, builder, the log's tail), the comparison (sizes, compressed
sizes, largest layer, the per-layer table, distribution and class diffs, dead weight before and after), every
check with its command and output, and what became of each edit (kept with its measured saving, or dropped with
the checks it broke and why). Sizes are integers in bytes, ``null`` when not measured. Fields are only ever added;
``schemas/verify.schema.json`` describes them and the tests validate against it. ``service_to_dict`` is shared
with the ``optimize`` report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from importlib import resources
from typing import Any

from deadweight.model.verification import (
    BuildRecord,
    CheckResult,
    EditOutcome,
    ImageComparison,
    ImageFigures,
    ServiceVerification,
    VerifyReport,
)
from deadweight.safetext import json_report

SCHEMA = "deadweight/1"
#: The JSON keeps this much of each build log (its end); the model keeps 64 KiB.
LOG_TAIL = 8 << 10

__all__ = ["SCHEMA", "load_schema", "render", "service_to_dict", "to_dict"]


def render(report: VerifyReport) -> str:
    """The report as pretty-printed JSON, newline-terminated."""
    return json_report(to_dict(report))


def to_dict(report: VerifyReport) -> dict[str, Any]:
    services = [service_to_dict(s) for s in report.services]
    return {
        "schema": SCHEMA,
        "command": "verify",
        "root": report.root,
        "passed": report.passed,
        "written": report.written,
        "files": list(report.files),
        "summary": {
            "services": len(report.services),
            "verified": sum(1 for s in report.services if s.comparison is not None),
            "failed": sum(1 for s in report.services if not s.passed),
            "kept": sum(1 for s in report.services for e in s.edits if e.status == "kept"),
            "dropped": sum(1 for s in report.services for e in s.edits if e.status == "dropped"),
            "unique_before_bytes": report.unique_before_bytes,
            "unique_after_bytes": report.unique_after_bytes,
        },
        "services": services,
        "warnings": list(report.warnings),
    }


def service_to_dict(service: ServiceVerification) -> dict[str, Any]:
    if service.error is not None:
        status = "error"
    elif service.comparison is None and not service.checks:
        status = "nothing-to-verify"
    else:
        status = "passed" if service.passed else "failed"
    return {
        "name": service.service,
        "status": status,
        "error": service.error,
        "before_build": _build(service.before_build),
        "after_build": _build(service.after_build),
        "comparison": _comparison(service.comparison),
        "checks": [check_to_dict(c) for c in service.checks],
        "edits": [_edit(e) for e in service.edits],
        "bisect_builds": service.bisect_builds,
        "verify_seconds": service.verify_seconds,
    }


def _build(record: BuildRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {
        "image": record.image,
        "builder": record.builder,
        "cold_seconds": record.cold_seconds,
        "warm_seconds": record.warm_seconds,
        "log_tail": record.log[-LOG_TAIL:],
    }


def figures_to_dict(figures: ImageFigures) -> dict[str, Any]:
    return {
        "ref": figures.ref,
        "size_bytes": figures.size_bytes,
        "compressed_bytes": figures.compressed_bytes,
        "largest_layer_bytes": figures.largest_layer_bytes,
        "dead_weight_bytes": figures.dead_weight_bytes,
        "findings": figures.findings,
        "layers": [
            {
                "index": r.index,
                "size_bytes": r.size_bytes,
                "compressed_bytes": r.compressed_bytes,
                "created_by": r.created_by,
            }
            for r in figures.layers
        ],
    }


def _comparison(comparison: ImageComparison | None) -> dict[str, Any] | None:
    if comparison is None:
        return None
    return {
        "before": figures_to_dict(comparison.before),
        "after": figures_to_dict(comparison.after),
        "saved_bytes": comparison.saved_bytes,
        "saved_fraction": round(comparison.saved_fraction, 6),
        "distributions": [
            {
                "name": d.name,
                "change": d.change,
                "before_version": d.before_version,
                "after_version": d.after_version,
                "before_bytes": d.before_bytes,
                "after_bytes": d.after_bytes,
            }
            for d in comparison.distributions
        ],
        "classes": [
            {"class": c.dist_class, "before_bytes": c.before_bytes, "after_bytes": c.after_bytes}
            for c in comparison.classes
        ],
    }


def check_to_dict(check: CheckResult) -> dict[str, Any]:
    return {
        "check": check.check,
        "name": check.name,
        "status": check.status,
        "image": check.image,
        "detail": check.detail,
        "command": check.command,
        "seconds": round(check.seconds, 3),
        "output": check.output,
        "data": jsonable(check.data),
    }


def _edit(outcome: EditOutcome) -> dict[str, Any]:
    fix = outcome.fix
    return {
        "rule": fix.rule,
        "title": fix.title,
        "package": fix.package,
        "path": fix.path,
        "status": outcome.status,
        "broke": list(outcome.broke),
        "reason": outcome.reason,
        "estimated_savings_bytes": fix.savings_bytes,
        "measured_savings_bytes": outcome.measured_savings_bytes,
        "files": sorted({c.path for c in fix.changes}),
    }


def jsonable(value: Any) -> Any:
    """A check's free-form figures as JSON: mappings and sequences kept, numbers and strings as they are,
    anything else as its text (a check must never make the report unwritable)."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of this output, as shipped in the package."""
    text = resources.files("deadweight").joinpath("schemas/verify.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema

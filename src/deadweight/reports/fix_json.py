"""``deadweight fix --format json``: the plan as the versioned machine contract (``"schema": "deadweight/1"``,
``"command": "fix"``).

A CI job that opens a pull request with the fixes reads this: per finding its status, reason and the diffs
it made, per file the one diff from the original to the final text, and whether the files were written.
Diffs are the same unified diffs ``--format diff`` prints (``reports/fix_diff.unified_diff``), so applying a
file's ``diff`` to the original gives its final text. Fields are only ever added; ``schemas/fix.schema.json``
describes them and the tests validate against it.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from deadweight.model.plan import FileChange, FixPlan, PlannedFix
from deadweight.reports.fix_diff import unified_diff
from deadweight.safetext import json_report

SCHEMA = "deadweight/1"

__all__ = ["SCHEMA", "load_schema", "render", "to_dict"]


def render(plan: FixPlan) -> str:
    """The plan as pretty-printed JSON, newline-terminated."""
    return json_report(to_dict(plan))


def to_dict(plan: FixPlan) -> dict[str, Any]:
    counts = {status: sum(1 for f in plan.fixes if f.status == status)
              for status in ("planned", "refused", "manual", "skipped")}
    return {
        "schema": SCHEMA,
        "command": "fix",
        "root": plan.root,
        "written": plan.written,
        "summary": {**counts, "files": len(plan.changed_files)},
        "fixes": [_fix(f) for f in plan.fixes],
        "files": [_change(c) for c in plan.files if c.before != c.after],
        "unaudited": [{"service": u.service, "error": u.error} for u in plan.unaudited],
        "warnings": list(plan.warnings),
    }


def _fix(fix: PlannedFix) -> dict[str, Any]:
    return {
        "service": fix.service,
        "rule": fix.rule,
        "title": fix.title,
        "severity": str(fix.severity),
        "package": fix.package,
        "path": fix.path,
        "status": fix.status,
        "reason": fix.reason,
        "fix": fix.hint,
        "savings_bytes": fix.savings_bytes,
        "estimated": fix.estimated,
        "commands": list(fix.commands),
        "changes": [_change(c) for c in fix.changes],
    }


def _change(change: FileChange) -> dict[str, Any]:
    return {"path": change.path, "created": change.before is None, "diff": unified_diff(change)}


def load_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of this output, as shipped in the package."""
    text = resources.files("deadweight").joinpath("schemas/fix.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema

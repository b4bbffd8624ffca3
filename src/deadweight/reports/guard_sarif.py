"""``deadweight guard --format sarif``: SARIF 2.1.0, one result per budget over its limit.

The conventions of ``reports/sarif.py``: one run, rules in ``tool.driver.rules``, deadweight data in
``properties``, a stable ``partialFingerprints`` entry, logical locations naming the service (and package).
A budget's rule id is ``guard/<budget>`` (``guard/max-size``, ``guard/rules.DW101``, ``guard/new-finding``).
Waived checks are not results (they passed); they, the budgets that could not be checked and the services
that could not be audited are notifications of the invocation, never silently absent.
"""

from __future__ import annotations

import hashlib
from typing import Any

from deadweight._version import __version__
from deadweight.guard.model import FLEET, Check, GuardVerdict, Status
from deadweight.reports.sarif import INFORMATION_URI, SARIF_SCHEMA, SARIF_VERSION
from deadweight.safetext import json_report

DOCS = "https://github.com/deadweight/deadweight/blob/main/docs/guard.md"


def render(verdict: GuardVerdict) -> str:
    return json_report(to_sarif(verdict))


def rule_id(check: Check) -> str:
    return f"guard/{check.budget}"


def _rule(rid: str) -> dict[str, Any]:
    budget = rid.removeprefix("guard/")
    return {
        "id": rid,
        "name": "Budget" + "".join(p.capitalize() for p in budget.replace(".", "-").replace("*", "").split("-")),
        "shortDescription": {"text": f"deadweight guard budget {budget}"},
        "helpUri": DOCS,
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["deadweight", "image-size", "budget"]},
    }


def _whose(check: Check) -> str:
    return "the fleet" if check.service == FLEET else f"service {check.service}"


def _fingerprint(check: Check) -> str:
    finding = check.finding
    parts = [check.budget, check.service, check.rule or "", check.package or "",
             finding.path or "" if finding else ""]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _location(check: Check) -> dict[str, Any]:
    if check.package:
        name, kind = check.package, "module"
    elif check.finding and check.finding.path:
        name, kind = check.finding.path, "resource"
    else:
        name, kind = check.service, "resource"
    qualified = check.service if name == check.service else f"{check.service}:{name}"
    return {"logicalLocations": [{"name": name, "fullyQualifiedName": qualified, "kind": kind}]}


def _result(check: Check, index: int) -> dict[str, Any]:
    return {
        "ruleId": rule_id(check),
        "ruleIndex": index,
        "level": "error",
        "message": {"text": f"{_whose(check)}: {check.message}"},
        "locations": [_location(check)],
        "partialFingerprints": {"deadweightGuard/v1": _fingerprint(check)},
        "properties": {
            "service": check.service,
            "budget": check.budget,
            "unit": check.unit.value,
            "limit": check.limit,
            "actual": check.actual,
            "estimated": check.estimated,
            "rule": check.rule,
            "package": check.package,
            "savings_bytes": check.finding.savings_bytes if check.finding else None,
            "waiver_expired": bool(check.waiver and check.waiver.expired),
        },
    }


def to_sarif(verdict: GuardVerdict) -> dict[str, Any]:
    failing = [c for c in verdict.checks if c.status is Status.FAIL]
    ids = sorted({rule_id(c) for c in verdict.checks})
    index = {rid: i for i, rid in enumerate(ids)}
    notifications: list[dict[str, Any]] = [
        {"level": "error", "message": {"text": f"service {s.name}: could not be audited: {s.error}"}}
        for s in verdict.services if s.error
    ]
    notifications += [
        {"level": "warning", "message": {"text": f"{_whose(c)}: {c.budget} not checked: {c.reason}"},
         "descriptor": {"id": rule_id(c), "index": index[rule_id(c)]}}
        for c in verdict.checks if c.status is Status.NOT_CHECKED
    ]
    notifications += [
        {"level": "note", "message": {"text": f"{_whose(c)}: {c.message}"},
         "descriptor": {"id": rule_id(c), "index": index[rule_id(c)]}}
        for c in verdict.checks if c.status is Status.WAIVED
    ]
    notifications += [{"level": "note", "message": {"text": n}} for n in verdict.notes]
    invocation: dict[str, Any] = {"executionSuccessful": not any(s.error for s in verdict.services)}
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "deadweight", "version": __version__, "semanticVersion": __version__,
                            "informationUri": INFORMATION_URI, "rules": [_rule(r) for r in ids]}},
        "invocations": [invocation],
        "results": [_result(c, index[rule_id(c)]) for c in failing],
        "columnKind": "unicodeCodePoints",
        "properties": {"command": "guard", "status": verdict.status.value, "baseline": verdict.baseline,
                       "root": verdict.root},
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}

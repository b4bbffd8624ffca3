"""``fix --from-report FILE``: an ``audit --format json`` document read back into an ``AuditReport``.

The plan is then made from the findings CI already saw, without auditing again (no image to pull, no index to
ask). The report is data from outside: its schema and every field the planner uses are checked, and anything
else is one line (``ParseError``, exit 3) rather than a guess; the files its remedies name are still only
edited when they lie inside the project root (``fixes/workspace.py`` refuses the others).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from deadweight.errors import ParseError, UsageError
from deadweight.model.audit import AuditReport, AuditTotals, ServiceResult
from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.remedy import edit_from_dict
from deadweight.model.usage import Confidence
from deadweight.reports.audit_json import SCHEMA

__all__ = ["read_report"]

_MAX_BYTES = 64 << 20


def read_report(path: str | Path) -> AuditReport:
    """The audit report in ``path``. ``UsageError`` when the file cannot be opened, ``ParseError`` when it is
    not an audit JSON report of schema ``deadweight/1`` or a field has the wrong shape."""
    p = Path(path)
    try:
        if not p.is_file():
            raise UsageError(f"--from-report {path}: no such file")
        if p.stat().st_size > _MAX_BYTES:
            raise ParseError(f"--from-report {path}: larger than 64 MiB, not an audit report")
        data = json.loads(p.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise UsageError(f"--from-report {path}: cannot read it: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ParseError(f"--from-report {path}: not JSON: {exc}") from None
    try:
        return _report(data)
    except (ValueError, TypeError, KeyError) as exc:
        raise ParseError(f"--from-report {path}: {exc}") from None


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} is not an object")
    if key not in data:
        raise ValueError(f"{where}: {key} is missing")
    value = data[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # JSON true is not a byte count
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ValueError(f"{where}: {key} has the wrong type ({type(value).__name__})")
    return value


def _report(data: Any) -> AuditReport:
    if not isinstance(data, Mapping):
        raise ValueError("not an audit report (a JSON object with schema and command)")
    if data.get("schema") != SCHEMA:
        raise ValueError(f"schema is {data.get('schema')!r}, this deadweight reads {SCHEMA!r}")
    if data.get("command") != "audit":
        raise ValueError(f"command is {data.get('command')!r}: give the JSON of `deadweight audit --format json`")
    services = tuple(_service(s, f"services[{i}]") for i, s in enumerate(_get(data, "services", list, "report")))
    return AuditReport(
        root=_get(data, "root", str, "report"),
        services=services,
        totals=AuditTotals(0, sum(s.dead_weight_bytes for s in services), 0),
        offline=bool(data.get("offline", False)),
        warnings=tuple(w for w in data.get("warnings", ()) if isinstance(w, str)),
    )


def _service(data: Any, where: str) -> ServiceResult:
    name = _get(data, "name", str, where)
    where = f"service {name}"
    error = _get(data, "error", (str, type(None)), where)
    recorded = data.get("error_kind") if isinstance(data, dict) else None
    kind: Literal["usage", "input"] | None = None
    if error:  # reports written before error_kind was added: an input error
        kind = "usage" if recorded == "usage" else "input"
    unresolved = data.get("unresolved") if isinstance(data, dict) else None
    findings = tuple(_finding(f, name, f"{where} findings[{i}]")
                     for i, f in enumerate(_get(data, "findings", list, where)))
    return ServiceResult(
        name=name,
        image=_get(data, "image", (str, type(None)), where),
        mode=_get(data, "mode", str, where),
        size_bytes=_get(data, "size_bytes", (int, type(None)), where),
        dead_weight_bytes=_get(data, "dead_weight_bytes", int, where),
        findings=findings,
        error=error,
        error_kind=kind,
        unresolved=tuple(u for u in unresolved if isinstance(u, str)) if isinstance(unresolved, list) else (),
        not_audited=_get(data, "not_audited", (str, type(None)), where) if "not_audited" in data else None,
    )


def _finding(data: Any, service: str, where: str) -> Finding:
    rule = _get(data, "rule", str, where)
    where = f"{where} ({rule})"
    try:
        severity = Severity.parse(_get(data, "severity", str, where))
        confidence = Confidence(_get(data, "confidence", str, where))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    remedy = []
    for i, edit in enumerate(_get(data, "remedy", list, where)):
        if not isinstance(edit, Mapping):
            raise ValueError(f"{where} remedy[{i}] is not an object")
        try:
            remedy.append(edit_from_dict(edit))
        except ValueError as exc:
            raise ValueError(f"{where} remedy[{i}]: {exc}") from None
    evidence = tuple(
        Evidence(str(e.get("kind", "")), str(e.get("detail", "")),
                 e.get("location") if isinstance(e.get("location"), str) else None)
        for e in data.get("evidence", ()) if isinstance(e, Mapping)
    )
    return Finding(
        rule=rule,
        title=_get(data, "title", str, where),
        service=service,
        severity=severity,
        package=_get(data, "package", (str, type(None)), where),
        path=_get(data, "path", (str, type(None)), where),
        savings_bytes=_get(data, "savings_bytes", int, where),
        estimated=_get(data, "estimated", bool, where),
        confidence=confidence,
        evidence=evidence,
        fix=_get(data, "fix", str, where),
        remedy=tuple(remedy),
    )

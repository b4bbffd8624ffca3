"""``deadweight audit --format gitlab``: a GitLab code-quality report (``artifacts:reports:codequality``).

GitLab reads a subset of the Code Climate issue format: a JSON array of issues, each with ``description``,
``check_name``, ``fingerprint``, ``severity`` (``info``, ``minor``, ``major``, ``critical``, ``blocker``) and
``location`` {``path``, ``lines`` {``begin``}}; it shows them in the merge request's code-quality widget and
on the changed lines of its diff. One issue per finding: its ``check_name`` the rule id, its location the
first project file and line its evidence names (``_location``), else the line its fix edits, else the audited
path at line 1. Paths are relative to ``base`` (the directory the job runs in, GitLab's
``CI_PROJECT_DIR``), since GitLab matches them against the repository's files.

``fingerprint`` is what GitLab tells issues apart by, across pipelines (new, fixed, unchanged): the same
key as SARIF's (rule, service, package, path, a project file's path relative to ``base``; never the savings,
so a cache that grew stays the same issue), made unique within the report by a counter when two findings
share it.
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import Any

from deadweight.model.audit import AuditReport, ServiceResult
from deadweight.model.finding import Finding, Severity
from deadweight.reports.sarif import parse_file_line
from deadweight.safetext import json_report
from deadweight.units import human_bytes

SEVERITIES = {Severity.HIGH: "critical", Severity.MEDIUM: "major", Severity.LOW: "minor", Severity.INFO: "info"}


def render(report: AuditReport, base: str | None = None) -> str:
    """The report as GitLab reads it; ``base``: the directory paths are made relative to (the CLI gives its
    working directory; None: the audited root)."""
    return json_report(issues(report, base))


def issues(report: AuditReport, base: str | None = None) -> list[dict[str, Any]]:
    here = base if base is not None else report.root
    out = []
    seen: dict[str, int] = {}
    for service in sorted(report.services, key=lambda s: s.name):
        for finding in service.ordered_findings:
            # a project file's path relative to base: the checkout directory may differ between runners
            subject = _relative(finding.path, here) if finding.path else ""
            key = "\0".join([finding.rule, service.name, finding.package or "", subject])
            n = seen.get(key, 0)
            seen[key] = n + 1
            if n:
                key += f"\0{n}"
            path, line = _location(finding, report.root)
            out.append(
                {
                    "description": _description(finding, service, finding.package or subject),
                    "check_name": finding.rule,
                    "fingerprint": hashlib.sha256(key.encode()).hexdigest(),
                    "severity": SEVERITIES[finding.severity],
                    "location": {"path": _relative(path, here), "lines": {"begin": line}},
                }
            )
    return out


def _description(finding: Finding, service: ServiceResult, subject: str) -> str:
    saving = ("~" if finding.estimated else "") + human_bytes(finding.savings_bytes)
    text = f"{finding.rule} {finding.title}" + (f" ({subject})" if subject else "")
    text += f" in service {service.name}: saves {saving}."
    return text + (f" Fix: {finding.fix}" if finding.fix else "")


def _location(finding: Finding, root: str) -> tuple[str, int]:
    """The first project file and line the evidence names, then the line the fix edits, then the root. Only
    absolute paths count: a relative one (a usage scan's ``app/main.py:5``) is relative to its service's
    build context, which the audit model does not carry, so it could name the wrong file."""
    for evidence in finding.evidence:
        parsed = parse_file_line(evidence.location) if evidence.location else None
        if parsed is not None and posixpath.isabs(parsed[0]):
            return parsed[0], parsed[1]
    for edit in finding.remedy:
        if edit.file and posixpath.isabs(edit.file):
            return edit.file, max(edit.line, 1)
    return root, 1


def _relative(path: str, base: str) -> str:
    """``path`` relative to ``base`` when both are absolute and ``path`` is below it; else as given, without a
    leading ``./``."""
    if posixpath.isabs(path) and posixpath.isabs(base):
        rel = posixpath.relpath(path, base)
        if not rel.startswith(".."):
            return rel
    return path.removeprefix("./")

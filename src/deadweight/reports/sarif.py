"""``deadweight audit --format sarif``: SARIF 2.1.0 for code-scanning UIs (GitHub, GitLab, VS Code viewers).

One run, the rule catalog as ``tool.driver.rules``, one result per finding. A finding whose evidence points at
a project file (``Dockerfile:9``, ``requirements.txt:7``) gets a physical location with a region, so the
annotation lands on that line; one that lives only in the image (a layer, a RECORD file) gets a logical
location naming the service and package or path. Savings and other deadweight data go in ``properties``,
the spec's extension point, since every SARIF object forbids unknown keys. Services that failed and rules
that were skipped become notifications of the invocation rather than being silently absent.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from deadweight._version import __version__
from deadweight.model.audit import AuditReport, ServiceResult
from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.rules import RULES, rule_help_uri, rule_info
from deadweight.safetext import json_report
from deadweight.units import human_bytes

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/deadweight/deadweight"
ROOT_BASE_ID = "PROJECTROOT"

LEVELS = {Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note", Severity.INFO: "note"}

# "path:line" or "path:line:column"; layer digests ("sha256:<hex>") are not files.
_FILE_LINE = re.compile(r"^(?P<path>.+?):(?P<line>[0-9]+)(?::(?P<column>[0-9]+))?$")
_DIGEST = re.compile(r"^sha(256|384|512):[0-9a-fA-F]+$")


def render(report: AuditReport) -> str:
    """The SARIF log as pretty-printed JSON."""
    return json_report(to_sarif(report))


def to_sarif(report: AuditReport) -> dict[str, Any]:
    services = sorted(report.services, key=lambda s: s.name)
    used = {f.rule for s in services for f in s.findings}
    rule_ids = sorted(set(RULES) | used)
    index = {rule: i for i, rule in enumerate(rule_ids)}
    results = [
        _result(f, service, index[f.rule], report.root)
        for service in services
        for f in service.ordered_findings
    ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "deadweight",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFORMATION_URI,
                "rules": [_rule(rule) for rule in rule_ids],
            }
        },
        "invocations": [_invocation(report, services, index)],
        "results": results,
        "columnKind": "unicodeCodePoints",
        "properties": {
            "root": report.root,
            "size_bytes": report.totals.size_bytes,
            "dead_weight_bytes": report.totals.dead_weight_bytes,
            "unique_layer_bytes": report.totals.unique_layer_bytes,
        },
    }
    if PurePosixPath(report.root).is_absolute():
        run["originalUriBaseIds"] = {ROOT_BASE_ID: {"uri": _dir_uri(report.root)}}
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def _rule(rule_id: str) -> dict[str, Any]:
    info = rule_info(rule_id)
    if info is None:  # a rule newer than this catalog: still a valid descriptor
        return {"id": rule_id, "helpUri": rule_help_uri(rule_id)}
    return {
        "id": info.id,
        "name": info.name,
        "shortDescription": {"text": info.title},
        "fullDescription": {"text": info.description},
        "help": {"text": f"{info.description} Fix: {info.fix}", "markdown": _help_markdown(info.id)},
        "helpUri": info.help_uri,
        "defaultConfiguration": {"level": LEVELS[info.severity], "enabled": info.default_enabled},
        "properties": {"tags": ["deadweight", "image-size"], "severity": str(info.severity)},
    }


def _help_markdown(rule_id: str) -> str:
    info = RULES[rule_id]
    return (
        f"**{info.title}**\n\n{info.description}\n\nFix: {info.fix}\n\n"
        f"[Rule documentation]({info.help_uri})"
    )


def _result(finding: Finding, service: ServiceResult, rule_index: int, root: str) -> dict[str, Any]:
    subject = finding.package or finding.path
    saving = ("an estimated " if finding.estimated else "") + human_bytes(finding.savings_bytes)
    text = f"{finding.title}" + (f" ({subject})" if subject else "") + f" in service {service.name}: saves "
    text += f"{saving}."
    if finding.fix:
        text += f" Fix: {finding.fix}"
    physical = [e for e in finding.evidence if e.location and parse_file_line(e.location)]
    primary = physical[0] if physical else None
    result: dict[str, Any] = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": text},
        "locations": [_physical(primary, root) if primary else _logical(finding, service)],
        "partialFingerprints": {"deadweightFinding/v1": _fingerprint(finding, service)},
        "properties": {
            "savings_bytes": finding.savings_bytes,
            "estimated": finding.estimated,
            "confidence": finding.confidence.value,
            "severity": str(finding.severity),
            "service": service.name,
            "image": service.image,
            "package": finding.package,
            "path": finding.path,
        },
    }
    related = [
        _physical(e, root, related_id=i) for i, e in enumerate(physical[1:], start=1)
    ]
    if related:
        result["relatedLocations"] = related
    return result


def parse_file_line(location: str) -> tuple[str, int, int | None] | None:
    """``"Dockerfile:9"`` -> ``("Dockerfile", 9, None)``; None for anything that is not ``file:line``
    (a layer digest, a bare image path)."""
    if _DIGEST.match(location):
        return None
    match = _FILE_LINE.match(location)
    if not match or int(match["line"]) < 1:
        return None
    column = int(match["column"]) if match["column"] else None
    return match["path"], int(match["line"]), column if column and column >= 1 else None


def _physical(evidence: Evidence, root: str, related_id: int | None = None) -> dict[str, Any]:
    assert evidence.location is not None  # callers pass only evidence that parsed as file:line
    parsed = parse_file_line(evidence.location)
    assert parsed is not None
    path, line, column = parsed
    region: dict[str, Any] = {"startLine": line}
    if column is not None:
        region["startColumn"] = column
    artifact: dict[str, Any] = {"uri": _file_uri(path)}
    if not PurePosixPath(path).is_absolute() and PurePosixPath(root).is_absolute():
        artifact["uriBaseId"] = ROOT_BASE_ID
    location: dict[str, Any] = {"physicalLocation": {"artifactLocation": artifact, "region": region}}
    if related_id is not None:
        location["id"] = related_id
        location["message"] = {"text": f"{evidence.kind}: {evidence.detail}"}
    return location


def _logical(finding: Finding, service: ServiceResult) -> dict[str, Any]:
    if finding.package:
        name, kind = finding.package, "module"
    elif finding.path:
        name, kind = finding.path, "resource"
    else:
        name, kind = service.name, "resource"
    qualified = service.name if name == service.name else f"{service.name}:{name}"
    return {"logicalLocations": [{"name": name, "fullyQualifiedName": qualified, "kind": kind}]}


def _file_uri(path: str) -> str:
    """A relative path stays relative (resolved against PROJECTROOT); an absolute one becomes file://."""
    if PurePosixPath(path).is_absolute():
        return "file://" + quote(path, safe="/")
    return quote(path.removeprefix("./"), safe="/")


def _dir_uri(path: str) -> str:
    return "file://" + quote(path.rstrip("/") + "/", safe="/")


def _fingerprint(finding: Finding, service: ServiceResult) -> str:
    """Stable across runs and savings changes, so code-scanning UIs track one alert per thing."""
    key = "\0".join([finding.rule, service.name, finding.package or "", finding.path or ""])
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _invocation(report: AuditReport, services: list[ServiceResult], index: dict[str, int]) -> dict[str, Any]:
    failures = [
        {"level": "error", "message": {"text": f"service {s.name}: {s.error}"}}
        for s in services
        if s.error
    ]
    failures += [{"level": "warning", "message": {"text": w}} for w in sorted(report.warnings)]
    failures += [
        {"level": "warning", "message": {"text": f"service {s.name}: {w}"}}
        for s in services
        for w in sorted(s.warnings)
    ]
    skipped = [
        {
            "level": "note",
            "message": {"text": f"{sk.rule} skipped for service {s.name}: {sk.reason}"},
            "descriptor": {"id": sk.rule, **({"index": index[sk.rule]} if sk.rule in index else {})},
        }
        for s in services
        for sk in sorted(s.skipped, key=lambda sk: (sk.rule, sk.reason))
    ]
    invocation: dict[str, Any] = {"executionSuccessful": not any(s.error for s in services)}
    if failures:
        invocation["toolExecutionNotifications"] = failures
    if skipped:
        invocation["toolConfigurationNotifications"] = skipped
    return invocation

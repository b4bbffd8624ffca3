"""A previous report to ratchet against: ``audit --format json`` (``deadweight/1``) or ``guard --format json``
(``deadweight-guard/1``, which also lists each service's distributions, so "what appeared" can be told)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deadweight.errors import SourceError, UsageError
from deadweight.infile import read_bounded_text

AUDIT_SCHEMA = "deadweight/1"
GUARD_SCHEMA = "deadweight-guard/1"


class BaselineError(SourceError):
    """The baseline file could not be read or is not a deadweight report (exit 3)."""


@dataclass(frozen=True)
class BaselineService:
    name: str
    mode: str | None
    size_bytes: int | None
    finding_keys: frozenset[tuple[str, str, str, str]]  # (rule, service, package, path)
    distributions: Mapping[str, int] | None  # None: the report does not list them (an audit report)
    error: str | None = None


@dataclass(frozen=True)
class Baseline:
    path: str
    schema: str
    services: Mapping[str, BaselineService]


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _finding_key(finding: Any, service: str, where: str) -> tuple[str, str, str, str]:
    if not isinstance(finding, Mapping) or not isinstance(finding.get("rule"), str):
        raise BaselineError(f"{where}: a finding of service {service} has no rule")
    return (finding["rule"], service, finding.get("package") or "", finding.get("path") or "")


def parse_baseline(doc: Any, where: str) -> Baseline:
    if not isinstance(doc, Mapping):
        raise BaselineError(f"{where}: not a deadweight report (expected a JSON object)")
    schema = doc.get("schema")
    if schema == AUDIT_SCHEMA and doc.get("command", "audit") != "audit":
        raise BaselineError(f"{where}: a {doc.get('command')!r} report, not an audit or guard report")
    if schema not in (AUDIT_SCHEMA, GUARD_SCHEMA):
        raise BaselineError(
            f"{where}: schema {schema!r} is not a baseline deadweight reads ({AUDIT_SCHEMA} from audit "
            f"--format json, {GUARD_SCHEMA} from guard --format json)"
        )
    raw_services = doc.get("services")
    if not isinstance(raw_services, list):
        raise BaselineError(f"{where}: no services list")
    services: dict[str, BaselineService] = {}
    for raw in raw_services:
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise BaselineError(f"{where}: a service without a name")
        name = raw["name"]
        findings = raw.get("findings", [])
        if not isinstance(findings, list):
            raise BaselineError(f"{where}: service {name}: findings is not a list")
        dists: dict[str, int] | None = None
        if schema == GUARD_SCHEMA:
            facts = raw.get("facts") or {}
            raw_dists = facts.get("distributions") if isinstance(facts, Mapping) else None
            if isinstance(raw_dists, Mapping):
                dists = {str(k): int(v) for k, v in raw_dists.items() if isinstance(v, int)}
            size = _int_or_none(facts.get("size_bytes")) if isinstance(facts, Mapping) else None
        else:
            size = _int_or_none(raw.get("size_bytes"))
        services[name] = BaselineService(
            name=name,
            mode=raw.get("mode") if isinstance(raw.get("mode"), str) else None,
            size_bytes=size,
            finding_keys=frozenset(_finding_key(f, name, where) for f in findings),
            distributions=dists,
            error=raw.get("error") if isinstance(raw.get("error"), str) else None,
        )
    return Baseline(path=where, schema=str(schema), services=services)


#: A baseline is a previous audit's JSON report: a 500-service fleet writes a few MiB.
MAX_BASELINE_BYTES = 256 << 20


def load_baseline(path: str) -> Baseline:
    """Read ``path``. A path that does not exist is a usage error (exit 2); a file that cannot be read or is
    not a deadweight audit/guard JSON report is ``BaselineError`` (exit 3)."""
    file = Path(path)
    if not file.exists():
        raise UsageError(f"--baseline {path}: no such file")
    try:
        doc = json.loads(read_bounded_text(file, limit=MAX_BASELINE_BYTES))
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: cannot read the baseline: {exc}") from None
    except json.JSONDecodeError as exc:
        raise BaselineError(f"{path}: the baseline is not JSON: {exc}") from None
    return parse_baseline(doc, path)

"""A small audited fleet built by hand for the guard tests: ``api`` measured (CUDA torch, a pip cache, an
unpinned requirement), ``etl`` static (estimated, no layers or breakdown), ``batch`` not audited."""

from __future__ import annotations

import datetime as dt
import tomllib
from typing import Any

from deadweight.guard.baseline import Baseline, parse_baseline
from deadweight.guard.config import GuardConfig, parse_guard
from deadweight.guard.evaluate import evaluate
from deadweight.guard.model import Facts, GuardVerdict
from deadweight.model.audit import AuditReport, AuditTotals, ServiceResult, SkippedRule
from deadweight.model.finding import Finding, Severity

TODAY = dt.date(2026, 6, 1)
GB = 1000**3
MB = 1000**2


def finding(rule: str, service: str, savings: int, *, package: str | None = None, path: str | None = None,
            severity: Severity = Severity.MEDIUM, estimated: bool = False) -> Finding:
    return Finding(rule=rule, title=f"title of {rule}", service=service, severity=severity, package=package,
                   path=path, savings_bytes=savings, estimated=estimated)


def api(findings: tuple[Finding, ...] | None = None, size: int = 3 * GB) -> ServiceResult:
    findings = findings if findings is not None else (
        finding("DW101", "api", 2 * GB, package="torch", severity=Severity.HIGH),
        finding("DW302", "api", 150 * MB, path="/root/.cache/pip"),
        finding("DW501", "api", 0, package="fastapi", severity=Severity.LOW),
    )
    return ServiceResult("api", "docker:api:1", "image", size, sum(f.savings_bytes for f in findings),
                         findings=findings, skipped=(SkippedRule("DW701", "needs --run (observed memory)"),))


def etl() -> ServiceResult:
    return ServiceResult("etl", None, "static", 400 * MB, 0, findings=())


def batch() -> ServiceResult:
    return ServiceResult("batch", None, "static", None, 0, error="Dockerfile: cannot parse line 3")


def report(*services: ServiceResult) -> AuditReport:
    services = services or (api(), etl())
    size = sum(s.size_bytes or 0 for s in services)
    return AuditReport("/proj", services, AuditTotals(size, sum(s.dead_weight_bytes for s in services), size))


def api_facts(result: ServiceResult | None = None, **changes: Any) -> Facts:
    result = result or api()
    base: dict[str, Any] = {
        "size_bytes": result.size_bytes, "compressed_bytes": None, "largest_layer_bytes": 2500 * MB,
        "layer_count": 9, "dead_weight_bytes": result.dead_weight_bytes,
        "breakdown": {"gpu": 2 * GB, "caches": 150 * MB, "toolchain": 0, "other": 850 * MB},
        "distributions": {"torch": 800 * MB, "nvidia-cublas-cu12": 700 * MB, "nvidia-cudnn-cu12": 500 * MB,
                          "fastapi": 1 * MB},
        "estimated": False,
        "notes": ("docker:api:1: the source gives no compressed layer sizes",),
    }
    base.update(changes)
    return Facts(**base)


def etl_facts() -> Facts:
    return Facts(400 * MB, None, None, None, 0, None, {"pandas": 70 * MB, "numpy": 40 * MB}, estimated=True,
                 notes=("static audit: no image, so no layers, compressed size or breakdown",))


def guard(text: str) -> GuardConfig:
    return parse_guard(tomllib.loads(text), "pyproject.toml")


def baseline_of(*services: dict[str, Any], schema: str = "deadweight/1") -> Baseline:
    doc: dict[str, Any] = {"schema": schema, "command": "audit" if schema == "deadweight/1" else "guard",
                           "services": list(services)}
    return parse_baseline(doc, "baseline.json")


def run(text: str, rep: AuditReport | None = None, facts: dict[str, Facts] | None = None, *,
        baseline: Baseline | None = None, today: dt.date = TODAY, allow_unchecked: bool = False) -> GuardVerdict:
    rep = rep or report()
    facts = facts if facts is not None else {"api": api_facts(), "etl": etl_facts()}
    return evaluate(rep, facts, guard(text), baseline=baseline, today=today, allow_unchecked=allow_unchecked)

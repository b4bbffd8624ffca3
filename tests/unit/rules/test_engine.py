"""evaluate_all: selection, what a rule needs, and every kind of ignore, applied once, in the engine.

The inputs are real project directories read by ``load_project`` (requirements with inline comments, a
Dockerfile with ``RUN pip install``), so the ignores come from the parser exactly as the audit sees them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import pytest

from deadweight.config import Config
from deadweight.model.finding import Finding
from deadweight.model.usage import Verdict, VerdictStatus
from deadweight.rules.dw70x_memory import LooseMemoryLimit, TightMemoryLimit
from deadweight.rules.dw201_unused_declared import UnusedDeclared
from deadweight.rules.dw202_undeclared_unused import UndeclaredUnused
from deadweight.rules.dw501_unpinned import UnpinnedRequirement
from deadweight.rules.dw801_tests_docs import TestsAndDocs
from deadweight.rules.engine import evaluate_all
from deadweight.rules.registry import ALL_RULES
from tests.unit.rules.ruleimages import context, requirements_service, service

REQUIREMENTS = """\
requests>=2.0  # deadweight: ignore[DW201]
fastapi
httpx~=0.27  # deadweight: ignore[DW5]
pandas==2.2.3
"""
DOCKERFILE = """\
FROM python:3.11-slim
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
RUN pip install --no-cache-dir requests==2.32.3
"""
UNUSED = {name: Verdict(name, VerdictStatus.DECLARED_UNUSED) for name in ("requests", "pandas")}
RULES = (UnusedDeclared(), UnpinnedRequirement())


def keys(findings: Iterable[Finding]) -> list[tuple[str, str | None, str]]:
    """(rule, package, file name:line of the first edit of the remedy) of each finding, sorted."""
    out = []
    for f in findings:
        where = f"{Path(f.remedy[0].file).name}:{f.remedy[0].line}" if f.remedy else ""
        out.append((f.rule, f.package, where))
    return sorted(out)


def test_inline_ignores_silence_their_rule_on_their_line_only(tmp_path: Path) -> None:
    svc = requirements_service(tmp_path / "svc", REQUIREMENTS, DOCKERFILE)
    evaluation = evaluate_all(context(svc, verdicts=UNUSED), RULES)
    assert keys(evaluation.findings) == [
        # requests is declared twice: the requirements line says ignore[DW201], the RUN line does not
        ("DW201", "pandas", "requirements.txt:4"),
        ("DW201", "requests", "Dockerfile:4"),
        ("DW501", "fastapi", ""),  # not in the image: no version to pin to, so no edit
        # requests>=2.0 is no DW501: the RUN line installs requests==2.32.3, which fixes the image's version
    ]
    assert keys(evaluation.suppressed) == [
        ("DW201", "requests", "requirements.txt:1"),
        ("DW501", "httpx", ""),  # ignore[DW5]: a prefix
    ]


def test_rules_report_everything_and_leave_the_ignoring_to_the_engine(tmp_path: Path) -> None:
    svc = requirements_service(tmp_path / "svc", REQUIREMENTS, DOCKERFILE)
    ctx = context(svc, verdicts=UNUSED)
    reported = [(f.rule, f.package) for rule in RULES for f in rule.evaluate(ctx)]
    assert ("DW201", "requests") in reported and ("DW501", "httpx") in reported
    kept = evaluate_all(ctx, RULES)
    assert len(kept.findings) + len(kept.suppressed) == len(reported)


def test_per_package_ignores(tmp_path: Path) -> None:
    svc = requirements_service(tmp_path / "svc", REQUIREMENTS, DOCKERFILE)
    config = Config(per_package_ignores={"pandas": ("DW2",), "fastapi": ("*",), "requests": ("DW501",)})
    evaluation = evaluate_all(context(svc, config=config, verdicts=UNUSED), RULES)
    assert keys(evaluation.findings) == [("DW201", "requests", "Dockerfile:4")]
    assert ("DW201", "pandas", "requirements.txt:4") in keys(evaluation.suppressed)
    assert ("DW501", "fastapi", "") in keys(evaluation.suppressed)


@pytest.mark.parametrize(("config", "ran"), [
    (Config(ignore=("DW5",)), ["DW201"]),
    (Config(select=("DW501",)), ["DW501"]),
    (Config(select=("DW2",), ignore=("DW201",)), []),
])
def test_select_and_ignore_decide_which_rules_run(tmp_path: Path, config: Config, ran: list[str]) -> None:
    svc = requirements_service(tmp_path / "svc", REQUIREMENTS, DOCKERFILE)
    evaluation = evaluate_all(context(svc, config=config, verdicts=UNUSED), RULES)
    assert sorted({f.rule for f in (*evaluation.findings, *evaluation.suppressed)}) == ran
    assert evaluation.skipped == ()  # not selected is not "skipped"


def test_what_a_rule_needs_makes_it_skipped_with_a_reason() -> None:
    static = evaluate_all(context(), ALL_RULES)
    reasons = {s.rule: s.reason for s in static.skipped}
    assert reasons == {
        "DW202": "needs an image (static audit)",
        "DW303": "needs an image (static audit)",
        "DW701": "needs --run (observed memory)",
        "DW702": "needs --run (observed memory)",
    }  # DW801 is off by default: neither run nor skipped
    memory = (TightMemoryLimit(), LooseMemoryLimit())
    no_limit = evaluate_all(context(memory_peak_bytes=100 << 20), memory, run=True)
    assert {s.reason for s in no_limit.skipped} == {"no memory limit set"}
    unobserved = evaluate_all(context(service(memory_limit_bytes=1 << 30)), memory, run=True)
    assert {s.reason for s in unobserved.skipped} == {"memory could not be observed"}
    opted_in = evaluate_all(context(config=Config(select=("DW801",))), (TestsAndDocs(), UndeclaredUnused()))
    assert [s.rule for s in opted_in.skipped] == ["DW801"]


def test_no_rule_module_applies_an_ignore_itself() -> None:
    """The engine is the one place that reads ignores and selection; a rule doing so would apply it twice."""
    rules_dir = Path(__file__).resolve().parents[3] / "src" / "deadweight" / "rules"
    pattern = re.compile(r"\.ignores\b|package_ignored|rule_enabled|per_package_ignores")
    offenders = [p.name for p in sorted(rules_dir.glob("*.py"))
                 if p.name != "engine.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []

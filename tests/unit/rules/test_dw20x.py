"""DW201 / DW202 with verdicts the usage layer decides from real code, requirements and an image.

The image holds a dependency diamond: ``requests`` (declared, unused) and ``httpx`` (declared, used) both
need ``certifi``; only ``requests`` needs ``urllib3``. Removing requests frees requests and urllib3, never
certifi. ``boto3`` comes with the base image, is declared nowhere, and pulls ``botocore``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from deadweight.model.analysis import ImageAnalysis
from deadweight.model.finding import Finding, deduplicated_savings
from deadweight.model.inventory import Inventory
from deadweight.model.project import Service
from deadweight.model.remedy import RemoveRequirement
from deadweight.model.usage import Confidence, EvidenceKind, UsageEvidence, Verdict, VerdictStatus
from deadweight.project.loader import load_project
from deadweight.rules.base import Rule, RuleContext
from deadweight.rules.dw201_unused_declared import UnusedDeclared
from deadweight.rules.dw202_undeclared_unused import MIN_BYTES, UndeclaredUnused
from deadweight.rules.engine import evaluate_all
from deadweight.usage.imports import import_evidence
from deadweight.usage.verdicts import decide
from tests.unit.rules.ruleimages import SITE, analyze, context, dist

APP = "import fastapi\nimport httpx\n\napp = fastapi.FastAPI()\n"
REQUIREMENTS = """\
fastapi==0.115.0
httpx==0.27.2
requests==2.32.3
pyyaml==6.0.2  # deadweight: ignore[DW201]
"""
DOCKERFILE = """\
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py .
CMD ["uvicorn", "app:app"]
"""


def image(tmp_path: Path) -> tuple[ImageAnalysis, Inventory]:
    base = dist("boto3", "1.35.0", {"boto3/__init__.py": 60_000}, requires=("botocore",)) + dist(
        "botocore", "1.35.0", {"botocore/data/endpoints.json": 200_000}, requested=False
    )
    layer = (
        dist("fastapi", "0.115.0", {"fastapi/__init__.py": 2_000}, requires=("starlette",))
        + dist("starlette", "0.38.6", {"starlette/__init__.py": 1_500}, requested=False)
        + dist("httpx", "0.27.2", {"httpx/__init__.py": 3_000}, requires=("certifi",))
        + dist("requests", "2.32.3", {"requests/__init__.py": 40_000}, requires=("urllib3<3", "certifi"))
        + dist("urllib3", "2.2.3", {"urllib3/__init__.py": 30_000}, requested=False)
        + dist("certifi", "2024.8.30", {"certifi/cacert.pem": 50_000}, requested=False)
        + dist("pyyaml", "6.0.2", {"yaml/__init__.py": 20_000})
    )
    return analyze(tmp_path, [base, layer], created_by=["COPY base /", "RUN pip install -r requirements.txt"])


def project(tmp_path: Path, dockerfile: str = DOCKERFILE) -> Service:
    root = tmp_path / "api"
    root.mkdir(exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    (root / "requirements.txt").write_text(REQUIREMENTS)
    (root / "app.py").write_text(APP)
    return load_project(str(root), environ={}).services[0]


def ctx_for(
    tmp_path: Path, extra_evidence: tuple[UsageEvidence, ...] = (), dockerfile: str = DOCKERFILE
) -> RuleContext:
    analysis, inventory = image(tmp_path)
    svc = project(tmp_path, dockerfile)
    declared = frozenset(r.name for r in svc.requirements)
    evidence = import_evidence(ast.parse(APP), "app.py") + list(extra_evidence)
    verdicts = decide(inventory.distributions(), declared, evidence)
    return context(svc, analysis, inventory, verdicts=verdicts, declared=declared)


def found(rule: Rule, ctx: RuleContext) -> list[Finding]:
    """What the audit keeps of ``rule``'s findings: the engine applies the inline ignores."""
    return list(evaluate_all(ctx, (rule,)).findings)


def files_of(analysis: ImageAnalysis | None, *tops: str) -> dict[str, int]:
    assert analysis is not None
    prefixes = tuple(f"{SITE}/{t}" for t in tops)
    return {n.path: n.size for n in analysis.tree.nodes() if n.kind.value == "file" and n.path.startswith(prefixes)}


def test_verdicts_are_what_the_rules_expect(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path)
    status = {name: v.status for name, v in ctx.verdicts.items()}
    assert status["requests"] is VerdictStatus.DECLARED_UNUSED
    assert status["pyyaml"] is VerdictStatus.DECLARED_UNUSED
    assert status["boto3"] is VerdictStatus.ORPHAN
    assert status["certifi"] is VerdictStatus.USED_TRANSITIVELY
    assert status["httpx"] is VerdictStatus.USED


def test_dw201_counts_exclusive_bytes_and_never_the_shared_dependency(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path)
    [finding] = found(UnusedDeclared(), ctx)  # pyyaml is declared-unused too, but ignored inline
    assert finding.package == "requests"
    expected = files_of(ctx.analysis, "requests", "urllib3")
    assert finding.savings_bytes == sum(expected.values())
    assert dict(finding.claims) == {f"file:{p}": s for p, s in expected.items()}
    assert not any("certifi" in key for key in finding.claims)
    req_file = str(Path(ctx.service.context_dir or "") / "requirements.txt")
    assert finding.evidence[0].location == f"{req_file}:3"
    assert finding.fix == f"Remove requests from {req_file}:3."
    assert "urllib3" in finding.evidence[-1].detail


@pytest.mark.parametrize("status", [VerdictStatus.USED, VerdictStatus.UNKNOWN, VerdictStatus.USED_TRANSITIVELY])
def test_dw201_silent_unless_declared_unused(tmp_path: Path, status: VerdictStatus) -> None:
    ctx = ctx_for(tmp_path)
    verdicts = {name: Verdict(name, status) for name in ctx.verdicts}
    ctx = context(ctx.service, ctx.analysis, ctx.inventory, verdicts=verdicts, declared=ctx.declared)
    assert list(UnusedDeclared().evaluate(ctx)) == []


def test_dw201_without_an_image_still_reports_with_zero_bytes(tmp_path: Path) -> None:
    svc = project(tmp_path)
    verdicts = {"requests": Verdict("requests", VerdictStatus.DECLARED_UNUSED, confidence=Confidence.HIGH)}
    [finding] = UnusedDeclared().evaluate(context(svc, verdicts=verdicts))
    assert finding.savings_bytes == 0 and finding.package == "requests"


def test_dw202_reports_the_stray_install_with_what_leaves_with_it(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path)
    findings = list(UndeclaredUnused().evaluate(ctx))
    assert [f.package for f in findings] == ["boto3"]  # botocore leaves with boto3: not a finding of its own
    [finding] = findings
    expected = files_of(ctx.analysis, "boto3", "botocore")
    assert finding.savings_bytes == sum(expected.values())
    assert set(finding.claims) == {f"file:{p}" for p in expected}
    assert finding.evidence[0].location == f"{SITE}/boto3-1.35.0.dist-info"
    assert finding.evidence[1].kind == "layer" and finding.evidence[1].location == ctx.analysis.layers[0].diff_id
    assert finding.evidence[1].detail == "layer 0 (COPY base /): installed boto3"


def test_dw202_leaves_what_a_dw201_removal_frees_to_dw201(tmp_path: Path) -> None:
    """boto3 installed by a RUN line is declared (DW201); botocore, orphaned by it, is not a DW202 of its own."""
    ctx = ctx_for(tmp_path, dockerfile=DOCKERFILE.replace("COPY app.py", "RUN pip install boto3\nCOPY app.py"))
    assert ctx.verdicts["boto3"].status is VerdictStatus.DECLARED_UNUSED
    assert ctx.verdicts["botocore"].status is VerdictStatus.ORPHAN
    dw201 = {f.package: f for f in found(UnusedDeclared(), ctx)}
    assert set(dw201) == {"requests", "boto3"}
    assert any("botocore" in key for key in dw201["boto3"].claims)
    assert list(UndeclaredUnused().evaluate(ctx)) == []


def test_dw202_skips_declared_small_and_used(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, (UsageEvidence(EvidenceKind.IMPORT, "import boto3", "jobs.py:1", "boto3"),))
    assert ctx.verdicts["boto3"].status is VerdictStatus.USED
    assert list(UndeclaredUnused().evaluate(ctx)) == []
    # declared (even though the verdict says orphan) -> DW201's business, not DW202's
    ctx = ctx_for(tmp_path)
    declared = context(ctx.service, ctx.analysis, ctx.inventory, verdicts=ctx.verdicts,
                       declared=ctx.declared | {"boto3", "botocore"})
    assert list(UndeclaredUnused().evaluate(declared)) == []
    # below the 100 KiB floor
    assert MIN_BYTES == 100 * 1024
    small = {n: v for n, v in ctx.verdicts.items() if n not in ("boto3", "botocore")}
    small["urllib3"] = Verdict("urllib3", VerdictStatus.ORPHAN)
    assert list(UndeclaredUnused().evaluate(context(ctx.service, ctx.analysis, ctx.inventory, verdicts=small,
                                                    declared=ctx.declared))) == []


def test_dw201_and_dw202_totals_count_each_byte_once(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path)
    findings = found(UnusedDeclared(), ctx) + found(UndeclaredUnused(), ctx)
    expected = files_of(ctx.analysis, "requests", "urllib3", "boto3", "botocore")
    assert deduplicated_savings(findings) == sum(expected.values())


def test_dw202_cites_install_lines_by_exact_name(tmp_path: Path) -> None:
    """An install of boto3-stubs is not an install of boto3; an install of Boto3[crt] is."""
    from dataclasses import replace

    ctx = ctx_for(tmp_path, dockerfile=DOCKERFILE.replace("COPY app.py", "RUN pip install boto3-stubs\nCOPY app.py"))
    [finding] = UndeclaredUnused().evaluate(ctx)
    assert not [e for e in finding.evidence if e.kind == "dockerfile"]
    # declared elsewhere by the orchestrator's choice: the RUN line naming it is cited
    named = replace(ctx.service.installs[-1], packages=("Boto3[crt]>=1.35",))
    svc = replace(ctx.service, installs=(*ctx.service.installs, named))
    [finding] = UndeclaredUnused().evaluate(context(svc, ctx.analysis, ctx.inventory, verdicts=ctx.verdicts,
                                                    declared=ctx.declared))
    assert [e.location for e in finding.evidence if e.kind == "dockerfile"] == [f"{svc.dockerfile_path}:{named.line}"]


# ------------------------------------------------------------------ remedies


def test_dw201_remedy_removes_the_declaring_line(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path, dockerfile=DOCKERFILE.replace("COPY app.py", "RUN pip install boto3\nCOPY app.py"))
    by_package = {f.package: f for f in found(UnusedDeclared(), ctx)}
    [edit] = by_package["requests"].remedy
    assert isinstance(edit, RemoveRequirement) and edit.kind == "remove-requirement"
    req_file = str(Path(ctx.service.context_dir or "") / "requirements.txt")
    assert (edit.package, edit.file, edit.line, edit.end_line) == ("requests", req_file, 3, 3)
    assert edit.original.strip() == "requests==2.32.3"
    # declared by a RUN line: the edit names the Dockerfile line and the token as written there
    [run_edit] = by_package["boto3"].remedy
    assert isinstance(run_edit, RemoveRequirement)
    assert (run_edit.file, run_edit.line, run_edit.original) == (ctx.service.dockerfile_path, 5, "boto3")
    assert by_package["boto3"].fix == f"Remove boto3 from {ctx.service.dockerfile_path}:5."


def test_dw202_remedy_only_where_the_project_names_the_install(tmp_path: Path) -> None:
    from dataclasses import replace

    ctx = ctx_for(tmp_path)
    [finding] = found(UndeclaredUnused(), ctx)
    assert finding.remedy == ()  # the base image installs it: no line of the project to edit
    assert finding.fix == "Find the step that installs boto3 and remove it."
    assert finding.evidence[-1].detail == "also frees botocore"  # the same removal finding DW201 builds
    named = replace(ctx.service.installs[-1], packages=("Boto3[crt]>=1.35",))
    svc = replace(ctx.service, installs=(*ctx.service.installs, named))
    [finding] = found(UndeclaredUnused(), context(svc, ctx.analysis, ctx.inventory, verdicts=ctx.verdicts,
                                                  declared=ctx.declared))
    [edit] = finding.remedy
    assert isinstance(edit, RemoveRequirement)
    assert (edit.file, edit.line, edit.original) == (svc.dockerfile_path, named.line, "Boto3[crt]>=1.35")
    assert finding.fix == f"Remove boto3 from {svc.dockerfile_path}:{named.line}."


def test_dw201_never_counts_what_the_code_uses_itself(tmp_path: Path) -> None:
    """urllib3 is required only by requests, but the code imports it: removing requests leaves it."""
    uses_urllib3 = UsageEvidence(EvidenceKind.IMPORT, "import urllib3", "app.py:9", "urllib3", Confidence.HIGH)
    ctx = ctx_for(tmp_path, (uses_urllib3,))
    assert ctx.verdicts["urllib3"].status is VerdictStatus.USED
    [finding] = found(UnusedDeclared(), ctx)
    expected = files_of(ctx.analysis, "requests")
    assert finding.savings_bytes == sum(expected.values())
    assert not any("urllib3" in e.detail for e in finding.evidence)


def test_dw201_never_counts_a_declared_or_undecided_dependency(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path)
    # declared: the requirement keeps installing urllib3 whatever happens to requests
    declared = context(ctx.service, ctx.analysis, ctx.inventory, verdicts=ctx.verdicts,
                       declared=ctx.declared | {"urllib3"})
    [finding] = found(UnusedDeclared(), declared)
    assert finding.savings_bytes == sum(files_of(ctx.analysis, "requests").values())
    # unknown: when in doubt it stays, and so does what it requires
    unknown = {**ctx.verdicts, "urllib3": Verdict("urllib3", VerdictStatus.UNKNOWN)}
    [finding] = found(UnusedDeclared(), context(ctx.service, ctx.analysis, ctx.inventory, verdicts=unknown,
                                                declared=ctx.declared))
    assert finding.savings_bytes == sum(files_of(ctx.analysis, "requests").values())


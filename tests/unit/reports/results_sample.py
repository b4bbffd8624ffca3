"""A verified fleet built by hand, shared by the results report tests (``optimize``).

Two services of ``audit_sample``'s audit, rebuilt and checked: ``api`` (CUDA torch to the CPU build and the pip
cache gone: 5.61 GB -> 1.12 GB, every check passed) and ``worker`` (its apt recommends gone; the DW301 builder
stage left out libpq.so.5, so ``import psycopg2`` failed, bisection dropped that edit and the rest passed).
They share a 241 MB base layer, so the fleet with shared layers counted once is 241 MB smaller than the sums.
"""

from __future__ import annotations

from deadweight.model.audit import AuditReport, AuditTotals
from deadweight.model.cost import CostModel
from deadweight.model.plan import FileChange, FixPlan, PlannedFix
from deadweight.model.verification import (
    BuildRecord,
    CheckResult,
    ClassChange,
    DistributionChange,
    EditOutcome,
    ImageComparison,
    ImageFigures,
    LayerRow,
    ServiceVerification,
    VerifyReport,
)
from tests.unit.reports.audit_sample import api, worker

BASE = LayerRow(0, 241_000_000, 80_000_000, "/bin/sh -c #(nop) ADD file:debian in /")


def _fix(
    service: str,
    rule: str,
    *,
    package: str | None = None,
    path: str | None = None,
    hint: str,
    savings: int,
    files: tuple[str, ...],
) -> PlannedFix:
    return PlannedFix(
        service=service,
        rule=rule,
        title={
            "DW101": "CUDA torch in a CPU-only service",
            "DW302": "Package-manager cache baked into a layer",
            "DW301": "Build toolchain in the final image",
            "DW304": "apt install without --no-install-recommends",
        }[rule],
        package=package,
        path=path,
        hint=hint,
        savings_bytes=savings,
        estimated=False,
        severity=next(f.severity for f in (*api().findings, *worker().findings) if f.rule == rule),
        status="planned",
        changes=tuple(FileChange(f, "old\n", "new\n") for f in files),
    )


TORCH = _fix(
    "api",
    "DW101",
    package="torch",
    hint="install torch from https://download.pytorch.org/whl/cpu",
    savings=4_490_000_000,
    files=("requirements.txt", "Dockerfile"),
)
PIP_CACHE = _fix(
    "api",
    "DW302",
    path="/root/.cache/pip",
    hint="pip install --no-cache-dir",
    savings=180_000_000,
    files=("Dockerfile",),
)
RECOMMENDS = _fix(
    "worker", "DW304", hint="apt-get install --no-install-recommends", savings=45_000_000, files=("worker/Dockerfile",)
)
TOOLCHAIN = _fix(
    "worker",
    "DW301",
    package="gcc-12",
    hint="use a [builder] stage | copy the wheels",
    savings=210_000_000,
    files=("worker/Dockerfile",),
)


def _image(ref: str, layers: tuple[LayerRow, ...], dead: int, findings: int) -> ImageFigures:
    return ImageFigures(
        ref=ref,
        size_bytes=sum(r.size_bytes for r in layers),
        compressed_bytes=sum(r.compressed_bytes or 0 for r in layers),
        largest_layer_bytes=max(r.size_bytes for r in layers),
        layers=layers,
        dead_weight_bytes=dead,
        findings=findings,
    )


def api_verification() -> ServiceVerification:
    before = _image(
        "docker:deadweight-verify/api:before",
        (BASE, LayerRow(1, 5_369_000_000, 3_280_000_000, "RUN pip install -r requirements.txt")),
        4_740_000_000,
        5,
    )
    after = _image(
        "docker:deadweight-verify/api:after",
        (BASE, LayerRow(1, 879_000_000, 340_000_000, "RUN pip install --no-cache-dir -r requirements.txt")),
        70_000_000,
        2,
    )
    image = "docker run --rm deadweight-verify/api:after"
    checks = (
        CheckResult(
            "pip-check", "pip check", "pass", "no broken requirements", f"{image} python -m pip check", seconds=1.5
        ),
        CheckResult(
            "imports",
            "import fastapi, torch, uvicorn, app.main",
            "pass",
            "4 modules",
            f"{image} python -c 'import fastapi, torch, uvicorn, app.main'",
            seconds=3.0,
            data={"modules": {"torch": None, "fastapi": None}},
        ),
        CheckResult(
            "framework",
            "torch 2.5.1+cpu, cuda unavailable, same matmul",
            "pass",
            "",
            f"{image} python -c 'import torch; print(torch.__version__)'",
            image="both",
            seconds=4.0,
        ),
        CheckResult("openapi", "GET routes of /openapi.json", "skip", "no OpenAPI document", "", image="both"),
    )
    return ServiceVerification(
        service="api",
        before_build=BuildRecord("deadweight-verify/api:before", 160.0, 2.0),
        after_build=BuildRecord("deadweight-verify/api:after", 95.0, 1.5),
        comparison=ImageComparison(
            before=before,
            after=after,
            distributions=(
                DistributionChange("nvidia-cublas-cu12", "removed", "12.4.5.8", None, 2_790_000_000, 0),
                DistributionChange("torch", "changed", "2.5.1", "2.5.1+cpu", 1_700_000_000, 700_000_000),
                DistributionChange("fastapi", "kept", "0.115.0", "0.115.0", 500_000, 500_000),
            ),
            classes=(ClassChange("gpu", 2_790_000_000, 0),),
        ),
        checks=checks,
        edits=(
            EditOutcome(TORCH, "kept", measured_savings_bytes=4_300_000_000),
            EditOutcome(PIP_CACHE, "kept", measured_savings_bytes=190_000_000),
        ),
        verify_seconds=8.5,
    )


def worker_verification() -> ServiceVerification:
    before = _image(
        "docker:worker:latest",
        (BASE, LayerRow(1, 1_009_000_000, 420_000_000, "RUN apt-get install -y build-essential libpq5")),
        255_000_000,
        2,
    )
    after = _image(
        "docker:deadweight-verify/worker:after",
        (BASE, LayerRow(1, 964_000_000, 400_000_000, "RUN apt-get install -y --no-install-recommends ...")),
        210_000_000,
        1,
    )
    image = "docker run --rm deadweight-verify/worker:after"
    return ServiceVerification(
        service="worker",
        before_build=BuildRecord("worker:latest", None, None, builder="given"),
        after_build=BuildRecord("deadweight-verify/worker:after", 40.0, 1.0),
        comparison=ImageComparison(before=before, after=after, distributions=(), classes=()),
        checks=(
            CheckResult("pip-check", "pip check", "pass", "", f"{image} python -m pip check", seconds=1.0),
            CheckResult(
                "imports",
                "import psycopg2, worker",
                "pass",
                "2 modules",
                f"{image} python -c 'import psycopg2, worker'",
                seconds=1.0,
            ),
        ),
        edits=(
            EditOutcome(RECOMMENDS, "kept", measured_savings_bytes=45_000_000),
            EditOutcome(
                TOOLCHAIN,
                "dropped",
                broke=("imports",),
                reason="DW301's builder stage left out libpq.so.5: `import psycopg2` fails",
            ),
        ),
        bisect_builds=3,
        verify_seconds=2.0,
    )


def sample_verify_report(cost: CostModel | None = None) -> VerifyReport:
    services = (worker(), api())
    audit = AuditReport(
        root="/srv/fleet",
        services=services,
        totals=AuditTotals(
            size_bytes=6_860_000_000,
            dead_weight_bytes=sum(s.dead_weight_bytes for s in services),
            unique_layer_bytes=6_619_000_000,
        ),
        cost=cost or CostModel(),
    )
    plan = FixPlan(
        root="/srv/fleet",
        fixes=(TORCH, PIP_CACHE, RECOMMENDS, TOOLCHAIN),
        files=(
            FileChange("Dockerfile", "a\n", "b\n"),
            FileChange("requirements.txt", "a\n", "b\n"),
            FileChange("worker/Dockerfile", "a\n", "b\n"),
        ),
    )
    return VerifyReport(
        root="/srv/fleet",
        audit=audit,
        plan=plan,
        services=(worker_verification(), api_verification()),
        written=False,
        files=("Dockerfile", "requirements.txt", "worker/Dockerfile"),
        unique_before_bytes=6_619_000_000,
        unique_after_bytes=2_084_000_000,
    )

"""A realistic fleet audit built by hand, shared by the audit report tests.

Five services: ``api`` (CUDA torch, pip cache and shadowed bytes that overlap), ``worker`` (toolchain, an
estimated low-confidence finding, user strings full of Markdown specials), ``web|admin`` (clean, a pipe in its
name), ``batch`` (could not be read) and ``ml`` (static mode: no image, unknown size).
"""

from __future__ import annotations

from deadweight.model.audit import AuditReport, AuditTotals, ServiceResult, SkippedRule
from deadweight.model.cost import CostModel
from deadweight.model.finding import Confidence, Evidence, Finding, Severity, deduplicated_savings

SITE = "/usr/local/lib/python3.11/site-packages"
LAYER_PIP = "sha256:" + "a1" * 32
NEEDS_RUN = (
    SkippedRule("DW702", "needs --run (observed memory)"),
    SkippedRule("DW701", "needs --run (observed memory)"),
)


def api() -> ServiceResult:
    findings = (
        Finding(
            rule="DW501", title="Unpinned requirement", service="api", severity=Severity.LOW,
            package="fastapi", savings_bytes=0,
            evidence=(Evidence("requirement", "fastapi>=0.110", "requirements.txt:2"),),
            fix="pin fastapi==0.115.0",
        ),
        Finding(
            rule="DW303", title="Bytes shadowed by later layers", service="api", severity=Severity.LOW,
            path="/root/.cache/pip", savings_bytes=95_000_000,
            evidence=(Evidence("layer", "written here, deleted by a later layer", LAYER_PIP),),
            fix="delete the cache in the RUN that creates it",
            claims={f"shadow:{LAYER_PIP}:/root/.cache/pip": 95_000_000},
        ),
        Finding(
            rule="DW101", title="CUDA torch in a CPU-only service", service="api", severity=Severity.HIGH,
            package="torch", savings_bytes=4_490_000_000,
            evidence=(
                Evidence(
                    "record", "torch 2.5.1 with 12 nvidia-*-cu12 wheels",
                    f"{SITE}/torch-2.5.1.dist-info/RECORD",
                ),
                Evidence("dockerfile", "RUN pip install -r requirements.txt", "Dockerfile:9"),
                Evidence("deployment", "no GPU reservation in compose", "compose.yaml:14"),
            ),
            fix="install torch from https://download.pytorch.org/whl/cpu",
            claims={f"file:{SITE}/torch": 1_700_000_000, f"file:{SITE}/nvidia": 2_790_000_000},
        ),
        Finding(
            rule="DW302", title="Package-manager cache baked into a layer", service="api",
            severity=Severity.MEDIUM, path="/root/.cache/pip", savings_bytes=180_000_000,
            evidence=(Evidence("layer", "pip cache 180 MB", LAYER_PIP),),
            fix="pip install --no-cache-dir",
            claims={f"shadow:{LAYER_PIP}:/root/.cache/pip": 95_000_000, "file:/root/.cache/pip": 85_000_000},
        ),
        Finding(
            rule="DW201", title="Declared dependency nothing uses", service="api", severity=Severity.MEDIUM,
            package="pandas", savings_bytes=70_000_000,
            evidence=(Evidence("requirement", "pandas==2.2.3, never imported", "requirements.txt:7"),),
            fix="remove pandas from requirements.txt",
            claims={f"file:{SITE}/pandas": 70_000_000},
        ),
    )
    return ServiceResult(
        name="api", image="registry:127.0.0.1:5000/api:1.4", mode="image", size_bytes=5_610_000_000,
        dead_weight_bytes=deduplicated_savings(findings), findings=findings, skipped=NEEDS_RUN,
        layers=(("sha256:base", 241_000_000), ("sha256:api", 5_369_000_000)),
    )


def worker() -> ServiceResult:
    findings = (
        Finding(
            rule="DW304", title="apt install without --no-install-recommends", service="worker",
            severity=Severity.LOW, savings_bytes=45_000_000, estimated=True, confidence=Confidence.LOW,
            evidence=(
                Evidence(
                    "dockerfile", "RUN apt-get install -y libpq5 | tee /tmp/log", "docker/Dockerfile:12"
                ),
            ),
            fix="apt-get install --no-install-recommends",
        ),
        Finding(
            rule="DW301", title="Build toolchain in the final image", service="worker",
            severity=Severity.MEDIUM, package="gcc-12", savings_bytes=210_000_000,
            evidence=(Evidence("dpkg", "gcc-12, cpp-12, libc6-dev *installed* by `build-essential`", None),),
            fix="use a [builder] stage | copy the wheels",
            claims={"file:/usr/lib/gcc": 210_000_000},
        ),
    )
    return ServiceResult(
        name="worker", image="docker:worker:latest", mode="image", size_bytes=1_250_000_000,
        dead_weight_bytes=deduplicated_savings(findings), findings=findings, skipped=NEEDS_RUN,
        layers=(("sha256:base", 241_000_000), ("sha256:worker", 1_009_000_000)),
        warnings=("layer sha256:worker: 3 hard links outside the layer",),
    )


def web() -> ServiceResult:
    return ServiceResult(
        name="web|admin", image="oci:build/web", mode="image", size_bytes=241_000_000, dead_weight_bytes=0,
        layers=(("sha256:base", 241_000_000),),
    )


def batch() -> ServiceResult:
    return ServiceResult(
        name="batch", image="registry:127.0.0.1:5000/batch:2", mode="image", size_bytes=None,
        dead_weight_bytes=0, error="registry:127.0.0.1:5000/batch:2: manifest unknown",
    )


def ml() -> ServiceResult:
    findings = (
        Finding(
            rule="DW102", title="GPU or GUI variant where a lean one fits", service="ml",
            severity=Severity.MEDIUM, package="opencv-python", savings_bytes=60_000_000, estimated=True,
            confidence=Confidence.MEDIUM,
            evidence=(Evidence("import", "only cv2.imdecode is used", "ml/vision.py:3"),),
            fix="depend on opencv-python-headless",
        ),
    )
    return ServiceResult(
        name="ml", image=None, mode="static", size_bytes=None, dead_weight_bytes=60_000_000,
        findings=findings, skipped=(SkippedRule("DW303", "needs an image"),),
    )


def sample_report(cost: CostModel | None = None) -> AuditReport:
    services = (worker(), api(), web(), batch(), ml())  # deliberately not in any sorted order
    return AuditReport(
        root="/srv/fleet",
        services=services,
        totals=AuditTotals(
            size_bytes=sum(s.size_bytes or 0 for s in services),
            dead_weight_bytes=sum(s.dead_weight_bytes for s in services),
            unique_layer_bytes=241_000_000 + 5_369_000_000 + 1_009_000_000,
        ),
        cost=cost or CostModel(),
        warnings=("compose.yaml: service 'cron' has no build or image; skipped",),
    )

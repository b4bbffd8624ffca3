"""DW101 on the usage fixture projects (issue 9): each project is loaded as the audit loads it, its code
scanned and joined with an image that holds the CUDA build of torch (what PyPI serves on Linux, and what a
static estimate resolves), and the rule evaluated on the RuleContext the audit builds. Each fixture's
``expected.toml`` says ``dw101`` ("fires" / "silent") and ``device``."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

from deadweight.config import Config
from deadweight.model.finding import Finding
from deadweight.model.usage import Confidence, DeviceStatus, VerdictStatus
from deadweight.project.indexes import torch_index
from deadweight.project.loader import load_project
from deadweight.rules.base import RuleContext
from deadweight.rules.dw101_cuda_torch import CudaTorchOnCpu
from deadweight.usage.gpu import service_device
from deadweight.usage.service import service_verdicts
from tests.unit.rules.ruleimages import F, analyze, dist

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "usage"
DW101_PROJECTS = sorted(p.name for p in FIXTURES.iterdir()
                        if (p / "expected.toml").exists()
                        and "dw101" in tomllib.loads((p / "expected.toml").read_text()))
CUDA_REQUIRES = ('nvidia-cublas-cu12==12.4.5.8; platform_system == "Linux"', "numpy")
# Requires-Dist as the real wheels declare them (the part that matters here).
REQUIRES = {"sentence-transformers": ("torch>=1.11.0", "transformers", "numpy"), "transformers": ("numpy",)}


def _image_layer(names: list[str]) -> list[F]:
    layer = dist("nvidia-cublas-cu12", "12.4.5.8", {"nvidia/cublas/lib/libcublas.so.12": 7_000}, requested=False)
    layer += dist("torch", "2.5.1", {"torch/__init__.py": b"", "torch/lib/libtorch_cuda.so": 9_000},
                  requires=CUDA_REQUIRES, requested="torch" in names)
    layer += dist("numpy", "2.1.3", {"numpy/__init__.py": b""}, requested="numpy" in names)
    for name in sorted(set(names) - {"torch", "numpy"} | ({"transformers"} if "sentence-transformers" in names
                                                          else set())):
        module = name.replace("-", "_")
        layer += dist(name, "1.0", {f"{module}/__init__.py": b""}, requires=REQUIRES.get(name, ()),
                      requested=name in names)
    return layer


def audit_fixture(name: str, tmp_path: Path, *, measured: bool = False) -> tuple[RuleContext, list[Finding]]:
    """The DW101 context the audit builds for the fixture's one service, and the rule's findings. By default as
    a static audit would (the estimate resolved PyPI's CUDA torch); ``measured``: as if an image held it."""
    project = load_project(str(FIXTURES / name))
    [svc] = project.services
    names = sorted({str(canonicalize_name(r.name)) for r in svc.requirements})
    analysis, inventory = analyze(tmp_path, [_image_layer(names)])
    joined = service_verdicts(svc, inventory=inventory, image_config=None, tree=None)
    device = service_device(joined.usage.evidence, joined.verdicts, imports_framework=joined.usage.uses_gpu_framework,
                            complete=joined.usage.complete)
    ctx = RuleContext(service=svc, config=Config(), analysis=analysis if measured else None, inventory=inventory,
                      estimated=not measured, verdicts=joined.verdicts,
                      declared=joined.declared, device=device, scan_complete=joined.usage.complete,
                      torch_index=torch_index(svc))
    return ctx, list(CudaTorchOnCpu().evaluate(ctx))


def expected(name: str) -> dict[str, object]:
    return tomllib.loads((FIXTURES / name / "expected.toml").read_text())


def test_the_issue_9_fixtures_are_all_there() -> None:
    assert {"st_embed_cuda", "st_embed_cpu_index", "uv_cpu_lock", "settings_cuda_default",
            "guarded_optional"} <= set(DW101_PROJECTS)


@pytest.mark.parametrize("name", DW101_PROJECTS)
def test_dw101_outcome_and_device_match_the_fixture(name: str, tmp_path: Path) -> None:
    ctx, findings = audit_fixture(name, tmp_path)
    exp = expected(name)
    assert ctx.device.status.value == exp["device"]
    assert ("fires" if findings else "silent") == exp["dw101"]


def test_torch_reached_only_through_sentence_transformers_fires_with_the_path(tmp_path: Path) -> None:
    ctx, [finding] = audit_fixture("st_embed_cuda", tmp_path)
    assert ctx.verdicts["torch"].status is VerdictStatus.USED_TRANSITIVELY
    assert ctx.torch_index is None
    [via] = [e for e in finding.evidence if e.kind == "usage"]
    assert via.detail == "torch via sentence-transformers, imported at app/embed.py:3"
    assert via.location == "app/embed.py:3"
    assert finding.confidence is Confidence.HIGH  # device="cpu" pins the model to the CPU


def test_a_cpu_index_in_requirements_silences_it_and_says_where(tmp_path: Path) -> None:
    ctx, findings = audit_fixture("st_embed_cpu_index", tmp_path)
    assert findings == []
    assert ctx.torch_index is not None and ctx.torch_index.cpu
    assert ctx.torch_index.url == "https://download.pytorch.org/whl/cpu"
    assert ctx.torch_index.location.endswith("requirements.txt:1")


def test_uv_lock_on_the_cpu_index_silences_it(tmp_path: Path) -> None:
    ctx, findings = audit_fixture("uv_cpu_lock", tmp_path)
    assert findings == []
    assert ctx.torch_index is not None
    assert ctx.torch_index.detail == "uv.lock locks torch 2.5.1+cpu"
    assert ctx.torch_index.location == "uv.lock:23"  # the locked version line


def test_cuda_strings_in_settings_and_enums_are_not_gpu_use(tmp_path: Path) -> None:
    ctx, _ = audit_fixture("settings_cuda_default", tmp_path)
    assert ctx.device.status is DeviceStatus.CPU_ONLY
    assert not [e for e in ctx.device.evidence if e.kind.value == "device-gpu"]


def test_guarded_cuda_is_gpu_optional_at_medium_confidence(tmp_path: Path) -> None:
    ctx, [finding] = audit_fixture("guarded_optional", tmp_path)
    assert ctx.device.status is DeviceStatus.GPU_OPTIONAL
    assert finding.confidence is Confidence.MEDIUM
    assert ctx.device.evidence[0].location == "app/worker.py:3"


def test_the_same_service_without_the_index_fires(tmp_path: Path) -> None:
    """The only difference between st_embed_cuda and st_embed_cpu_index is the index lines."""
    a, b = FIXTURES / "st_embed_cuda", FIXTURES / "st_embed_cpu_index"
    assert (a / "app" / "embed.py").read_text() == (b / "app" / "embed.py").read_text()
    lines_a, lines_b = ((p / "requirements.txt").read_text().splitlines() for p in (a, b))
    extra = set(lines_b) - set(lines_a)
    assert extra
    assert all(line.startswith("--") for line in extra)




def test_on_an_image_the_installed_cuda_build_outweighs_the_index_at_medium_confidence(tmp_path: Path) -> None:
    """The project reads the CPU index, yet the measured image holds a CUDA torch: the bytes are there, the
    finding says both, and is not high confidence."""
    _, [finding] = audit_fixture("st_embed_cpu_index", tmp_path, measured=True)
    assert finding.confidence is Confidence.MEDIUM
    [note] = [e for e in finding.evidence if e.kind == "index" and "yet the image holds" in e.detail]
    assert note.location is not None and note.location.endswith("requirements.txt:1")
    (tmp_path / "b").mkdir()
    _, [cuda] = audit_fixture("st_embed_cuda", tmp_path / "b", measured=True)
    assert cuda.confidence is Confidence.HIGH
    assert not [e for e in cuda.evidence if "yet the image holds" in e.detail]

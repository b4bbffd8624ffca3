"""DW101 on a real (tiny) image: a CUDA torch stand-in with nvidia-* wheels, read through the pipeline."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from deadweight.config import Config
from deadweight.model.analysis import ImageAnalysis
from deadweight.model.finding import Severity
from deadweight.model.inventory import Inventory
from deadweight.model.remedy import SetIndex
from deadweight.model.usage import DeviceStatus, DeviceVerdict
from deadweight.project.loader import load_project
from deadweight.rules.base import CpuBuild
from deadweight.rules.dw101_cuda_torch import CudaTorchOnCpu
from deadweight.rules.engine import evaluate_all
from deadweight.usage.device import decide_device, device_evidence
from tests.unit.rules.ruleimages import SITE, analyze, context, dist, requirements_service, service

RULE = CudaTorchOnCpu()
CPU_TORCH = CpuBuild("torch", "2.5.1+cpu", 4_000, "https://download.pytorch.org/whl/cpu/torch-2.5.1+cpu.whl")

CUDA_REQUIRES = (
    'nvidia-cublas-cu12==12.4.5.8; platform_system == "Linux" and platform_machine == "x86_64"',
    'nvidia-cudnn-cu12==9.1.0.70; platform_system == "Linux" and platform_machine == "x86_64"',
    "numpy",
)


def torch_image(tmp_path: Path, *, version: str = "2.5.1", cuda: bool = True) -> tuple[ImageAnalysis, Inventory]:
    torch_files: dict[str, bytes | int] = {"torch/__init__.py": b"import numpy\n", "torch/lib/libtorch_cpu.so": 6_000}
    layer = []
    if cuda:
        torch_files["torch/lib/libtorch_cuda.so"] = 9_000
        layer += dist("nvidia-cublas-cu12", "12.4.5.8", {"nvidia/cublas/lib/libcublas.so.12": 7_000}, requested=False)
        layer += dist("nvidia-cudnn-cu12", "9.1.0.70", {"nvidia/cudnn/lib/libcudnn.so.9": 8_000},
                      requires=("nvidia-cublas-cu12",), requested=False)
    layer += dist("torch", version, torch_files, requires=CUDA_REQUIRES if cuda else ("numpy",))
    layer += dist("numpy", "2.1.0", {"numpy/__init__.py": b"", "numpy/core/_multiarray.so": 3_000}, requested=False)
    return analyze(tmp_path, [layer])


def device_of(code: str) -> DeviceVerdict:
    """The device verdict the usage layer gives for ``code`` (one file, scan complete)."""
    return decide_device(device_evidence(ast.parse(code), "app.py"), uses_gpu_framework=True, complete=True)


CPU_CODE = 'import torch\nmodel = torch.nn.Linear(2, 2).to("cpu")\n'
GPU_CODE = "import torch\nmodel = torch.nn.Linear(2, 2).cuda()\n"
OPTIONAL_CODE = 'import torch\ndevice = "cuda" if torch.cuda.is_available() else "cpu"\n'


def files_under(analysis: ImageAnalysis, *prefixes: str) -> dict[str, int]:
    return {
        node.path: node.size
        for node in analysis.tree.nodes()
        if node.path.startswith(tuple(f"{SITE}/{p}" for p in prefixes)) and node.kind.value == "file"
    }


def test_cuda_torch_on_cpu_service_saves_the_gpu_stack_minus_the_cpu_wheel(tmp_path: Path) -> None:
    analysis, inventory = torch_image(tmp_path)
    assert device_of(CPU_CODE).status is DeviceStatus.CPU_ONLY
    ctx = context(analysis=analysis, inventory=inventory, device=device_of(CPU_CODE), cpu_builds={"torch": CPU_TORCH})

    [finding] = RULE.evaluate(ctx)

    stack = files_under(analysis, "torch/", "torch-", "nvidia/", "nvidia_")
    assert len(stack) == 5 + 4 + 3 + 3  # 5 payload files; dist-info: torch 4 (REQUESTED), nvidia 3 each
    assert finding.savings_bytes == sum(stack.values()) - CPU_TORCH.installed_bytes
    assert dict(finding.claims) == {f"file:{path}": size for path, size in stack.items()}
    numpy_files = files_under(analysis, "numpy/", "numpy-")
    assert numpy_files and not set(finding.claims) & {f"file:{p}" for p in numpy_files}
    assert finding.rule == "DW101" and finding.package == "torch" and finding.severity is Severity.HIGH
    assert finding.fix == "pip install torch==2.5.1 --index-url https://download.pytorch.org/whl/cpu"
    assert not finding.estimated
    kinds = {e.kind for e in finding.evidence}
    assert {"record", "deployment", "index"} <= kinds


def test_without_a_cpu_build_size_the_saving_is_the_whole_stack_and_estimated(tmp_path: Path) -> None:
    analysis, inventory = torch_image(tmp_path)
    [finding] = RULE.evaluate(context(analysis=analysis, inventory=inventory, device=device_of(CPU_CODE)))
    stack = files_under(analysis, "torch/", "torch-", "nvidia/", "nvidia_")
    assert finding.savings_bytes == sum(stack.values())
    assert finding.estimated


def test_gpu_optional_code_still_fires_with_medium_confidence(tmp_path: Path) -> None:
    analysis, inventory = torch_image(tmp_path)
    device = device_of(OPTIONAL_CODE)
    assert device.status is DeviceStatus.GPU_OPTIONAL
    [finding] = RULE.evaluate(context(analysis=analysis, inventory=inventory, device=device,
                                      cpu_builds={"torch": CPU_TORCH}))
    assert finding.confidence.value == "medium"
    assert finding.savings_bytes > 0


def test_code_that_needs_cuda_without_a_gpu_deployment_is_an_info_note(tmp_path: Path) -> None:
    analysis, inventory = torch_image(tmp_path)
    [note] = RULE.evaluate(context(analysis=analysis, inventory=inventory, device=device_of(GPU_CODE),
                                   cpu_builds={"torch": CPU_TORCH}))
    assert note.severity is Severity.INFO
    assert note.savings_bytes == 0
    assert not note.claims
    assert any(e.location == "app.py:2" for e in note.evidence)


def test_unknown_device_is_silent(tmp_path: Path) -> None:
    analysis, inventory = torch_image(tmp_path)
    assert list(RULE.evaluate(context(analysis=analysis, inventory=inventory))) == []


def write_compose(tmp_path: Path, gpu: bool) -> Path:
    project = tmp_path / "proj"
    (project / "api").mkdir(parents=True)
    dockerfile = 'FROM python:3.11-slim\nCOPY app.py /app/\nCMD ["python", "/app/app.py"]\n'
    (project / "api" / "Dockerfile").write_text(dockerfile)
    (project / "api" / "app.py").write_text(CPU_CODE)
    deploy = (
        "    deploy:\n      resources:\n        reservations:\n          devices:\n"
        "            - driver: nvidia\n              count: 1\n              capabilities: [gpu]\n"
    )
    (project / "compose.yaml").write_text("services:\n  api:\n    build: ./api\n" + (deploy if gpu else ""))
    return project


def test_gpu_requested_by_the_deployment_is_silent(tmp_path: Path) -> None:
    analysis, inventory = torch_image(tmp_path)
    svc = load_project(str(write_compose(tmp_path, gpu=True)), environ={}).services[0]
    assert svc.gpu.requested
    ctx = context(svc, analysis, inventory, device=device_of(CPU_CODE), cpu_builds={"torch": CPU_TORCH})
    assert list(RULE.evaluate(ctx)) == []
    # ...and code that needs CUDA on a GPU deployment is fine too: no note
    ctx = context(svc, analysis, inventory, device=device_of(GPU_CODE))
    assert list(RULE.evaluate(ctx)) == []


def test_compose_without_a_gpu_fires_and_cites_the_compose_file(tmp_path: Path) -> None:
    analysis, inventory = torch_image(tmp_path)
    svc = load_project(str(write_compose(tmp_path, gpu=False)), environ={}).services[0]
    assert not svc.gpu.requested
    [finding] = RULE.evaluate(context(svc, analysis, inventory, device=device_of(CPU_CODE)))
    assert any(e.kind == "deployment" and e.location == svc.compose_file for e in finding.evidence)


@pytest.mark.parametrize(("setting", "fires"), [("false", True), ("true", False)])
def test_deployment_gpu_setting_overrides_the_deployment(tmp_path: Path, setting: str, fires: bool) -> None:
    analysis, inventory = torch_image(tmp_path)
    gpu_svc = load_project(str(write_compose(tmp_path, gpu=True)), environ={}).services[0]
    plain_svc = service()
    config = Config(deployment_gpu=setting, source="pyproject.toml")
    for svc in (gpu_svc, plain_svc):
        found = list(RULE.evaluate(context(svc, analysis, inventory, config, device=device_of(CPU_CODE))))
        assert bool(found) is fires
        if found:
            assert any(e.kind == "config" and e.location == "pyproject.toml" for e in found[0].evidence)


def test_cpu_torch_is_silent(tmp_path: Path) -> None:
    analysis, inventory = torch_image(tmp_path, version="2.5.1+cpu", cuda=False)
    assert inventory.distributions()[1].build == "cpu"
    assert list(RULE.evaluate(context(analysis=analysis, inventory=inventory, device=device_of(CPU_CODE)))) == []


def test_no_torch_no_inventory_is_silent() -> None:
    assert list(RULE.evaluate(context(device=device_of(CPU_CODE)))) == []


@pytest.mark.parametrize(("comment", "fires"), [("  # deadweight: ignore[DW101]", False),
                                                 ("  # deadweight: ignore[DW1]", False),
                                                 ("  # deadweight: ignore[DW201]", True)])
def test_inline_ignore_on_the_torch_requirement(tmp_path: Path, comment: str, fires: bool) -> None:
    analysis, inventory = torch_image(tmp_path)
    svc = requirements_service(tmp_path / "svc", f"torch==2.5.1{comment}\n")
    found = evaluate_all(context(svc, analysis, inventory, device=device_of(CPU_CODE)), (RULE,)).findings
    assert bool(found) is fires


def test_remedy_sets_the_cpu_index_on_each_torch_declaration(tmp_path: Path) -> None:
    analysis, inventory = torch_image(tmp_path)
    svc = requirements_service(tmp_path / "svc", "fastapi==0.115.0\ntorch==2.5.1\n")
    config = Config(torch_cpu_index="https://mirror.example/whl/cpu")
    [finding] = RULE.evaluate(context(svc, analysis, inventory, config=config, device=device_of(CPU_CODE),
                                      cpu_builds={"torch": CPU_TORCH}))
    [edit] = finding.remedy
    assert isinstance(edit, SetIndex) and edit.kind == "set-index"
    assert (edit.package, edit.version, edit.index_url) == ("torch", "2.5.1", "https://mirror.example/whl/cpu")
    assert (edit.file, edit.line, edit.original) == (str(Path(svc.context_dir or "") / "requirements.txt"), 2,
                                                     "torch==2.5.1")
    assert finding.fix == "pip install torch==2.5.1 --index-url https://mirror.example/whl/cpu"
    # installed but declared nowhere the project says: the edit has no position, the hint is the same
    [finding] = RULE.evaluate(context(analysis=analysis, inventory=inventory, device=device_of(CPU_CODE)))
    [edit] = finding.remedy
    assert isinstance(edit, SetIndex) and edit.file is None and edit.line == 0


def test_code_that_needs_cuda_gets_advice_but_no_edit(tmp_path: Path) -> None:
    analysis, inventory = torch_image(tmp_path)
    [finding] = RULE.evaluate(context(analysis=analysis, inventory=inventory, device=device_of(GPU_CODE)))
    assert finding.severity is Severity.INFO and finding.remedy == ()
    assert finding.fix == "Request a GPU for this service, or make the code fall back to the CPU."

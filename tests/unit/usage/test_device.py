from __future__ import annotations

import ast

from deadweight.model.usage import DeviceStatus, EvidenceKind
from deadweight.usage.device import decide_device, device_evidence
from deadweight.usage.strings import env_assignment_evidence


def _verdict(src: str, **kw: bool) -> DeviceStatus:
    evs = device_evidence(ast.parse(src), "m.py")
    return decide_device(evs, uses_gpu_framework=kw.get("fw", True), complete=kw.get("complete", True)).status


def test_cpu_pinning_is_cpu_only() -> None:
    assert (
        _verdict('import torch\nd = torch.device("cpu")\nm = torch.load("x", map_location="cpu")\n')
        is DeviceStatus.CPU_ONLY
    )


def test_required_gpu_calls() -> None:
    for src in (
        "model.cuda()",
        'x.to("cuda")',
        'torch.zeros(3, device="cuda:0")',
        "torch.cuda.synchronize()",
        'device = torch.device("cuda")',
    ):
        assert _verdict(src) is DeviceStatus.GPU_USED, src


def test_guarded_gpu_is_optional() -> None:
    src = 'import torch\ndevice = "cuda" if torch.cuda.is_available() else "cpu"\n'
    assert _verdict(src) is DeviceStatus.GPU_OPTIONAL
    src = "import torch\nif torch.cuda.is_available():\n    model.cuda()\n"
    assert _verdict(src) is DeviceStatus.GPU_OPTIONAL


def test_optional_gpu_with_hidden_devices_is_cpu_only() -> None:
    evs = device_evidence(ast.parse('d = "cuda" if torch.cuda.is_available() else "cpu"'), "m.py")
    evs += env_assignment_evidence("CUDA_VISIBLE_DEVICES", "", "Dockerfile", 4)
    assert decide_device(evs, uses_gpu_framework=True, complete=True).status is DeviceStatus.CPU_ONLY


def test_absence_needs_complete_scan_and_a_framework() -> None:
    assert _verdict("import torch\nx = torch.ones(2)\n") is DeviceStatus.CPU_ONLY
    assert _verdict("import torch\nx = torch.ones(2)\n", complete=False) is DeviceStatus.UNKNOWN
    assert _verdict("x = 1\n", fw=False) is DeviceStatus.UNKNOWN


def test_to_cpu_alone_is_not_cpu_evidence() -> None:
    evs = device_evidence(ast.parse('y = x.to("cpu")'), "m.py")
    assert not [e for e in evs if e.kind is EvidenceKind.DEVICE_CPU]


def test_strings_that_select_nothing_are_not_gpu_use() -> None:
    # a settings default, an enum member, a CLI choice list: none of them puts work on a GPU
    for src in (
        'DEVICE = "cuda"',
        'class Device(str, enum.Enum):\n    CPU = "cpu"\n    CUDA = "cuda"\n',
        'class Settings(BaseSettings):\n    DEVICE: str = "cuda"\n',
        'parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda")',
    ):
        evs = device_evidence(ast.parse("import torch\n" + src), "m.py")
        assert not [e for e in evs if e.kind is EvidenceKind.DEVICE_GPU], src
        assert _verdict("import torch\n" + src) is DeviceStatus.CPU_ONLY, src


def test_text_that_merely_starts_with_cuda_is_no_device() -> None:
    src = 'import torch\nif torch.cuda.is_available():\n    log.info("cuda found")\n'
    assert _verdict(src) is DeviceStatus.CPU_ONLY
    assert _verdict('import torch\nx = torch.ones(2, device="cuda:1")\n') is DeviceStatus.GPU_USED
    src = 'import onnxruntime as ort\ns = ort.InferenceSession("m.onnx", providers="CUDAExecutionProvider")\n'
    assert _verdict(src) is DeviceStatus.GPU_USED

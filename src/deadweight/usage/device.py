"""CPU/GPU evidence in code and deployment, and the device verdict DW101/DW102 rely on.

Why: shipping a CUDA torch build (GBs of nvidia-* wheels) to a service that only ever computes on the
CPU is the largest single dead weight we see. Swapping it is only safe when the code never requires a
GPU: ``.cuda()``/``.to("cuda")``/``device="cuda"`` outside an ``is_available()`` guard mean the GPU is
used; a guarded use means the GPU is optional (the CPU build still works); explicit CPU pinning or no
CUDA call at all means CPU only. A string is not a device selection: ``DEVICE = "cuda"`` (a settings
default), an enum member ``CUDA = "cuda"`` or ``choices=["cpu", "cuda"]`` are no GPU use; only the call
that selects the device is (``torch.device("cuda")``, ``.to("cuda")``, ``device="cuda"`` in a call).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from deadweight.model.usage import Confidence, DeviceStatus, DeviceVerdict, EvidenceKind, UsageEvidence
from deadweight.usage.imports import dotted_name

#: Top-level modules of frameworks that can compute on a GPU: code importing one of them with no CUDA call is
#: CPU-only (``decide_device``'s ``uses_gpu_framework``). The one list; the usage join reads it from here.
#: Frameworks built on torch whose module names are unambiguous count too; those that require torch are also
#: reached through the dependency graph (``usage/gpu.py``), which covers names too generic to list (``whisper``).
GPU_FRAMEWORKS = frozenset({"torch", "tensorflow", "jax", "cupy", "onnxruntime", "transformers",
                            "sentence_transformers", "faiss", "tensorrt", "pycuda", "numba", "vllm", "diffusers",
                            "accelerate", "timm", "torchvision", "torchaudio", "lightning", "pytorch_lightning",
                            "ultralytics"})
# torch.cuda.* calls that fail (or are meaningless) without a GPU; probes like is_available don't count.
_CUDA_CALLS_THAT_MATTER = frozenset({
    "set_device", "synchronize", "Stream", "Event", "current_device", "get_device_name",
    "get_device_properties", "mem_get_info", "memory_allocated", "max_memory_allocated", "CUDAGraph",
    "graph", "ipc_collect", "current_stream", "stream", "init",
})
_PROBES = frozenset({"is_available", "device_count", "is_built", "gpu_device_name", "list_physical_devices"})
_DEVICE_KWARGS = frozenset({"device", "map_location", "device_map", "providers"})

#: OpenCV calls that need a display: code that makes one needs opencv-python, not the headless build.
GUI_CALLS = ("imshow", "namedWindow", "waitKey", "destroyAllWindows", "createTrackbar", "setMouseCallback")


_GPU_DEVICE = re.compile(r"(cuda(:\d+)?|gpu(:\d+)?|CUDAExecutionProvider|TensorrtExecutionProvider)")


def _is_gpu_string(value: object) -> bool:
    """A device name (``"cuda"``, ``"cuda:0"``, ``"gpu"``, an onnxruntime GPU provider); not any text that starts
    with "cuda" (``"cuda found"`` in a log line under an availability check is no device)."""
    return isinstance(value, str) and _GPU_DEVICE.fullmatch(value) is not None


def _is_cpu_string(value: object) -> bool:
    return isinstance(value, str) and value in {"cpu", "CPUExecutionProvider"}


def _has_probe(node: ast.AST) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            name = dotted_name(sub.func) or ""
            if name.rsplit(".", 1)[-1] in _PROBES:
                return True
        if isinstance(sub, ast.Attribute) and sub.attr in _PROBES:
            return True
    return False


class _DeviceVisitor(ast.NodeVisitor):
    def __init__(self, path: str) -> None:
        self.path = path
        self.guard = 0
        self.evidence: list[UsageEvidence] = []

    def _add(self, node: ast.AST, detail: str, gpu: bool | None) -> None:
        loc = f"{self.path}:{getattr(node, 'lineno', 0)}"
        if gpu is None:
            kind, conf = EvidenceKind.DEVICE_CPU, Confidence.HIGH
        elif gpu and self.guard == 0:
            kind, conf = EvidenceKind.DEVICE_GPU, Confidence.HIGH
        else:
            kind, conf = EvidenceKind.DEVICE_GPU_OPTIONAL, Confidence.MEDIUM
            detail += " (guarded by an availability check)"
        self.evidence.append(UsageEvidence(kind, detail, loc, "", conf))

    def _guarded(self, test: ast.AST, body: Sequence[ast.AST], orelse: Sequence[ast.AST]) -> None:
        guarded = _has_probe(test)
        self.visit(test)
        self.guard += guarded
        for stmt in body:
            self.visit(stmt)
        for stmt in orelse:
            self.visit(stmt)
        self.guard -= guarded

    def visit_If(self, node: ast.If) -> None:
        self._guarded(node.test, node.body, node.orelse)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._guarded(node.test, [node.body], [node.orelse])

    def visit_BoolOp(self, node: ast.BoolOp) -> None:  # torch.cuda.is_available() and "cuda" or "cpu"
        guarded = _has_probe(node)
        self.guard += guarded
        for value in node.values:
            self.visit(value)
        self.guard -= guarded

    def visit_Constant(self, node: ast.Constant) -> None:
        # "cuda" if torch.cuda.is_available() else "cpu": a GPU string under a guard is optional GPU use.
        if self.guard and _is_gpu_string(node.value):
            self._add(node, f"{node.value!r} chosen at run time", False)

    def visit_Call(self, node: ast.Call) -> None:
        name = dotted_name(node.func) or ""
        last = name.rsplit(".", 1)[-1]
        if isinstance(node.func, ast.Attribute) and node.func.attr == "cuda" and not node.args[1:]:
            self._add(node, f"{ast.unparse(node.func)}() moves to the GPU", True)
        elif ".cuda." in f".{name}." and last in _CUDA_CALLS_THAT_MATTER:
            self._add(node, f"{name}() needs a GPU", True)
        elif last in {"device", "to", "set_default_device"} and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant):
                if _is_gpu_string(first.value):
                    self._add(node, f"{last}({first.value!r})", True)
                elif _is_cpu_string(first.value) and last != "to":  # .to("cpu") is common in GPU code too
                    self._add(node, f"{last}({first.value!r})", None)
        for kw in node.keywords:
            if kw.arg in _DEVICE_KWARGS and isinstance(kw.value, ast.Constant):
                if _is_gpu_string(kw.value.value) or (kw.arg == "device_map" and kw.value.value == "auto"):
                    self._add(kw.value, f"{kw.arg}={kw.value.value!r}",
                              kw.arg != "device_map")
                elif _is_cpu_string(kw.value.value):
                    self._add(kw.value, f"{kw.arg}={kw.value.value!r}", None)
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        # os.environ["CUDA_VISIBLE_DEVICES"] = ""  → every GPU hidden
        for tgt in node.targets:
            if (
                isinstance(tgt, ast.Subscript)
                and isinstance(tgt.slice, ast.Constant)
                and tgt.slice.value == "CUDA_VISIBLE_DEVICES"
                and isinstance(node.value, ast.Constant)
                and node.value.value in ("", "-1")
            ):
                self._add(node, "CUDA_VISIBLE_DEVICES set empty in code", None)
        # A bare ``DEVICE = "cuda"`` (a settings default, an enum member ``CUDA = "cuda"``) selects nothing: only
        # the call that puts work on the device counts (``.to(DEVICE)`` is unresolved, so it proves nothing).
        self.generic_visit(node)


def device_evidence(tree: ast.Module, path: str) -> list[UsageEvidence]:
    """CPU and GPU signals in one Python file."""
    visitor = _DeviceVisitor(path)
    visitor.visit(tree)
    return visitor.evidence


def decide_device(evidence: Sequence[UsageEvidence], *, uses_gpu_framework: bool, complete: bool) -> DeviceVerdict:
    """The device verdict for a service from all its evidence.

    ``uses_gpu_framework``: the code imports torch/tensorflow/... (no CUDA call then means CPU only);
    ``complete``: the scan read every code file (otherwise absence of GPU calls proves nothing).
    """
    gpu = [e for e in evidence if e.kind is EvidenceKind.DEVICE_GPU]
    optional = [e for e in evidence if e.kind is EvidenceKind.DEVICE_GPU_OPTIONAL]
    cpu = [e for e in evidence if e.kind is EvidenceKind.DEVICE_CPU]
    if gpu:
        return DeviceVerdict(DeviceStatus.GPU_USED, tuple(gpu), Confidence.HIGH)
    env_hides_gpu = [e for e in cpu if "CUDA_VISIBLE_DEVICES" in e.detail or "NVIDIA_VISIBLE" in e.detail]
    if optional:
        if env_hides_gpu:
            return DeviceVerdict(DeviceStatus.CPU_ONLY, tuple(env_hides_gpu + optional), Confidence.HIGH)
        return DeviceVerdict(DeviceStatus.GPU_OPTIONAL, tuple(optional), Confidence.MEDIUM)
    if not complete:
        return DeviceVerdict(DeviceStatus.UNKNOWN, tuple(cpu), Confidence.LOW)
    if cpu:
        return DeviceVerdict(DeviceStatus.CPU_ONLY, tuple(cpu), Confidence.HIGH)
    if uses_gpu_framework:
        return DeviceVerdict(DeviceStatus.CPU_ONLY, (), Confidence.MEDIUM)
    return DeviceVerdict(DeviceStatus.UNKNOWN, (), Confidence.LOW)

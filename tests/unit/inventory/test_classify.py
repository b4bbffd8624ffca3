"""Classes of distributions and paths, and framework build detection (CUDA vs CPU and friends)."""

from __future__ import annotations

import glob
import zipfile

import pytest

from deadweight.inventory.build import build_inventory
from deadweight.inventory.classify import (
    breakdown_class,
    detect_build,
    dist_class,
    is_cache_path,
    is_gpu_library,
    is_tests_or_docs,
)
from deadweight.model.inventory import DistClass
from tests.unit.inventory.invtrees import config, dist, tree

SP = "usr/local/lib/python3.11/site-packages"
NVIDIA = ("nvidia-cublas-cu12", "nvidia-cudnn-cu12", "nvidia-nccl-cu12")
LINUX_X86 = "platform_system == 'Linux' and platform_machine == 'x86_64'"


def test_dist_classes() -> None:
    assert dist_class("nvidia-cublas-cu12") is DistClass.GPU
    assert dist_class("triton") is DistClass.GPU
    assert dist_class("cuda-python") is DistClass.GPU
    assert dist_class("jax-cuda12-plugin") is DistClass.GPU
    assert dist_class("torch") is DistClass.ML
    assert dist_class("tensorflow-cpu") is DistClass.ML
    assert dist_class("onnxruntime-gpu") is DistClass.ML
    assert dist_class("numpy") is DistClass.SCIENTIFIC
    assert dist_class("pip") is DistClass.PACKAGING
    assert dist_class("fastapi") is DistClass.OTHER
    assert breakdown_class("cmake", DistClass.OTHER) == "toolchain"
    assert breakdown_class("pip", DistClass.PACKAGING) == "other_python"


def test_gpu_libraries_inside_framework_wheels() -> None:
    for path in ("torch/lib/libcudnn.so.9", "torch/lib/libcublasLt.so.12", "torch/lib/libnccl.so.2",
                 "torch/lib/libtorch_cuda.so", "torch/lib/libc10_cuda.so", "x/libnvrtc-builtins.so.12.4",
                 "onnxruntime/capi/libonnxruntime_providers_cuda.so", "torch/lib/libamdhip64.so"):
        assert is_gpu_library(path), path
    for path in ("torch/lib/libtorch_cpu.so", "torch/lib/libc10.so", "torch/cuda/__init__.py",
                 "torch/include/ATen/cuda/CUDAContext.h"):
        assert not is_gpu_library(path), path


def test_cache_and_tests_paths() -> None:
    assert is_cache_path("root/.cache/pip/http-v2/a/b/c")
    assert is_cache_path("home/app/.cache/uv/wheels/x.whl")
    assert is_cache_path("root/.cache/pypoetry/cache/x")
    assert is_cache_path("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease")
    assert is_cache_path("var/cache/apt/archives/gcc_12.deb")
    assert is_cache_path("opt/conda/pkgs/numpy-1.26.tar.bz2", ["opt/conda"])
    assert not is_cache_path("root/.cache/huggingface/model.bin")
    assert not is_cache_path("app/mycache/pip/x")
    assert is_tests_or_docs("pandas/tests/frame/test_api.py")
    assert is_tests_or_docs("scipy/linalg/tests/data/x.npz")
    assert is_tests_or_docs("tests/conftest.py")  # a stray top-level "tests" package
    assert not is_tests_or_docs("numpy/testing/__init__.py")
    assert not is_tests_or_docs("numpy-2.0.dist-info/docs/LICENSE")
    assert not is_tests_or_docs("tests.py")


@pytest.mark.parametrize(
    ("version", "requires", "files", "build"),
    [
        ("2.5.1+cu124", (), (), "cuda"),
        ("2.5.1", NVIDIA, (), "cuda"),  # PyPI's Linux wheel: no label, nvidia-* requirements
        ("2.5.1", (), (f"{SP}/torch/lib/libtorch_cuda.so",), "cuda"),
        ("2.13.0+cpu", (), (), "cpu"),
        ("2.5.1+rocm6.2", (), (), "rocm"),
        ("2.5.1", (), (f"{SP}/torch/lib/libtorch_cpu.so",), "cpu"),
    ],
)
def test_torch_build(version: str, requires: tuple[str, ...], files: tuple[str, ...], build: str) -> None:
    got, evidence = detect_build("torch", version, requires, {"torch", *requires}, files)
    assert got == build
    assert evidence


def test_other_framework_builds() -> None:
    assert detect_build("tensorflow-cpu", "2.15.0", (), (), ())[0] == "cpu"
    assert detect_build("tensorflow", "2.15.0", ("nvidia-cudnn-cu12",), (), ())[0] == "cuda"
    assert detect_build("tensorflow", "2.15.0", (), (), ())[0] == "gpu"
    assert detect_build("onnxruntime-gpu", "1.18.0", (), (), ())[0] == "gpu"
    assert detect_build("onnxruntime", "1.18.0", (), (), (f"{SP}/onnxruntime/capi/x.so",))[0] == "cpu"
    assert detect_build("jaxlib", "0.4.30", (), {"jax", "jaxlib", "jax-cuda12-plugin"}, ())[0] == "cuda"
    assert detect_build("jax", "0.4.30", (), {"jax", "jaxlib"}, ())[0] == "cpu"
    assert detect_build("faiss-gpu-cu12", "1.8.0", (), (), ())[0] == "gpu"
    assert detect_build("faiss-cpu", "1.8.0", (), (), ())[0] == "cpu"
    assert detect_build("opencv-python", "4.10.0.84", (), (), ())[0] == "gui"
    assert detect_build("opencv-python-headless", "4.10.0.84", (), (), ())[0] == "headless"
    assert detect_build("requests", "2.32.0", (), (), ()) == (None, ())


def cuda_torch_image(arch: str = "amd64"):  # type: ignore[no-untyped-def]
    reqs = (*(f"{n}==12.4.5; {LINUX_X86}" for n in NVIDIA), "filelock")
    layer = {
        **dist(SP, "torch", "2.5.1", {"torch/__init__.py": b"import os\n", "torch/lib/libtorch_cpu.so": 400_000,
                                      "torch/lib/libtorch_cuda.so": 900_000, "torch/lib/libc10.so": 1000},
               requires=reqs),
        **dist(SP, "filelock", "3.15.4", {"filelock/__init__.py": b"x" * 100}, requested=False),
    }
    for i, name in enumerate(NVIDIA):
        sub = name.split("-")[1]
        layer.update(dist(SP, name, "12.4.5", {"nvidia/__init__.py": b"", f"nvidia/{sub}/__init__.py": b"",
                                               f"nvidia/{sub}/lib/lib{sub}.so.12": 1_000_000 * (i + 1)},
                          requested=False))
    return tree({"usr/local/bin/python3.11": 10}, layer), config(arch=arch)


def test_cuda_torch_image_classified_gpu() -> None:
    t, cfg = cuda_torch_image()
    inv = build_inventory(t, cfg)
    env = inv.environments[0]
    torch = env.find("torch")
    assert torch is not None
    assert torch.build == "cuda" and torch.dist_class is DistClass.ML
    assert any("nvidia-cublas-cu12" in e for e in torch.build_evidence)
    assert {r.name for r in torch.requires if r.active} == {*NVIDIA, "filelock"}
    nvidia_bytes = sum(d.size_bytes for d in env.distributions if d.name.startswith("nvidia-"))
    assert inv.breakdown["gpu"] == nvidia_bytes + 900_000  # plus libtorch_cuda.so inside torch
    assert inv.breakdown["ml"] == torch.size_bytes - 900_000
    # removing torch frees the nvidia stack and filelock, nothing else needs them
    assert torch.exclusive_bytes == sum(d.size_bytes for d in env.distributions)
    # namespace "nvidia": each wheel contributes its own subpackage
    cublas = env.find("nvidia-cublas-cu12")
    assert cublas is not None and cublas.import_names == ("nvidia.cublas",)
    assert sum(inv.breakdown.values()) == t.visible_bytes + t.shadowed_bytes


def test_nvidia_requirements_inactive_on_arm64() -> None:
    t, cfg = cuda_torch_image(arch="arm64")
    torch = build_inventory(t, cfg).environments[0].find("torch")
    assert torch is not None
    assert {r.name for r in torch.requires if r.active} == {"filelock"}
    assert torch.build == "cuda"  # the CUDA library is still there
    assert any("libtorch_cuda.so" in e for e in torch.build_evidence)


def _wheel_layer(wheel: str, env: str) -> dict[str, bytes | int]:
    from deadweight.inventory.capture import wanted

    out: dict[str, bytes | int] = {}
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            path = f"{env}/{info.filename}"
            out[path] = zf.read(info) if wanted(path) else info.file_size
    return out


CPU_WHEELS = sorted(glob.glob("/opt/wheels/torch-2.13.0+cpu-*.whl"))


@pytest.mark.skipif(not CPU_WHEELS, reason="the CPU torch wheel is not on this machine (/opt/wheels)")
def test_real_cpu_torch_wheel_recognised_as_cpu() -> None:
    layer = _wheel_layer(CPU_WHEELS[0], SP)
    t = tree(layer)
    inv = build_inventory(t, config())
    torch = inv.environments[0].find("torch")
    assert torch is not None
    assert torch.version == "2.13.0+cpu"
    assert torch.build == "cpu"
    assert torch.build_evidence[0] == "version label +cpu"
    assert not any(r.active and r.name.startswith("nvidia-") for r in torch.requires)
    assert "torch" in torch.import_names
    assert {ep.name for ep in torch.console_scripts} >= {"torchrun"}
    with zipfile.ZipFile(CPU_WHEELS[0]) as zf:
        total = sum(i.file_size for i in zf.infolist() if not i.is_dir())
    assert torch.size_bytes == total
    assert torch.missing_files == () and torch.warnings == ()
    assert inv.breakdown["gpu"] == 0
    assert inv.breakdown["ml"] + inv.breakdown["tests_docs"] == total

"""DW102 on real images: onnxruntime-gpu, opencv-python's GUI libraries, jax CUDA plugins."""

from __future__ import annotations

from pathlib import Path

from deadweight.model.project import GpuRequest
from deadweight.model.remedy import RemoveRequirement, ReplaceRequirement
from deadweight.model.usage import DeviceStatus, DeviceVerdict
from deadweight.rules.base import CpuBuild
from deadweight.rules.dw102_gpu_variants import GpuOrGuiVariant
from deadweight.rules.engine import evaluate_all
from tests.unit.rules.ruleimages import SITE, analyze, context, dist, requirements_service, service

RULE = GpuOrGuiVariant()
CPU = DeviceVerdict(DeviceStatus.CPU_ONLY)

OPENCV_LIBS = {
    "opencv_python.libs/libQt5Core-e6f3f1a4.so.5.15.13": 60_000,
    "opencv_python.libs/libQt5Gui-0d5a9b5e.so.5.15.13": 50_000,
    "opencv_python.libs/libX11-xcb-69166bdf.so.1.0.0": 2_000,
    "opencv_python.libs/libxcb-icccm-413c9f41.so.4.0.0": 1_000,
    "opencv_python.libs/libavcodec-9aae4b8a.so.59.37.100": 40_000,  # ffmpeg: the headless wheel has it too
    "opencv_python.libs/libopenblas-r0-f650aae0.so": 30_000,
}
GUI_LIBS = [p for p in OPENCV_LIBS if "Qt5" in p or "X11" in p or "xcb" in p]


def test_opencv_gui_libraries_are_counted_exactly(tmp_path: Path) -> None:
    analysis, inventory = analyze(tmp_path, [dist("opencv-python", "4.10.0.84",
                                                  {"cv2/__init__.py": b"", "cv2/cv2.abi3.so": 90_000, **OPENCV_LIBS})])
    [finding] = RULE.evaluate(context(analysis=analysis, inventory=inventory))
    expected = {f"file:{SITE}/{p}": OPENCV_LIBS[p] for p in GUI_LIBS}
    assert dict(finding.claims) == expected
    assert finding.savings_bytes == sum(expected.values()) == 113_000
    assert finding.package == "opencv-python"
    assert finding.fix == "Depend on opencv-python-headless instead of opencv-python."
    assert not finding.estimated


def test_opencv_with_gui_calls_is_silent(tmp_path: Path) -> None:
    files: dict[str, bytes | int] = {"cv2/__init__.py": b"", **OPENCV_LIBS}
    analysis, inventory = analyze(tmp_path, [dist("opencv-python", "4.10.0.84", files)])
    ctx = context(analysis=analysis, inventory=inventory, gui_calls=("app/view.py:12",))
    assert list(RULE.evaluate(ctx)) == []


def test_headless_opencv_is_silent(tmp_path: Path) -> None:
    libs = {p.replace("opencv_python.libs", "opencv_python_headless.libs"): s for p, s in OPENCV_LIBS.items()}
    analysis, inventory = analyze(tmp_path, [dist("opencv-python-headless", "4.10.0.84", libs)])
    assert list(RULE.evaluate(context(analysis=analysis, inventory=inventory))) == []


def test_opencv_without_gui_libraries_in_the_image_is_silent(tmp_path: Path) -> None:
    libs = {p: s for p, s in OPENCV_LIBS.items() if p not in GUI_LIBS}
    analysis, inventory = analyze(tmp_path, [dist("opencv-python", "4.10.0.84", libs)])
    assert list(RULE.evaluate(context(analysis=analysis, inventory=inventory))) == []


def onnx_image(tmp_path: Path) -> tuple[object, object]:
    return analyze(tmp_path, [
        dist("onnxruntime-gpu", "1.19.2", {
            "onnxruntime/__init__.py": b"",
            "onnxruntime/capi/libonnxruntime_providers_cuda.so": 70_000,
            "onnxruntime/capi/onnxruntime_pybind11_state.so": 20_000,
        }, requires=("numpy>=1.21.6", "nvidia-cudnn-cu12")),
        dist("nvidia-cudnn-cu12", "9.1.0.70", {"nvidia/cudnn/lib/libcudnn.so.9": 50_000}, requested=False),
        dist("numpy", "2.1.0", {"numpy/__init__.py": 500}, requested=False),
    ])


def test_onnxruntime_gpu_on_a_cpu_service(tmp_path: Path) -> None:
    analysis, inventory = onnx_image(tmp_path)
    lean = CpuBuild("onnxruntime", "1.19.2", 25_000, "table")
    [finding] = RULE.evaluate(context(analysis=analysis, inventory=inventory, device=CPU,
                                      cpu_builds={"onnxruntime-gpu": lean}))
    stack = {n.path: n.size for n in analysis.tree.nodes()
             if n.kind.value == "file" and n.path.startswith((f"{SITE}/onnxruntime", f"{SITE}/nvidia"))}
    assert finding.savings_bytes == sum(stack.values()) - 25_000
    assert set(finding.claims) == {f"file:{p}" for p in stack}
    assert not any("numpy" in key for key in finding.claims)
    assert finding.fix == "Depend on onnxruntime instead of onnxruntime-gpu."
    assert not finding.estimated


def test_onnxruntime_gpu_without_a_lean_size_is_estimated(tmp_path: Path) -> None:
    analysis, inventory = onnx_image(tmp_path)
    [finding] = RULE.evaluate(context(analysis=analysis, inventory=inventory, device=CPU))
    assert finding.estimated


def test_onnxruntime_gpu_silent_when_gpu_used_unknown_or_deployed(tmp_path: Path) -> None:
    analysis, inventory = onnx_image(tmp_path)
    for device in (DeviceVerdict(DeviceStatus.GPU_USED), DeviceVerdict(DeviceStatus.UNKNOWN)):
        assert list(RULE.evaluate(context(analysis=analysis, inventory=inventory, device=device))) == []
    gpu_svc = service(gpu=GpuRequest(True, ("compose.yaml:9",)))
    assert list(RULE.evaluate(context(gpu_svc, analysis, inventory, device=CPU))) == []


def test_jax_cuda_plugin_on_a_cpu_service(tmp_path: Path) -> None:
    analysis, inventory = analyze(tmp_path, [
        dist("jax", "0.4.35", {"jax/__init__.py": 3_000}, requires=("jaxlib<=0.4.35",)),
        dist("jaxlib", "0.4.35", {"jaxlib/xla_extension.so": 9_000}, requested=False),
        dist("jax-cuda12-plugin", "0.4.35", {"jax_cuda12_plugin/_cuda_versions.so": 4_000},
             requires=("jax-cuda12-pjrt==0.4.35",), requested=False),
        dist("jax-cuda12-pjrt", "0.4.35", {"jax_plugins/xla_cuda12/xla_cuda_plugin.so": 60_000}, requested=False),
    ])
    [finding] = RULE.evaluate(context(analysis=analysis, inventory=inventory, device=CPU))
    assert finding.package == "jax-cuda12-plugin"
    plugin_files = {n.path: n.size for n in analysis.tree.nodes() if n.kind.value == "file"
                    and n.path.startswith((f"{SITE}/jax_cuda12", f"{SITE}/jax_plugins"))}
    assert finding.savings_bytes == sum(plugin_files.values())
    assert set(finding.claims) == {f"file:{p}" for p in plugin_files}
    assert finding.fix.startswith("Remove jax-cuda12-plugin")
    assert not finding.estimated  # nothing replaces it: the saving is measured


def test_inline_ignore_on_the_opencv_requirement(tmp_path: Path) -> None:
    files: dict[str, bytes | int] = {"cv2/__init__.py": b"", **OPENCV_LIBS}
    analysis, inventory = analyze(tmp_path, [dist("opencv-python", "4.10.0.84", files)])
    svc = requirements_service(tmp_path / "svc", "opencv-python==4.10.0.84  # deadweight: ignore[DW102]\n")
    assert evaluate_all(context(svc, analysis, inventory), (RULE,)).findings == ()


def test_remedies_replace_the_declared_variant_or_remove_the_plugin(tmp_path: Path) -> None:
    analysis, inventory = onnx_image(tmp_path)
    svc = requirements_service(tmp_path / "svc", "numpy==2.1.0\nonnxruntime-gpu==1.19.2 ; sys_platform == 'linux'\n")
    [finding] = RULE.evaluate(context(svc, analysis, inventory, device=CPU))
    [edit] = finding.remedy
    assert isinstance(edit, ReplaceRequirement) and edit.kind == "replace-requirement"
    assert (edit.package, edit.name, edit.specifier) == ("onnxruntime-gpu", "onnxruntime", None)
    assert (edit.file, edit.line) == (str(Path(svc.context_dir or "") / "requirements.txt"), 2)
    assert edit.original.startswith("onnxruntime-gpu==1.19.2")
    assert finding.fix == "Depend on onnxruntime instead of onnxruntime-gpu."

    files: dict[str, bytes | int] = {"cv2/__init__.py": b"", **OPENCV_LIBS}
    analysis, inventory = analyze(tmp_path, [dist("opencv-python", "4.10.0.84", files)], name="cv.tar")
    svc = requirements_service(tmp_path / "cv", "opencv-python==4.10.0.84\n")
    [finding] = RULE.evaluate(context(svc, analysis, inventory))
    [edit] = finding.remedy
    assert isinstance(edit, ReplaceRequirement) and edit.name == "opencv-python-headless" and edit.line == 1

    analysis, inventory = analyze(tmp_path, [
        dist("jax-cuda12-plugin", "0.4.35", {"jax_cuda12_plugin/_cuda_versions.so": 4_000}),
    ], name="jax.tar")
    [finding] = RULE.evaluate(context(analysis=analysis, inventory=inventory, device=CPU))
    [edit] = finding.remedy
    assert isinstance(edit, RemoveRequirement) and edit.package == "jax-cuda12-plugin" and edit.file is None
    assert finding.fix == "Remove jax-cuda12-plugin: the CPU build of jax needs no plugin."

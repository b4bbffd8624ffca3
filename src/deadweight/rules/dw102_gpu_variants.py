"""DW102: other GPU or GUI variants where the lean variant does the same job.

GPU variants (tensorflow with CUDA, onnxruntime-gpu, faiss-gpu, jax CUDA plugins) are reported under the
same CPU-only conditions as DW101. opencv-python's GUI build is reported when the code opens no window
(no ``cv2.imshow``/``namedWindow``...): the headless variant differs only by the Qt/X11 libraries, whose
bytes are measured in the wheel's ``.libs`` folder.
"""

from __future__ import annotations

from collections.abc import Iterable

from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.inventory import Distribution
from deadweight.model.remedy import Edit, RemoveRequirement, ReplaceRequirement
from deadweight.model.usage import DeviceStatus
from deadweight.rules.base import Rule, RuleContext, distribution_claims, file_claims, package_spans
from deadweight.rules.removal import gpu_stack
from deadweight.units import human_bytes
from deadweight.usage.device import GUI_CALLS
from deadweight.usage.gpu import deployment_gpu, device_verdict_evidence

#: GPU distribution -> the lean variant to depend on instead ("" = just remove it).
LEAN_VARIANTS = {
    "tensorflow": "tensorflow-cpu",
    "tensorflow-gpu": "tensorflow-cpu",
    "onnxruntime-gpu": "onnxruntime",
    "faiss-gpu": "faiss-cpu",
    "faiss-gpu-cu12": "faiss-cpu",
    "faiss-gpu-cu11": "faiss-cpu",
    "jax-cuda12-plugin": "",
    "jax-cuda13-plugin": "",
    "jax-cuda11-plugin": "",
    "paddlepaddle-gpu": "paddlepaddle",
}
GUI_VARIANTS = {"opencv-python": "opencv-python-headless", "opencv-contrib-python": "opencv-contrib-python-headless"}
_GUI_LIB_TOKENS = ("libqt", "libx", "libxcb", "libfreetype", "libpng", "libgl", "libgthread", "libgtk")


def _basename(path: str) -> str:
    return path.rpartition("/")[2].lower()


class GpuOrGuiVariant(Rule):
    id = "DW102"
    name = "GpuOrGuiVariant"
    title = "GPU or GUI variant where a lean one fits"
    severity = Severity.MEDIUM
    description = (
        "A GPU or GUI build of a package (tensorflow, onnxruntime-gpu, faiss-gpu, jax[cuda], cupy, "
        "opencv-python) is installed where the CPU or headless variant does the same job."
    )
    fix = "Depend on the lean variant (tensorflow-cpu, onnxruntime, faiss-cpu, jax, opencv-python-headless)."

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        findings: list[Finding] = []
        for dist in ctx.distributions():
            # jax's CUDA plugins are GPU-only by name: the inventory gives them no framework build.
            if dist.name in LEAN_VARIANTS and (dist.build in ("cuda", "gpu", "rocm") or not LEAN_VARIANTS[dist.name]):
                finding = self._gpu(ctx, dist)
            elif dist.name in GUI_VARIANTS:
                finding = self._gui(ctx, dist)
            else:
                finding = None
            if finding is not None:
                findings.append(finding)
        return findings

    def _gpu(self, ctx: RuleContext, dist: Distribution) -> Finding | None:
        has_gpu, deploy_evidence = deployment_gpu(ctx.service, ctx.config.deployment_gpu, ctx.config.source)
        if has_gpu or ctx.device.status in (DeviceStatus.GPU_USED, DeviceStatus.UNKNOWN):
            return None
        lean = LEAN_VARIANTS[dist.name]
        assert ctx.inventory is not None
        stack = gpu_stack(ctx.inventory, dist)
        lean_build = ctx.cpu_builds.get(dist.name)
        savings = sum(d.size_bytes for d in stack) - (lean_build.installed_bytes if lean_build else 0)
        remedy: list[Edit] = [
            ReplaceRequirement(dist.name, name=lean, **span) if lean
            else RemoveRequirement(dist.name, reason="the CPU build of jax needs no plugin", **span)
            for span in package_spans(ctx, dist.name)
        ]
        return self.finding(
            ctx,
            title=f"{dist.display_name} is a GPU build in a CPU-only service",
            package=dist.name,
            savings_bytes=savings,
            estimated=ctx.estimated or (bool(lean) and lean_build is None),
            evidence=[Evidence("record", f"{dist.display_name} {dist.version}: {dist.build} build",
                               dist.metadata_path), *device_verdict_evidence(ctx.device), *deploy_evidence],
            remedy=remedy,
            claims=distribution_claims(stack, ctx),
        )

    def _gui(self, ctx: RuleContext, dist: Distribution) -> Finding | None:
        if ctx.gui_calls:
            return None
        gui_files = [f for f in dist.files if ".libs/" in f and _basename(f).startswith(_GUI_LIB_TOKENS)]
        claims = file_claims(gui_files, ctx)
        savings = sum(claims.values())
        if ctx.analysis is not None and savings == 0:
            return None
        headless = GUI_VARIANTS[dist.name]
        return self.finding(
            ctx,
            title=f"{dist.display_name} ships GUI libraries a server never opens",
            package=dist.name,
            savings_bytes=savings,
            estimated=ctx.analysis is None,
            evidence=[Evidence("record", f"{len(gui_files)} Qt/X11 libraries: {human_bytes(savings)}",
                               dist.metadata_path),
                      Evidence("code", f"no cv2 GUI call ({', '.join(GUI_CALLS[:3])}, ...) in the scanned code", None)],
            remedy=[ReplaceRequirement(dist.name, name=headless, **span) for span in package_spans(ctx, dist.name)],
            claims=claims,
        )

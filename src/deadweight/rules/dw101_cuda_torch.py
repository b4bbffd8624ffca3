"""DW101: the CUDA build of torch in a service whose code and deployment are CPU-only.

On Linux, PyPI's torch wheels are CUDA builds that pull 3-4 GB of nvidia-* wheels and triton. A service
that never puts a tensor on a GPU, deployed without one, needs the CPU build (a few hundred MB).

Savings are measured: torch plus the GPU distributions that leave with it, minus the installed size of
the CPU build of the same version (read from the CPU index's wheel; a documented table when offline).
The finding is only raised when code *and* deployment are CPU-only, with both pieces of evidence shown;
code that requires CUDA gets no finding, and a note when the deployment has no GPU for it.
"""

from __future__ import annotations

from collections.abc import Iterable

from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.remedy import SetIndex
from deadweight.model.usage import Confidence, DeviceStatus
from deadweight.rules.base import Rule, RuleContext, distribution_claims, package_spans
from deadweight.rules.removal import gpu_stack
from deadweight.units import human_bytes
from deadweight.usage.gpu import deployment_gpu, device_verdict_evidence

GPU_BUILDS = frozenset({"cuda", "rocm", "gpu"})


class CudaTorchOnCpu(Rule):
    id = "DW101"
    name = "CudaTorchOnCpuService"
    title = "CUDA torch in a CPU-only service"
    severity = Severity.HIGH
    description = (
        "The GPU (CUDA) build of torch, with its nvidia-* wheels and triton, is installed in an image whose "
        "code and deployment never use a GPU."
    )
    fix = "Install torch from the PyTorch CPU index (torch-cpu-index setting)."

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        torch = ctx.distribution("torch")
        if torch is None or torch.build not in GPU_BUILDS:
            return []
        has_gpu, deploy_evidence = deployment_gpu(ctx.service, ctx.config.deployment_gpu, ctx.config.source)
        status = ctx.device.status
        if status is DeviceStatus.GPU_USED:
            if has_gpu:
                return []
            return [
                self.finding(
                    ctx,
                    title="Code uses CUDA but the deployment has no GPU",
                    package="torch",
                    severity=Severity.INFO,
                    confidence=Confidence.MEDIUM,
                    evidence=device_verdict_evidence(ctx.device) + deploy_evidence,
                    fix="Request a GPU for this service, or make the code fall back to the CPU.",
                )
            ]
        if has_gpu or status is DeviceStatus.UNKNOWN:
            return []
        assert ctx.inventory is not None
        stack = gpu_stack(ctx.inventory, torch)
        stack_bytes = sum(d.size_bytes for d in stack)
        cpu = ctx.cpu_builds.get("torch")
        savings = stack_bytes - (cpu.installed_bytes if cpu else 0)
        build_note = f"{torch.display_name} {torch.version} is a {torch.build.upper()} build"
        evidence = [Evidence("record", build_note, torch.metadata_path)]
        gpu_deps = [d for d in stack if d.name != "torch"]
        if gpu_deps:
            shown = ", ".join(d.name for d in sorted(gpu_deps, key=lambda d: -d.size_bytes)[:5])
            evidence.append(Evidence("record", f"{len(gpu_deps)} GPU distributions leave with it ({shown})", None))
        if status is DeviceStatus.GPU_OPTIONAL:
            evidence.append(Evidence("device", "code uses CUDA only when available, and none is deployed", None))
        evidence += device_verdict_evidence(ctx.device) + deploy_evidence
        if cpu:
            evidence.append(Evidence("index", f"CPU build {cpu.version} installs {human_bytes(cpu.installed_bytes)}",
                                     cpu.source))
        version = torch.version.split("+")[0]
        return [
            self.finding(
                ctx,
                title=f"CUDA torch ({human_bytes(stack_bytes)} with its GPU stack) in a CPU-only service",
                package="torch",
                savings_bytes=savings,
                estimated=ctx.estimated or cpu is None or cpu.estimated,
                confidence=Confidence.HIGH if status is DeviceStatus.CPU_ONLY else Confidence.MEDIUM,
                evidence=evidence,
                remedy=[SetIndex("torch", ctx.config.torch_cpu_index, version, **span)
                        for span in package_spans(ctx, "torch")],
                claims=distribution_claims(stack, ctx),
            )
        ]

"""DW101: the CUDA build of torch in a service whose code and deployment are CPU-only.

On Linux, PyPI's torch wheels are CUDA builds that pull 3-4 GB of nvidia-* wheels and triton. A service
that never puts a tensor on a GPU, deployed without one, needs the CPU build (a few hundred MB).

Savings are measured: torch plus the GPU distributions that leave with it, minus the installed size of
the CPU build of the same version (read from the CPU index's wheel; a documented table when offline).
The finding is only raised when code *and* deployment are CPU-only, with both pieces of evidence shown;
code that requires CUDA gets no finding, and a note when the deployment has no GPU for it.

Two things keep it honest (issue 9): the torch the build installs is not CUDA when an index or lock says
otherwise (``project/indexes.py``: a CPU index, ``UV_TORCH_BACKEND=cpu``, a locked ``+cpu``), and code that
never imports torch still uses it through the framework that requires it; the finding then names the path
("torch via sentence-transformers, imported at app/embed.py:3").
"""

from __future__ import annotations

from collections.abc import Iterable

from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.remedy import SetIndex
from deadweight.model.usage import Confidence, DeviceStatus, EvidenceKind, VerdictStatus
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
        if torch is None or torch.build not in GPU_BUILDS or torch.version.endswith("+cpu"):
            return []
        # The build installs from a CPU index / lock / backend. A static estimate resolves from PyPI and would say
        # CUDA: trust the project. On an image the installed build is the stronger evidence (see below).
        cpu_index = ctx.torch_index if ctx.torch_index is not None and ctx.torch_index.cpu else None
        measured = ctx.analysis is not None and not ctx.estimated
        if cpu_index is not None and not measured:
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
        if cpu_index is not None:
            evidence.append(Evidence("index", f"the project reads {cpu_index.detail}, yet the image holds "
                                              f"{torch.version}: built from other sources?", cpu_index.location))
        path = torch_path(ctx)
        if path is not None:
            evidence.append(path)
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
                confidence=(Confidence.HIGH if status is DeviceStatus.CPU_ONLY and cpu_index is None
                            else Confidence.MEDIUM),
                evidence=evidence,
                remedy=[SetIndex("torch", ctx.config.torch_cpu_index, version, **span)
                        for span in package_spans(ctx, "torch")],
                claims=distribution_claims(stack, ctx),
            )
        ]


def torch_path(ctx: RuleContext, limit: int = 6) -> Evidence | None:
    """How the code reaches torch: imported itself, or through the used distributions that require it
    ("torch via sentence-transformers, imported at app/embed.py:3"); ``None`` when the verdicts don't say."""
    verdict = ctx.verdicts.get("torch")
    if verdict is None:
        return None
    if verdict.status is VerdictStatus.USED and verdict.evidence:
        first = verdict.evidence[0]
        return Evidence("usage", f"torch used: {first.detail}", first.location)
    if verdict.status is not VerdictStatus.USED_TRANSITIVELY or not verdict.via:
        return None
    chain: list[str] = []
    current = verdict
    while current.status is VerdictStatus.USED_TRANSITIVELY and current.via and len(chain) < limit:
        name = current.via[0]
        if name in chain:
            break
        chain.append(name)
        nxt = ctx.verdicts.get(name)
        if nxt is None:
            break
        current = nxt
    use = current.evidence[0] if current.status is VerdictStatus.USED and current.evidence else None
    where = use.location if use else None
    how = "imported" if use is not None and use.kind is EvidenceKind.IMPORT else "used"
    detail = "torch via " + " via ".join(chain) + (f", {how} at {where}" if where else "")
    return Evidence("usage", detail, where)

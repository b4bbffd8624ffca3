"""Whether a service is deployed with a GPU, and the device verdict as a finding's evidence.

The CPU-only conditions DW101 (torch) and DW102 (other GPU variants) share: the code's device verdict comes
from ``usage/device.py``; the deployment's GPU request from the project (compose reservations, runtime), which
the ``deployment-gpu`` setting overrides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from deadweight.model.finding import Evidence
from deadweight.model.project import Service
from deadweight.model.usage import DeviceVerdict, UsageEvidence, Verdict, VerdictStatus
from deadweight.usage.device import decide_device

#: Distributions of GPU-capable frameworks: a service reaches one when a used distribution requires it
#: (sentence-transformers -> torch), even if its code never imports it.
FRAMEWORK_DISTRIBUTIONS = frozenset({"torch", "tensorflow", "tensorflow-cpu", "jax", "onnxruntime",
                                     "onnxruntime-gpu"})


def deployment_gpu(service: Service, setting: str, source: str | None) -> tuple[bool, list[Evidence]]:
    """Whether ``service`` is deployed with a GPU: ``setting`` (``deployment-gpu``: true/false) wins over
    ``auto``, which reads the deployment's GPU request. ``source`` names the file the setting came from."""
    if setting in ("true", "false"):
        return setting == "true", [Evidence("config", f"deployment-gpu = {setting}", source or "configuration")]
    if service.gpu.requested:
        return True, [Evidence("deployment", f"GPU requested: {e}", e) for e in service.gpu.evidence[:3]]
    where = service.compose_file or service.dockerfile_path or service.name
    return False, [Evidence("deployment", "no GPU reservation, runtime: nvidia or nvidia.com/gpu request", where)]


def device_verdict_evidence(device: DeviceVerdict, limit: int = 3) -> list[Evidence]:
    """The first ``limit`` pieces of the code's device evidence, as a finding cites them."""
    return [Evidence(e.kind.value, e.detail, e.location) for e in device.evidence[:limit]]


def framework_reached(verdicts: Mapping[str, Verdict]) -> bool:
    """Whether a GPU framework is used, by an import or through a used distribution that requires it."""
    return any(v.status in (VerdictStatus.USED, VerdictStatus.USED_TRANSITIVELY)
               for name, v in verdicts.items() if name in FRAMEWORK_DISTRIBUTIONS)


def service_device(evidence: Sequence[UsageEvidence], verdicts: Mapping[str, Verdict], *, imports_framework: bool,
                   complete: bool) -> DeviceVerdict:
    """The device verdict of a whole service: the device evidence of all its code (and deployment env), with a
    GPU framework counted as used when the code imports one or a used distribution requires one."""
    return decide_device(evidence, uses_gpu_framework=imports_framework or framework_reached(verdicts),
                         complete=complete)

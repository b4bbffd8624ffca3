"""Whether a service is deployed with a GPU, and the device verdict as a finding's evidence.

The CPU-only conditions DW101 (torch) and DW102 (other GPU variants) share: the code's device verdict comes
from ``usage/device.py``; the deployment's GPU request from the project (compose reservations, runtime), which
the ``deployment-gpu`` setting overrides.
"""

from __future__ import annotations

from deadweight.model.finding import Evidence
from deadweight.model.project import Service
from deadweight.model.usage import DeviceVerdict


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

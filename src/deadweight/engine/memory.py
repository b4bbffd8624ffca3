"""Observe a service's memory: start its container as compose would (command, environment, memory limit;
network off unless told otherwise), sample the engine's stats until the healthcheck passes or the timeout
ends, stop it, and report the peak. Used by DW701/DW702 (``audit --run``)."""

from __future__ import annotations

import contextlib
import time
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound

from deadweight.config import Config
from deadweight.errors import BuildError
from deadweight.model.project import Service

SAMPLE_INTERVAL = 0.5
HEALTH_INTERVAL_NS = 1_000_000_000  # probe every second while observing, whatever compose says


def healthcheck_of(service: Service) -> dict[str, Any] | None:
    """The compose healthcheck as the Engine API wants it (``None``: keep the image's own, if any)."""
    test = service.healthcheck
    if not test:
        return None
    if isinstance(test, str):
        command: list[str] = ["CMD-SHELL", test]
    elif test[0] in ("CMD", "CMD-SHELL", "NONE"):
        command = list(test)
    else:
        command = ["CMD", *test]
    return {"test": command, "interval": HEALTH_INTERVAL_NS, "retries": 3}


def _usage(stats: dict[str, Any]) -> int:
    """Memory in use as ``docker stats`` shows it: usage minus the page cache."""
    mem = stats.get("memory_stats")
    if not isinstance(mem, dict):
        return 0
    usage = int(mem.get("usage", 0) or 0)
    details = mem.get("stats") if isinstance(mem.get("stats"), dict) else {}
    assert isinstance(details, dict)
    cache = int(details.get("inactive_file", details.get("total_inactive_file", details.get("cache", 0))) or 0)
    return max(0, usage - cache)


def observe_memory(service: Service, ref: str, config: Config, *, network: str | None) -> tuple[int | None, str]:
    """(peak bytes or None, what was observed)."""
    image = ref.removeprefix("docker:")
    seconds = config.run.timeout_seconds
    net = network or config.run.network
    try:
        client = docker.from_env()
        command = list(service.command) if isinstance(service.command, tuple) else service.command
        entrypoint = list(service.entrypoint) if isinstance(service.entrypoint, tuple) else service.entrypoint
        container = client.containers.run(
            image,
            command=command or None,
            entrypoint=entrypoint or None,
            detach=True,
            environment=dict(service.environment),
            network_mode=net,
            mem_limit=service.memory_limit_bytes,
            healthcheck=healthcheck_of(service),
        )
    except ImageNotFound:
        raise BuildError(f"{service.name}: --run needs the image in the local engine ({image})") from None
    except (APIError, DockerException) as exc:
        raise BuildError(f"{service.name}: could not start the container: {str(exc).splitlines()[0]}") from None
    peak = 0
    samples = 0
    healthy = False
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                stats = container.stats(stream=False)
            except (APIError, DockerException):
                break
            if isinstance(stats, dict):
                peak = max(peak, _usage(stats))
            samples += 1
            container.reload()
            state = container.attrs.get("State", {})
            if state.get("Status") == "exited":
                break
            if state.get("Health", {}).get("Status") == "healthy":
                healthy = True
                break
            time.sleep(SAMPLE_INTERVAL)
    finally:
        with contextlib.suppress(APIError, DockerException):
            container.remove(force=True)
    how = "until healthy" if healthy else f"for {seconds:g}s"
    return (peak or None), f"docker stats: {samples} samples {how}, network {net}"

"""Observe a service's memory: start its container as compose would (command, environment, memory limit;
network off unless told otherwise), sample the engine's stats until the healthcheck passes or the timeout
ends, stop it, and report the peak. Used by DW701/DW702 (``audit --run``)."""

from __future__ import annotations

from typing import Any

from deadweight.engine.client import Engine, RunSpec
from deadweight.model.project import Service

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


def _argv(value: tuple[str, ...] | str | None) -> list[str] | str | None:
    return list(value) if isinstance(value, tuple) else value


def run_spec(service: Service, image: str, *, network: str) -> RunSpec:
    """How compose would start ``service`` from ``image`` (a name in the local engine)."""
    return RunSpec(
        image=image,
        command=_argv(service.command),
        entrypoint=_argv(service.entrypoint),
        environment=dict(service.environment),
        network=network,
        mem_limit=service.memory_limit_bytes,
        healthcheck=healthcheck_of(service),
    )


def observe_memory(
    engine: Engine, service: Service, ref: str, *, seconds: float, network: str
) -> tuple[int | None, str]:
    """(peak bytes or None, what was observed) for ``service`` run from ``ref`` (``docker:NAME`` or NAME)."""
    container = engine.run(run_spec(service, ref.removeprefix("docker:"), network=network), label=service.name)
    try:
        sample = engine.sample_memory(container, seconds=seconds)
    finally:
        engine.remove(container)
    how = "until healthy" if sample.healthy else f"for {seconds:g}s"
    return (sample.peak_bytes or None), f"docker stats: {sample.samples} samples {how}, network {network}"

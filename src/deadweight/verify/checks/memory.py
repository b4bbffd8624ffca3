"""Check 7, ``memory``: peak memory and startup time of the service, before and after, under its compose
memory limit.

Peaks come from the engine's stats, sampled while the service starts (the runs ``start`` and ``openapi``
share). fail: the after run was OOM-killed or its peak reached the limit. pass: the after run stayed under
the limit (or there is none); the before figures are shown beside it when there is a before image. error:
no memory sample could be taken (the figures would be made up).
"""

from __future__ import annotations

import time

from deadweight.model.verification import CheckResult
from deadweight.units import human_bytes
from deadweight.verify.checks.base import CheckContext, guarded, result
from deadweight.verify.checks.service import ServiceRun, service_run

CHECK = "memory"


def run(ctx: CheckContext) -> tuple[CheckResult, ...]:
    return guarded(CHECK, "memory under the limit", lambda: (_run(ctx),))


def _figures(run: ServiceRun | None) -> str:
    if run is None:
        return "no before image"
    startup = f"{run.startup_seconds:.1f}s" if run.startup_seconds is not None else "not ready"
    return f"peak {human_bytes(run.peak_bytes)}, startup {startup}"


def _run(ctx: CheckContext) -> CheckResult:
    started = time.monotonic()
    after = service_run(ctx, "after")
    before = service_run(ctx, "before") if ctx.target.before_image else None
    seconds = time.monotonic() - started
    limit = ctx.target.service.memory_limit_bytes
    data = {
        "limit_bytes": limit,
        "after_peak_bytes": after.peak_bytes or None,
        "after_startup_seconds": after.startup_seconds,
        "after_samples": after.samples,
        "after_oom_killed": after.oom_killed,
        "before_peak_bytes": (before.peak_bytes or None) if before else None,
        "before_startup_seconds": before.startup_seconds if before else None,
        "before_oom_killed": before.oom_killed if before else None,
    }
    name = "memory " + (f"under {human_bytes(limit)}" if limit else "(no limit set)")
    summary = f"after: {_figures(after)}; before: {_figures(before)}"
    if after.error:
        return result(CHECK, name, "error", after.error, command=after.command, seconds=seconds, data=data)
    if after.oom_killed:
        return result(
            CHECK,
            name,
            "fail",
            f"OOM-killed under the {human_bytes(limit or 0)} limit; {summary}",
            command=after.command,
            output=after.logs,
            image="both",
            seconds=seconds,
            data=data,
        )
    if not after.samples:
        return result(
            CHECK,
            name,
            "error",
            f"no memory sample could be taken ({after.how})",
            command=after.command,
            output=after.logs,
            seconds=seconds,
            data=data,
        )
    if limit and after.peak_bytes >= limit:
        return result(
            CHECK,
            name,
            "fail",
            f"peak reached the {human_bytes(limit)} limit; {summary}",
            command=after.command,
            output=after.logs,
            image="both",
            seconds=seconds,
            data=data,
        )
    return result(
        CHECK,
        name,
        "pass",
        summary,
        command=after.command,
        image="both" if before else "after",
        seconds=seconds,
        data=data,
    )

"""Check 4, ``start``: the service starts in the after image as compose would run it and becomes ready.

pass: healthy (compose healthcheck, else the image's HEALTHCHECK), or an exposed port accepted a connection
from inside the container, or, with neither to wait for, it was still running after a few seconds or exited
0 (the detail says which: "running" is not proof that it serves). fail: it exited non-zero, was OOM-killed,
or was not ready within the start timeout. error: it could not be run at all.
"""

from __future__ import annotations

import time

from deadweight.model.verification import CheckResult, CheckStatus
from deadweight.verify.checks.base import CheckContext, guarded, result
from deadweight.verify.checks.service import service_run

CHECK = "start"


def run(ctx: CheckContext) -> tuple[CheckResult, ...]:
    return guarded(CHECK, "service starts", lambda: (_run(ctx),))


def _run(ctx: CheckContext) -> CheckResult:
    started = time.monotonic()
    run = service_run(ctx, "after")
    seconds = time.monotonic() - started
    data = {
        "startup_seconds": run.startup_seconds,
        "readiness": run.readiness,
        "exit_code": run.exit_code,
        "oom_killed": run.oom_killed,
        "ports": list(run.ports),
    }
    name = f"start {ctx.target.service.name}"
    if run.error:
        return result(CHECK, name, "error", run.error, command=run.command, seconds=seconds, data=data)
    if run.how.startswith("could not start"):
        return result(CHECK, name, "fail", run.how, command=run.command, output=run.logs, seconds=seconds, data=data)
    status: CheckStatus = "pass" if run.ready else "fail"
    return result(CHECK, name, status, run.how, command=run.command, output=run.logs, seconds=seconds, data=data)

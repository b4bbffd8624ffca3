"""Check 1, ``pip-check``: the after image's installed distributions have their requirements met.

``python -m pip check`` with the image's own interpreter. An image without pip (slimmed images often drop
it) gets the same question answered by :data:`METADATA_CHECK`, a stdlib-only script (``packaging`` may be
gone too): every ``Requires-Dist`` whose marker holds names an installed distribution whose version meets
the specifier. Could not run (no python, killed) is ``error``, never ``pass``.
"""

from __future__ import annotations

import time

from deadweight.model.verification import CheckResult
from deadweight.verify.checks.base import CheckContext, guarded, no_python, result
from deadweight.verify.checks.probes import source

CHECK = "pip-check"

#: Run as ``python -c METADATA_CHECK`` when the image has no pip (see ``probes/reqcheck.py``).
METADATA_CHECK = source("reqcheck")


def run(ctx: CheckContext) -> tuple[CheckResult, ...]:
    return guarded(CHECK, "pip check", lambda: (_run(ctx),))


def _run(ctx: CheckContext) -> CheckResult:
    image = ctx.target.after_image
    python = ctx.python(image)
    if python is None:
        return no_python(CHECK, "pip check", image, "after")
    started = time.monotonic()
    argv = [python, "-m", "pip", "check"]
    done = ctx.run(image, argv, environment={"PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    if done.exit_code == 0:
        return result(
            CHECK,
            "pip check",
            "pass",
            done.stdout.strip() or "no broken requirements",
            command=ctx.rerun(image, argv),
            output=done.output,
            seconds=time.monotonic() - started,
        )
    if done.exit_code is not None and "No module named pip" in done.stderr:
        return _fallback(ctx, image, python, started)
    if done.exit_code is None:
        why = "timed out" if done.timed_out else f"could not run: {done.stderr.strip()}"
        return result(
            CHECK,
            "pip check",
            "error",
            f"pip check {why}",
            command=ctx.rerun(image, argv),
            output=done.output,
            seconds=time.monotonic() - started,
        )
    problems = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return result(
        CHECK,
        "pip check",
        "fail",
        "; ".join(problems[:3]) or f"pip check exited {done.exit_code}",
        command=ctx.rerun(image, argv),
        output=done.output,
        seconds=time.monotonic() - started,
        data={"problems": problems},
    )


def _fallback(ctx: CheckContext, image: str, python: str, started: float) -> CheckResult:
    """No pip in the image: the stdlib requirement check instead (the result says which ran)."""
    name = "requirements check (no pip in the image: importlib.metadata)"
    argv = [python, "-c", METADATA_CHECK]
    done = ctx.run(image, argv)
    lines = done.stdout.splitlines()
    finished = [line for line in lines if line.startswith("DW-REQ-DONE ")]
    command = ctx.rerun(image, argv)
    seconds = time.monotonic() - started
    if done.exit_code != 0 or not finished:
        why = "timed out" if done.timed_out else f"exited {done.exit_code}"
        return result(
            CHECK,
            name,
            "error",
            f"the stdlib requirement check {why}",
            command=command,
            output=done.output,
            seconds=seconds,
        )
    problems = parse_problems(done.stdout)
    checked = int(finished[-1].split()[1])
    if problems:
        return result(
            CHECK,
            name,
            "fail",
            "; ".join(problems[:3]),
            command=command,
            output=done.output,
            seconds=seconds,
            data={"problems": problems, "distributions": checked},
        )
    return result(
        CHECK,
        name,
        "pass",
        f"{checked} distributions, no broken requirements",
        command=command,
        output=done.output,
        seconds=seconds,
        data={"distributions": checked},
    )


def parse_problems(stdout: str) -> list[str]:
    """The unmet requirements :data:`METADATA_CHECK` printed, worded as ``pip check`` words them."""
    return [line.removeprefix("DW-REQ ").strip() for line in stdout.splitlines() if line.startswith("DW-REQ ")]

"""The checks ``deadweight verify`` runs in the after image (and, for the differential ones, the before image).

``run_checks`` is the one entry: it runs the selected checks in a fixed order and returns their results, one
or more per check. Each check is its own module (``pipcheck``, ``imports``, ...); what they share (the input,
the interpreter found in each image, service runs, rerun command lines) is in ``base``. A check that cannot
run says ``error`` with why, never ``pass``; a check that does not apply says ``skip`` with why.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from deadweight.engine.client import Engine
from deadweight.errors import UsageError
from deadweight.model.verification import CheckResult
from deadweight.verify.checks import framework, imports, memory, openapi, pipcheck, start, trace, user
from deadweight.verify.checks.base import CheckContext, CheckInput

__all__ = ["CHECK_IDS", "CheckInput", "run_checks"]

_CHECKS: dict[str, Callable[[CheckContext], tuple[CheckResult, ...]]] = {
    pipcheck.CHECK: pipcheck.run,
    imports.CHECK: imports.run,
    framework.CHECK: framework.run,
    start.CHECK: start.run,
    openapi.CHECK: openapi.run,
    user.CHECK: user.run,
    memory.CHECK: memory.run,
    trace.CHECK: trace.run,
}

#: Every check id, in the order ``run_checks`` runs them.
CHECK_IDS: tuple[str, ...] = tuple(_CHECKS)


def run_checks(engine: Engine, target: CheckInput, *, only: Collection[str] = ()) -> tuple[CheckResult, ...]:
    """Run the checks ``only`` names (all when empty) for ``target``; unknown ids are a ``UsageError``."""
    unknown = sorted(set(only) - set(_CHECKS))
    if unknown:
        raise UsageError(f"unknown check {', '.join(unknown)} (known: {', '.join(CHECK_IDS)})")
    ctx = CheckContext(engine, target)
    ctx.cache["only"] = frozenset(only or CHECK_IDS)
    results: list[CheckResult] = []
    for check, run in _CHECKS.items():
        if not only or check in only:
            results.extend(run(ctx))  # each check removes the containers it started
    return tuple(results)

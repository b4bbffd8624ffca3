"""Check 8, ``import-trace``: the modules the service really imports while starting and answering its
OpenAPI GETs, recorded by a ``sitecustomize`` hook copied into the check's own container (never into an
image), must import in the after image.

The trace is taken in the before image; every traced name that imports standalone in the before image is
imported in the after image (one process each side, ``imports.import_all``). fail: names that import before
but not after, with their errors. ``data["imported"]`` lists the traced modules, as usage evidence. skip
(with the trace of the after image in ``data``): no before image to compare with. error: the trace could not
be taken (no python, the service did not start in the before image).
"""

from __future__ import annotations

import time

from deadweight.model.verification import CheckResult
from deadweight.verify.checks.base import CheckContext, Role, guarded, no_python, result
from deadweight.verify.checks.imports import import_all
from deadweight.verify.checks.service import service_run

CHECK = "import-trace"


def run(ctx: CheckContext) -> tuple[CheckResult, ...]:
    return guarded(CHECK, "runtime import trace", lambda: (_run(ctx),))


def _run(ctx: CheckContext) -> CheckResult:
    name = "runtime import trace"
    started = time.monotonic()
    role: Role = "before" if ctx.target.before_image else "after"
    traced = service_run(ctx, role, trace=True)
    seconds = time.monotonic() - started
    if traced.error:
        return result(CHECK, name, "error", traced.error, image=role, seconds=seconds)
    imported = sorted(traced.imported or ())
    data: dict[str, object] = {"imported": imported, "traced_in": role, "ready": traced.ready, "how": traced.how}
    if not imported:
        return result(
            CHECK,
            name,
            "error",
            f"no import was traced in the {role} image ({traced.how})",
            command=traced.command,
            output=traced.logs,
            image=role,
            seconds=seconds,
            data=data,
        )
    if role == "after":
        return result(
            CHECK,
            name,
            "skip",
            f"no before image to compare with; traced {len(imported)} modules in the after image ({traced.how})",
            command=traced.command,
            image="after",
            seconds=seconds,
            data=data,
        )
    before_image, after_image = ctx.target.before_image, ctx.target.after_image
    assert before_image is not None
    before_python, after_python = ctx.python(before_image), ctx.python(after_image)
    if before_python is None or after_python is None:
        return no_python(CHECK, name, after_image, "after")
    standalone, _, _ = import_all(ctx, before_image, before_python, imported)
    importable = [o.module for o in standalone if o.ok]
    outcomes, stderr, _ = import_all(ctx, after_image, after_python, importable)
    seconds = time.monotonic() - started
    failed = [o for o in outcomes if not o.ok]
    data["failed"] = {o.module: o.error for o in failed}
    data["not_standalone"] = [o.module for o in standalone if not o.ok]
    if failed:
        shown = "; ".join(f"{o.module}: {o.error}" for o in failed[:5])
        more = f" (+{len(failed) - 5} more)" if len(failed) > 5 else ""
        rerun = ctx.rerun(after_image, [after_python, "-c", "; ".join(f"import {o.module}" for o in failed[:20])])
        return result(
            CHECK,
            name,
            "fail",
            f"the service imported {len(failed)} module(s) the after image cannot import: {shown}{more}",
            command=rerun,
            output="\n".join(f"{o.module}: {o.error}" for o in failed) + ("\n" + stderr if stderr else ""),
            image="both",
            seconds=seconds,
            data=data,
        )
    return result(
        CHECK,
        name,
        "pass",
        f"all {len(importable)} modules the service imported in the before image "
        f"({traced.how}) import in the after image",
        command=traced.command,
        image="both",
        seconds=seconds,
        data=data,
    )

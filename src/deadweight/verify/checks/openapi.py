"""Check 5, ``openapi`` (differential): every parameterless GET of the service's OpenAPI document answers
with the same status code in the before and the after image.

The document is looked for at ``/openapi.json``, ``/swagger.json`` and ``/api/openapi.json`` on the image's
exposed ports and the ports the service listens on, from inside each container (network none). At most 50
paths, each with a 5 s timeout. skip: no before image, the service did not become ready in the before image,
or it serves no OpenAPI document there. fail: a path's status differs, a path of the before document is
missing from the after one, or the after image serves no document. error: the probe could not run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from deadweight.model.verification import CheckResult
from deadweight.verify.checks.base import CheckContext, guarded, result
from deadweight.verify.checks.service import service_run

CHECK = "openapi"


def compare_statuses(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The differences, one line per path, between two ``{path: status}`` maps (before's paths count)."""
    problems = []
    for path in sorted(before):
        if path not in after:
            problems.append(f"GET {path}: {before[path]} before, not in the after document")
        elif before[path] != after[path]:
            problems.append(f"GET {path}: {before[path]} before, {after[path]} after")
    return problems


def run(ctx: CheckContext) -> tuple[CheckResult, ...]:
    return guarded(CHECK, "OpenAPI GETs", lambda: (_run(ctx),))


def _run(ctx: CheckContext) -> CheckResult:
    name = "OpenAPI parameterless GETs"
    if not ctx.target.before_image:
        return result(CHECK, name, "skip", "no before image: the status codes have nothing to be compared with")
    started = time.monotonic()
    before = service_run(ctx, "before")
    after = service_run(ctx, "after")
    seconds = time.monotonic() - started
    for run in (before, after):
        if run.error:
            return result(CHECK, name, "error", f"{run.role}: {run.error}", seconds=seconds)
    if not before.ready:
        return result(
            CHECK,
            name,
            "skip",
            f"the service is not ready in the before image ({before.how})",
            image="before",
            seconds=seconds,
        )
    if before.exit_code is not None:
        return result(
            CHECK,
            name,
            "skip",
            f"the service exits in the before image (exit {before.exit_code}: a job, not a server): no HTTP to compare",
            image="before",
            seconds=seconds,
        )
    if before.http is None:
        why = before.http_error or "no python in the image to probe from inside the container"
        return result(
            CHECK, name, "error", f"the probe could not run in the before image: {why}", image="before", seconds=seconds
        )
    if not before.http.get("document"):
        return result(
            CHECK,
            name,
            "skip",
            "no OpenAPI document at /openapi.json, /swagger.json or /api/openapi.json in the before image",
            image="before",
            seconds=seconds,
        )
    old: Mapping[str, Any] = before.http.get("paths") or {}
    data: dict[str, Any] = {
        "before": dict(old),
        "document": before.http.get("document"),
        "port": before.http.get("port"),
    }
    command = after.command
    if not after.ready:
        return result(
            CHECK,
            name,
            "fail",
            f"the service is not ready in the after image ({after.how})",
            command=command,
            output=after.logs,
            image="both",
            seconds=seconds,
            data=data,
        )
    if after.http is None:
        return result(
            CHECK,
            name,
            "error",
            f"the probe could not run in the after image: {after.http_error}",
            command=command,
            image="both",
            seconds=seconds,
            data=data,
        )
    new: Mapping[str, Any] = after.http.get("paths") or {}
    data["after"] = dict(new)
    if not after.http.get("document"):
        return result(
            CHECK,
            name,
            "fail",
            f"the after image serves no OpenAPI document (before: {before.http.get('document')})",
            command=command,
            output=after.logs,
            image="both",
            seconds=seconds,
            data=data,
        )
    problems = compare_statuses(old, new)
    listing = "\n".join(f"GET {p}: before {old[p]}, after {new.get(p, '-')}" for p in sorted(old))
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        return result(
            CHECK,
            name,
            "fail",
            "; ".join(problems[:3]) + more,
            command=command,
            output=listing + "\n" + after.logs,
            image="both",
            seconds=seconds,
            data=data,
        )
    return result(
        CHECK,
        name,
        "pass",
        f"{len(old)} GET paths of {before.http.get('document')}: same status codes",
        command=command,
        output=listing,
        image="both",
        seconds=seconds,
        data=data,
    )

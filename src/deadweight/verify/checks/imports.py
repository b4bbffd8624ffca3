"""Check 2, ``imports``: every module the service uses imports in the after image, all in ONE process.

One container, one interpreter, :data:`IMPORT_SCRIPT` importing each module in turn (a failure does not stop
the rest) and printing a JSON line per module, so a thousand modules cost one container start. A process
that dies mid-way (a segfaulting extension, ``os._exit``) is caught: the module it was importing is named.
``import-trace`` reuses :func:`import_all` for its differential import.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from deadweight.model.verification import CheckResult
from deadweight.verify.checks.base import CheckContext, guarded, no_python, result

CHECK = "imports"
BEGIN = "DW-IMPORT-BEGIN "
END = "DW-IMPORT "

#: ``python -c IMPORT_SCRIPT mod ...``: a ``DW-IMPORT-BEGIN name`` line before each import, a
#: ``DW-IMPORT {json}`` line after ({"module", "ok", "error"?, "seconds"}). stdout is flushed at each line so
#: a crash leaves the BEGIN of the module that caused it.
IMPORT_SCRIPT = r"""
import importlib, json, sys, time
for name in sys.argv[1:]:
    print("DW-IMPORT-BEGIN " + name, flush=True)
    t = time.perf_counter()
    try:
        importlib.import_module(name)
        r = {"module": name, "ok": True}
    except BaseException as e:
        r = {"module": name, "ok": False, "error": ("%s: %s" % (type(e).__name__, e))[:500]}
    r["seconds"] = round(time.perf_counter() - t, 4)
    print("DW-IMPORT " + json.dumps(r), flush=True)
"""


@dataclass(frozen=True)
class ImportOutcome:
    module: str
    ok: bool
    error: str = ""  # "ImportError: libpq.so.5: cannot open shared object file: ..."
    seconds: float = 0.0


def parse_import_lines(stdout: str, modules: Sequence[str], *, exit_code: int | None) -> list[ImportOutcome]:
    """One outcome per module asked for, in order, from :data:`IMPORT_SCRIPT`'s output; a module the process
    never finished (it crashed or was killed there) or never reached is a failure saying so."""
    done: dict[str, ImportOutcome] = {}
    begun: str | None = None
    for line in stdout.splitlines():
        if line.startswith(BEGIN):
            begun = line[len(BEGIN) :].strip()
        elif line.startswith(END):
            try:
                row = json.loads(line[len(END) :])
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("module"), str):
                name = row["module"]
                done[name] = ImportOutcome(
                    name, bool(row.get("ok")), str(row.get("error") or ""), float(row.get("seconds") or 0.0)
                )
                if begun == name:
                    begun = None
    how = "was killed (timeout)" if exit_code is None else f"exited {exit_code}"
    out = []
    for name in modules:
        if name in done:
            out.append(done[name])
        elif name == begun:
            out.append(ImportOutcome(name, False, f"the interpreter {how} while importing it"))
        else:
            out.append(ImportOutcome(name, False, f"not reached: the interpreter {how} before it"))
    return out


def import_all(
    ctx: CheckContext, image: str, python: str, modules: Sequence[str]
) -> tuple[list[ImportOutcome], str, str]:
    """(outcomes, output, rerun command) of importing ``modules`` in one process in ``image``."""
    argv = [python, "-c", IMPORT_SCRIPT, *modules]
    env = ctx.target.service.environment  # an application module may read its settings at import
    done = ctx.run(image, argv, environment=env)
    if done.exit_code is None and not done.timed_out:
        # the interpreter did not start at all: not a per-module failure
        raise _NotRun(done.stderr.strip() or "the container did not start")
    return parse_import_lines(done.stdout, modules, exit_code=done.exit_code), done.stderr, ctx.rerun(image, argv, env)


class _NotRun(Exception):
    pass


def run(ctx: CheckContext) -> tuple[CheckResult, ...]:
    return guarded(CHECK, "import modules", lambda: (_run(ctx),))


def _run(ctx: CheckContext) -> CheckResult:
    modules = list(dict.fromkeys(m for m in ctx.target.modules if m))
    name = f"import {len(modules)} modules"
    if not modules:
        return result(CHECK, name, "skip", "no modules to import (no used distributions or application modules)")
    image = ctx.target.after_image
    python = ctx.python(image)
    if python is None:
        return no_python(CHECK, name, image, "after")
    started = time.monotonic()
    try:
        outcomes, stderr, command = import_all(ctx, image, python, modules)
    except _NotRun as exc:
        return result(CHECK, name, "error", f"could not run the imports: {exc}", seconds=time.monotonic() - started)
    failed = [o for o in outcomes if not o.ok]
    data = {
        "modules": {o.module: ("ok" if o.ok else o.error) for o in outcomes},
        "failed": [o.module for o in failed],
    }
    seconds = time.monotonic() - started
    if failed:
        detail = "; ".join(f"{o.module}: {o.error}" for o in failed[:5])
        more = f" (+{len(failed) - 5} more)" if len(failed) > 5 else ""
        output = "\n".join(f"{o.module}: {o.error}" for o in failed) + ("\n" + stderr if stderr else "")
        return result(
            CHECK,
            name,
            "fail",
            f"{len(failed)} of {len(modules)} do not import: {detail}{more}",
            command=command,
            output=output,
            seconds=seconds,
            data=data,
        )
    return result(
        CHECK,
        name,
        "pass",
        f"all {len(modules)} modules import",
        command=command,
        output=stderr,
        seconds=seconds,
        data=data,
    )

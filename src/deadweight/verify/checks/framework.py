"""Check 3, ``framework``: the numeric frameworks the service uses still are the build it expects and still
compute the same thing.

For torch: ``torch.__version__``'s build label (``+cpu``, ``+cu121``) and ``torch.version.cuda`` match the
expected build, and ``torch.cuda.is_available()`` is False on a CPU build. For torch, numpy, pandas, scipy
and scikit-learn: a tiny deterministic computation (``probes/framework.py``) gives the same result in the
before and the after image (differential: skipped, saying so, without a before image).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from deadweight.model.verification import CheckResult
from deadweight.verify.checks.base import CheckContext, Role, guarded, no_python, result
from deadweight.verify.checks.probes import source

CHECK = "framework"
LINE = "DW-FRAMEWORK "

#: distribution (canonical) -> the module the probe imports
FRAMEWORK_MODULES = {
    "torch": "torch",
    "numpy": "numpy",
    "pandas": "pandas",
    "scipy": "scipy",
    "scikit-learn": "sklearn",
}


#: A one-line equivalent of each probe, for the rerun command
RERUN = {
    "torch": "import torch; torch.manual_seed(0); print(torch.__version__, torch.version.cuda, "
    "torch.cuda.is_available(), (torch.arange(12.).reshape(3, 4) @ torch.ones(4, 2)).tolist())",
    "numpy": "import numpy as np; print(np.__version__, (np.arange(12.).reshape(3, 4) @ np.ones((4, 2))).tolist(), "
    "float(np.linalg.det([[2., 1.], [1., 3.]])))",
    "pandas": "import pandas as pd; f = pd.DataFrame({'a': [1, 2, 3], 'b': [4., 5., 6.]}); "
    "print(pd.__version__, f.sum().tolist(), f.describe().loc['mean'].tolist())",
    "scipy": "import scipy, scipy.linalg; print(scipy.__version__, scipy.linalg.det([[2., 1.], [1., 3.]]))",
    "sklearn": "import sklearn; from sklearn.linear_model import LinearRegression as L; "
    "m = L().fit([[0.], [1.], [2.]], [1., 3., 5.]); print(sklearn.__version__, m.coef_.tolist(), m.intercept_)",
}


def selected(modules: tuple[str, ...], frameworks: Mapping[str, str]) -> list[str]:
    """The probe names (modules) to run: frameworks among the modules' top levels or named in ``frameworks``."""
    tops = {m.split(".")[0] for m in modules}
    wanted = {FRAMEWORK_MODULES[d] for d in frameworks if d in FRAMEWORK_MODULES}
    return [m for m in FRAMEWORK_MODULES.values() if m in tops or m in wanted]


def parse_rows(stdout: str) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for line in stdout.splitlines():
        if line.startswith(LINE):
            try:
                row = json.loads(line[len(LINE) :])
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("framework"), str):
                rows[row["framework"]] = row
    return rows


def build_problem(row: Mapping[str, Any], expected: str) -> str | None:
    """Why torch's build (``row`` from the probe) is not ``expected`` ("cpu", "cu121"), or None when it is."""
    version = str(row.get("version") or "")
    label = version.partition("+")[2]
    cuda = row.get("cuda")
    if expected == "cpu":
        if cuda:
            return f"torch {version} is a CUDA {cuda} build, expected a CPU build"
        if label and label != "cpu":
            return f"torch {version} has build label +{label}, expected +cpu"
        if row.get("cuda_available"):
            return f"torch {version}: torch.cuda.is_available() is True on a CPU build"
        return None
    if expected.startswith("cu"):
        if label == expected:
            return None
        if cuda and "cu" + str(cuda).replace(".", "") == expected:
            return None
        return f"torch {version} (CUDA {cuda}) is not the expected {expected} build"
    return None if label == expected else f"torch {version} is not the expected +{expected} build"


def run(ctx: CheckContext) -> tuple[CheckResult, ...]:
    return guarded(CHECK, "framework probes", lambda: _run(ctx))


def _probe(ctx: CheckContext, role: Role, names: list[str]) -> tuple[dict[str, dict[str, Any]], str, str] | str:
    """(rows, output, command) of the probe in ``role``'s image, or why it could not run."""
    image = ctx.image(role)
    assert image is not None
    python = ctx.python(image)
    if python is None:
        return f"no python in the {role} image"
    argv = [python, "-c", source("framework"), *names]
    done = ctx.run(image, argv)
    rows = parse_rows(done.stdout)
    if not rows:
        why = "timed out" if done.timed_out else f"exited {done.exit_code}"
        return f"the probe {why} in the {role} image: {done.stderr.strip()[-200:]}"
    return rows, done.output, python


def _run(ctx: CheckContext) -> tuple[CheckResult, ...]:
    names = selected(ctx.target.modules, ctx.target.frameworks)
    if not names:
        return (
            result(
                CHECK, "framework probes", "skip", f"the service uses none of {', '.join(FRAMEWORK_MODULES.values())}"
            ),
        )
    started = time.monotonic()
    after = _probe(ctx, "after", names)
    if isinstance(after, str):
        if after.startswith("no python"):
            return (no_python(CHECK, "framework probes", ctx.target.after_image, "after"),)
        return (result(CHECK, "framework probes", "error", after, seconds=time.monotonic() - started),)
    before = _probe(ctx, "before", names) if ctx.target.before_image else None
    seconds = time.monotonic() - started
    after_rows, after_output, python = after
    out: list[CheckResult] = []
    for name in names:
        command = ctx.rerun(ctx.target.after_image, [python, "-c", RERUN[name]])
        row = after_rows.get(name, {"ok": False, "error": "the probe printed nothing for it"})
        if not row.get("ok"):
            out.append(
                result(
                    CHECK,
                    f"{name} probe",
                    "fail",
                    f"{name} fails in the after image: {row.get('error')}",
                    command=command,
                    output=after_output,
                    seconds=seconds,
                    data={"after": row},
                )
            )
            continue
        if name == "torch":
            out.append(_torch_build(ctx, row, command, after_output, seconds))
        out.append(_compare(name, row, before, command=command, output=after_output, seconds=seconds))
    return tuple(out)


def _torch_build(ctx: CheckContext, row: Mapping[str, Any], command: str, output: str, seconds: float) -> CheckResult:
    expected = ctx.target.frameworks.get("torch")
    found = f"torch {row.get('version')}, CUDA {row.get('cuda')}, cuda.is_available() {row.get('cuda_available')}"
    data = {"after": dict(row), "expected": expected}
    if not expected:
        return result(
            CHECK,
            "torch build",
            "skip",
            f"no expected build given; {found}",
            command=command,
            output=output,
            seconds=seconds,
            data=data,
        )
    problem = build_problem(row, expected)
    if problem:
        return result(CHECK, "torch build", "fail", problem, command=command, output=output, seconds=seconds, data=data)
    return result(
        CHECK,
        "torch build",
        "pass",
        f"{found} (expected {expected})",
        command=command,
        output=output,
        seconds=seconds,
        data=data,
    )


def _compare(
    name: str,
    row: Mapping[str, Any],
    before: tuple[dict[str, dict[str, Any]], str, str] | str | None,
    *,
    command: str,
    output: str,
    seconds: float,
) -> CheckResult:
    label = f"{name} deterministic op"
    if before is None:
        return result(
            CHECK,
            label,
            "skip",
            f"no before image to compare with ({name} {row.get('version')} runs it)",
            command=command,
            output=output,
            seconds=seconds,
            data={"after": dict(row)},
        )
    if isinstance(before, str):
        return result(
            CHECK,
            label,
            "skip",
            f"not compared: {before}",
            command=command,
            output=output,
            seconds=seconds,
            data={"after": dict(row)},
        )
    old = before[0].get(name)
    data = {"after": dict(row), "before": old}
    if old is None or not old.get("ok"):
        why = old.get("error") if old else "the probe printed nothing for it"
        return result(
            CHECK,
            label,
            "skip",
            f"not compared: {name} fails in the before image too: {why}",
            command=command,
            output=output,
            image="both",
            seconds=seconds,
            data=data,
        )
    if old.get("result") != row.get("result"):
        return result(
            CHECK,
            label,
            "fail",
            f"{name} {row.get('version')} gives {row.get('result')}, before ({old.get('version')}) gave "
            f"{old.get('result')}",
            command=command,
            output=output,
            image="both",
            seconds=seconds,
            data=data,
        )
    return result(
        CHECK,
        label,
        "pass",
        f"same result before ({old.get('version')}) and after ({row.get('version')})",
        command=command,
        output=output,
        image="both",
        seconds=seconds,
        data=data,
    )

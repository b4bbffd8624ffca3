"""Check 6, ``user``: the project's own checks, in both images.

``[tool.deadweight.verify]`` in pyproject.toml (or ``[verify]`` in ``.deadweight.toml``)::

    commands = ["python -c 'import app.main'", ["python", "-m", "app.selftest"]]
    structure-tests = ["tests/structure.yaml"]   # container-structure-test files, relative to the project
    timeout = 120                                # seconds per command

A string command runs with ``/bin/sh -c``, a list as argv (the image's entrypoint replaced), with the
service's environment. pass: the after image exits 0 and the before image exited the same. Each test of a
structure-test file (``structure.py``) is a result of its own: pass when the after image meets it; the before
image's outcome is in ``data``. skip: the project has no user checks. error: the configuration is wrong, or a
command could not be run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from deadweight.config import deadweight_table, normalize_table
from deadweight.errors import ConfigError
from deadweight.model.verification import CheckResult
from deadweight.verify.checks.base import CheckContext, Role, image_config, last_line, result
from deadweight.verify.checks.probes import source
from deadweight.verify.checks.structure import (
    CommandTest,
    StructureTests,
    load_structure_tests,
    metadata_problems,
    output_problems,
)

CHECK = "user"
VERIFY_KEYS = {"commands", "structure-tests", "timeout"}
DEFAULT_TIMEOUT = 120.0


@dataclass(frozen=True)
class UserChecks:
    commands: tuple[tuple[str, ...], ...]  # argv each
    structure_tests: tuple[str, ...]  # paths relative to the project
    timeout: float
    source: str  # the config file


def read_user_checks(project_dir: Path) -> UserChecks | None:
    """The ``verify`` table of the project's deadweight configuration, validated; None when it has none."""
    found = deadweight_table(project_dir)
    if found is None:
        return None
    table, path = found
    raw = table.get("verify") if isinstance(table, dict) else None
    if raw is None:
        return None
    where = f"{path} [verify]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    data = normalize_table(raw, VERIFY_KEYS, where)
    commands = []
    for item in data.get("commands") or []:
        if isinstance(item, str) and item.strip():
            commands.append(("/bin/sh", "-c", item))
        elif isinstance(item, list) and item and all(isinstance(w, str) for w in item):
            commands.append(tuple(item))
        else:
            raise ConfigError(f"{where}: commands: each must be a string or a non-empty list of strings")
    tests = data.get("structure-tests") or []
    if not isinstance(tests, list) or not all(isinstance(t, str) and t for t in tests):
        raise ConfigError(f"{where}: structure-tests must be a list of file paths")
    timeout = data.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 3600:
        raise ConfigError(f"{where}: timeout must be a number of seconds from 1 to 3600")
    return UserChecks(tuple(commands), tuple(tests), float(timeout), str(path))


def run(ctx: CheckContext) -> tuple[CheckResult, ...]:
    try:
        checks = read_user_checks(ctx.target.project_dir)
    except ConfigError as exc:
        return (result(CHECK, "user checks", "error", str(exc)),)
    if checks is None or not (checks.commands or checks.structure_tests):
        return (
            result(
                CHECK, "user checks", "skip", "the project has no [tool.deadweight.verify] commands or structure-tests"
            ),
        )
    out: list[CheckResult] = [_command(ctx, argv, checks.timeout) for argv in checks.commands]
    for name in checks.structure_tests:
        try:
            tests = load_structure_tests(_inside(ctx.target.project_dir, name), name)
        except ConfigError as exc:
            out.append(result(CHECK, f"structure tests {name}", "error", str(exc)))
            continue
        out.extend(_structure(ctx, tests, checks.timeout))
    return tuple(out)


def _inside(root: Path, name: str) -> Path:
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ConfigError(f"structure-tests: {name} is outside the project")
    return path


def _roles(ctx: CheckContext) -> tuple[Role, ...]:
    return ("after", "before") if ctx.target.before_image else ("after",)


def _command(ctx: CheckContext, argv: Sequence[str], timeout: float) -> CheckResult:
    started = time.monotonic()
    name = argv[2] if list(argv[:2]) == ["/bin/sh", "-c"] else " ".join(argv)
    env = dict(ctx.target.service.environment)
    codes: dict[str, int | None] = {}
    outputs: dict[str, str] = {}
    for role in _roles(ctx):
        image = ctx.image(role)
        assert image is not None
        done = ctx.run(image, argv, timeout=timeout, environment=env)
        codes[role] = done.exit_code
        outputs[role] = done.output if done.exit_code is not None or done.timed_out else done.stderr
        if done.exit_code is None and not done.timed_out:
            return result(
                CHECK,
                name,
                "error",
                f"could not run in the {role} image: {done.stderr}",
                command=ctx.rerun(image, argv, env),
                image=role,
                seconds=time.monotonic() - started,
            )
    seconds = time.monotonic() - started
    command = ctx.rerun(ctx.target.after_image, argv, env)
    data = {"exit_codes": codes}
    after, before = codes["after"], codes.get("before", codes["after"])
    shown = "killed at the timeout" if after is None else f"exit {after}"
    if after == 0 and before == 0:
        return result(
            CHECK,
            name,
            "pass",
            "exit 0" + (" in both images" if "before" in codes else ""),
            command=command,
            output=outputs["after"],
            image=_image(codes),
            seconds=seconds,
            data=data,
        )
    if after == 0:
        return result(
            CHECK,
            name,
            "fail",
            f"exit 0 after but {before} before: the images disagree",
            command=command,
            output=outputs.get("before", ""),
            image="both",
            seconds=seconds,
            data=data,
        )
    also = f" (before: exit {before})" if "before" in codes else ""
    return result(
        CHECK,
        name,
        "fail",
        f"{shown} in the after image{also}: {last_line(outputs['after'])}",
        command=command,
        output=outputs["after"],
        image=_image(codes),
        seconds=seconds,
        data=data,
    )


def _image(codes: dict[str, Any]) -> Literal["after", "both"]:
    return "both" if "before" in codes else "after"


def _command_test(
    ctx: CheckContext, test: CommandTest, role: Role, tests: StructureTests, timeout: float
) -> tuple[list[str], str, str]:
    image = ctx.image(role)
    assert image is not None
    argv = [test.command, *test.args]
    env = {**tests.global_env, **test.env}
    done = ctx.run(image, argv, timeout=timeout, environment=env)
    if done.exit_code is None:
        why = "timed out" if done.timed_out else f"could not run: {done.stderr}"
        return [why], done.output, ctx.rerun(image, argv, env)
    problems = [] if done.exit_code == test.exit_code else [f"exit {done.exit_code}, expected {test.exit_code}"]
    problems += output_problems(done.stdout, test.expected_output, test.excluded_output, "stdout")
    problems += output_problems(done.stderr, test.expected_error, test.excluded_error, "stderr")
    return problems, done.output, ctx.rerun(image, argv, env)


def _files(ctx: CheckContext, tests: StructureTests, role: Role) -> dict[str, Any] | str:
    """The files' facts in ``role``'s image (``probes/files.py``), or why they could not be read."""
    image = ctx.image(role)
    assert image is not None
    python = ctx.python(image)
    if python is None:
        return f"no python in the {role} image to read its files"
    args = {"paths": [t.path for t in tests.files], "contents": [t.path for t in tests.contents]}
    done = ctx.run(image, [python, "-c", source("files"), json.dumps(args)])
    for line in done.stdout.splitlines():
        if line.startswith("DW-FILES "):
            facts = json.loads(line[len("DW-FILES ") :])
            if isinstance(facts, dict):
                return facts
    return f"the file probe failed in the {role} image: {last_line(done.stderr)}"


def _structure(ctx: CheckContext, tests: StructureTests, timeout: float) -> list[CheckResult]:
    out: list[CheckResult] = []
    roles = _roles(ctx)
    after_image = ctx.target.after_image
    for test in tests.commands:
        started = time.monotonic()
        found = {role: _command_test(ctx, test, role, tests, timeout) for role in roles}
        problems, output, command = found["after"]
        before = found["before"][0] if "before" in found else None
        name = f"{tests.source}: command {test.name}"
        out.append(_verdict(name, problems, before, output=output, command=command, seconds=time.monotonic() - started))
    if tests.files or tests.contents:
        started = time.monotonic()
        facts = {role: _files(ctx, tests, role) for role in roles}
        seconds = time.monotonic() - started
        for ftest in tests.files:
            per_role = {role: _file_problems(ftest, facts[role]) for role in roles}
            command = ctx.rerun(after_image, ["ls", "-ld", ftest.path])
            out.append(
                _verdict(
                    f"{tests.source}: file {ftest.name}",
                    per_role["after"],
                    per_role.get("before"),
                    command=command,
                    seconds=seconds,
                )
            )
        for ctest in tests.contents:
            per_role = {
                role: _content_problems(ctest.path, ctest.expected_contents, ctest.excluded_contents, facts[role])
                for role in roles
            }
            command = ctx.rerun(after_image, ["cat", ctest.path])
            out.append(
                _verdict(
                    f"{tests.source}: content {ctest.name}",
                    per_role["after"],
                    per_role.get("before"),
                    command=command,
                    seconds=seconds,
                )
            )
    if tests.metadata is not None:
        started = time.monotonic()
        per_meta: dict[Role, list[str]] = {}
        for role in roles:
            image = ctx.image(role)
            assert image is not None
            per_meta[role] = metadata_problems(tests.metadata, image_config(ctx.engine, image))
        out.append(
            _verdict(
                f"{tests.source}: metadata",
                per_meta["after"],
                per_meta.get("before"),
                command=f"docker image inspect {after_image}",
                seconds=time.monotonic() - started,
            )
        )
    return out


def _file_problems(test: Any, facts: dict[str, Any] | str) -> list[str]:
    if isinstance(facts, str):
        return [facts]
    row = facts.get(test.path) or {}
    if not row.get("exists"):
        return [f"{test.path} does not exist"] if test.should_exist else []
    if not test.should_exist:
        return [f"{test.path} exists, expected absent"]
    problems = []
    if test.permissions and row.get("mode") != test.permissions:
        problems.append(f"{test.path} is {row.get('mode')}, expected {test.permissions}")
    if test.uid is not None and row.get("uid") != test.uid:
        problems.append(f"{test.path} uid {row.get('uid')}, expected {test.uid}")
    if test.gid is not None and row.get("gid") != test.gid:
        problems.append(f"{test.path} gid {row.get('gid')}, expected {test.gid}")
    return problems


def _content_problems(
    path: str, expected: Sequence[str], excluded: Sequence[str], facts: dict[str, Any] | str
) -> list[str]:
    if isinstance(facts, str):
        return [facts]
    row = facts.get(path) or {}
    if not row.get("exists") or "text" not in row:
        return [f"{path} cannot be read ({row.get('error') or 'absent'})"]
    return output_problems(str(row["text"]), expected, excluded, path)


def _verdict(
    name: str, problems: list[str], before: list[str] | None, *, output: str = "", command: str, seconds: float
) -> CheckResult:
    """pass when the after image meets the test; the before image's outcome goes to ``data`` and the detail."""
    image: Literal["after", "both"] = "after" if before is None else "both"
    data: dict[str, Any] = {"after_problems": problems, "before_problems": before}
    if problems:
        also = " (it fails in the before image too)" if before else ""
        return result(
            CHECK,
            name,
            "fail",
            "; ".join(problems[:3]) + also,
            command=command,
            output=output,
            image=image,
            seconds=seconds,
            data=data,
        )
    both = " in both images" if before == [] else (" (fails in the before image)" if before else "")
    return result(
        CHECK, name, "pass", "holds" + both, command=command, output=output, image=image, seconds=seconds, data=data
    )

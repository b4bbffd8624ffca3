"""The composite GitHub Action (action.yml): declared inputs match what the steps use, and its shell steps run
as the runner would run them (``bash --noprofile --norc -eo pipefail`` on the script, the step's ``env`` with
its ``${{ }}`` expressions filled in, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / RUNNER_TEMP as files) against a copy
of the example fleet. ``uses:`` steps (actions/setup-python, github/codeql-action/upload-sarif) are not run:
the test checks what they would be given. The install step really installs this checkout, into a virtualenv
that sees the test environment's packages (``pip-args: --no-deps``), so the ``deadweight`` the later steps
run is the one the action installed.

The example workflow in docs/ci.md is checked too: actionlint is not installable from PyPI or Debian here (its
PyPI wrapper downloads the binary at build time), so a JSON schema of the workflow keys it uses stands in,
plus a check that every ``with:`` given to this action is an input it declares.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import venv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def load_yaml(text: str) -> Any:
    return YAML(typ="safe").load(text)


@pytest.fixture(scope="module")
def action() -> dict[str, Any]:
    doc = load_yaml((REPO / "action.yml").read_text())
    assert isinstance(doc, dict)
    return doc


# ------------------------------------------------------------------------------------ a small runner


class Context:
    """What ``${{ }}`` expressions of the action can name: inputs, github.action_path, steps.ID.outputs."""

    def __init__(self, inputs: dict[str, str]) -> None:
        self.inputs = inputs
        self.outputs: dict[str, dict[str, str]] = {}

    def value(self, name: str) -> str:
        if name.startswith("inputs."):
            return self.inputs[name.removeprefix("inputs.")]
        if name == "github.action_path":
            return str(REPO)
        m = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", name)
        if m:
            return self.outputs.get(m.group(1), {}).get(m.group(2), "")
        raise AssertionError(f"the test runner does not know {name!r}")

    def evaluate(self, expr: str) -> object:
        """The subset of the expression language the action uses: names, 'strings', ==, !=, &&, ||, always()."""
        tokens = re.findall(r"'[^']*'|==|!=|&&|\|\||always\(\)|[\w.-]+|\S", expr)
        py = []
        for tok in tokens:
            if tok.startswith("'"):
                py.append(repr(tok[1:-1]))
            elif tok in ("==", "!="):
                py.append(tok)
            elif tok == "&&":
                py.append("and")
            elif tok == "||":
                py.append("or")
            elif tok == "always()":
                py.append("True")
            elif re.fullmatch(r"[\w.-]+", tok) and "." in tok:
                py.append(repr(self.value(tok)))
            else:
                raise AssertionError(f"unsupported token {tok!r} in {expr!r}")
        return eval(" ".join(py), {"__builtins__": {}}, {})

    def fill(self, text: str) -> str:
        return EXPR.sub(lambda m: str(self.evaluate(m.group(1))), text)


INSTALL = "Install deadweight"


def run_action(action: dict[str, Any], workspace: Path, inputs: dict[str, str], bindir: Path,
               runner: Path, *, install: bool = False, base_env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the action's steps in order; return what happened: the outputs, the step summary, the uses:
    steps with their inputs, and the exit code of the last step that ran. The install step runs when
    ``install`` is true (the ``runner_env`` fixture runs it once; later runs reuse what it installed)."""
    declared = action["inputs"]
    unknown = set(inputs) - set(declared)
    assert not unknown, unknown
    ctx = Context({name: inputs.get(name, str(spec.get("default", ""))) for name, spec in declared.items()})
    summary = runner / "summary.md"
    summary.write_text("")
    temp = runner / "temp"
    temp.mkdir(exist_ok=True)
    used: list[tuple[str, dict[str, str]]] = []
    failed = False
    rc = 0
    for n, step in enumerate(action["runs"]["steps"]):
        condition = step.get("if")
        if condition is None:
            run_it = not failed
        else:
            run_it = bool(ctx.evaluate(condition)) and (not failed or "always()" in condition)
        if not run_it:
            continue
        if step.get("name") == INSTALL and not install:
            continue
        if "uses" in step:
            used.append((step["uses"], {k: ctx.fill(str(v)) for k, v in step.get("with", {}).items()}))
            continue
        script = runner / f"step-{n}.sh"
        script.write_text(step["run"])
        output = runner / f"output-{n}"
        output.write_text("")
        base = dict(os.environ if base_env is None else base_env)
        env = {
            **base,
            "PATH": f"{bindir}{os.pathsep}{base['PATH']}",
            "GITHUB_OUTPUT": str(output),
            "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_ACTION_PATH": str(REPO),
            "GITHUB_WORKSPACE": str(workspace),
            "RUNNER_TEMP": str(temp),
            "NO_COLOR": "1",
        }
        env.pop("PYTHONPATH", None)  # the action's deadweight is the one it installed, not the test's
        env.update({k: ctx.fill(str(v)) for k, v in step.get("env", {}).items()})
        assert step["shell"] == "bash"
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=workspace,
                              env=env, capture_output=True, text=True, timeout=600, check=False)
        rc = proc.returncode
        if "id" in step:
            ctx.outputs[step["id"]] = dict(
                line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
            )
        if rc != 0:
            failed = True
        if step.get("name") == INSTALL:
            assert rc == 0, proc.stderr[-3000:]
            assert "deadweight, version" in proc.stdout
    return {"rc": rc, "outputs": ctx.outputs.get("run", {}), "summary": summary.read_text(), "used": used}


@pytest.fixture(scope="module")
def runner_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A virtualenv whose ``python`` is first on PATH (the setup-python step is not run), and the runner's
    scratch directory."""
    root = tmp_path_factory.mktemp("runner")
    env_dir = root / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    # pip comes from the test interpreter's site-packages (system_site_packages): no download
    bindir = env_dir / "bin"
    assert (bindir / "python").exists()
    action = load_yaml((REPO / "action.yml").read_text())
    empty = root / "empty"
    empty.mkdir()
    # the install step for real: this checkout into the virtualenv (--no-deps: the test's packages serve)
    run_action(action, empty, {"setup-python": "false", "pip-args": "--no-deps", "summary": "false",
                               "upload-sarif": "false", "command": "rm"}, bindir, root, install=True)
    installed = subprocess.run([str(bindir / "python"), "-c", "import deadweight; print(deadweight.__file__)"],
                               capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": ""})
    assert installed.stdout.startswith(str(env_dir)), installed.stdout  # the action's copy, not the test's
    assert (bindir / "deadweight").exists()
    yield bindir, root


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The example fleet without legacy-api: its psycopg2 is an sdist the static estimate cannot size, so a
    fleet with it is "not checked" (exit 3, tests/functional/test_not_checked.py); these runs need a fleet
    whose every service can be checked, to see 0 within budget and 1 over it."""
    ws = tmp_path / "ws"
    shutil.copytree(EXAMPLES, ws, ignore=shutil.ignore_patterns("tiny-image", "standin", "legacy-api"))
    yaml = YAML()
    compose = yaml.load(ws / "docker-compose.yml")
    del compose["services"]["legacy-api"]
    yaml.dump(compose, ws / "docker-compose.yml")
    return ws


# ------------------------------------------------------------------------------------ static checks


def test_inputs_used_are_declared_and_declared_are_used(action: dict[str, Any]) -> None:
    text = (REPO / "action.yml").read_text()
    used = set(re.findall(r"inputs\.([\w-]+)", text))
    declared = set(action["inputs"])
    assert used == declared
    assert action["runs"]["using"] == "composite"
    for spec in action["inputs"].values():
        assert spec["description"] and "default" in spec
    ids = {s["id"] for s in action["runs"]["steps"] if "id" in s}
    for step_id, name in re.findall(r"steps\.([\w-]+)\.outputs\.([\w-]+)", text):
        assert step_id in ids
        (step,) = [s for s in action["runs"]["steps"] if s.get("id") == step_id]
        assert f'echo "{name}=' in step["run"], name


def test_run_scripts_take_inputs_from_the_environment_only(action: dict[str, Any]) -> None:
    """A ``${{ inputs.x }}`` pasted into a script is shell injection through an input: env only."""
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert "${{" not in step["run"], step["name"]
            assert step["shell"] == "bash"


# ------------------------------------------------------------------------------------ the steps, run


def test_guard_over_budget_fails_after_writing_the_summary_and_the_sarif(
    action: dict[str, Any], workspace: Path, runner_env: tuple[Path, Path], examples_env: dict[str, str]
) -> None:
    bindir, root = runner_env
    (workspace / ".deadweight.toml").write_text('[guard]\nmax-dead-weight = "1GB"\n\n[guard.rules]\nDW101 = 0\n')
    result = run_action(action, workspace, {"path": ".", "args": "--offline", "format": "junit",
                                            "output": "guard.xml", "setup-python": "false",
                                            "pip-args": "--no-deps"}, bindir, root, base_env=examples_env)
    assert result["rc"] == 1
    assert result["outputs"]["exit-code"] == "1"
    assert "deadweight guard" in result["summary"] and "torch-cpu-api" in result["summary"]
    junit = (workspace / "guard.xml").read_text()
    assert junit.startswith("<?xml") and "<testsuite" in junit and "<failure" in junit
    (upload,) = [w for u, w in result["used"] if u.startswith("github/codeql-action/upload-sarif@")]
    sarif = json.loads(Path(upload["sarif_file"]).read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    assert upload["category"] == "deadweight"
    assert [u for u, _ in result["used"]] == ["github/codeql-action/upload-sarif@v3"]  # setup-python: false


def test_guard_within_budget_and_fail_on_none(action: dict[str, Any], workspace: Path,
                                              runner_env: tuple[Path, Path], examples_env: dict[str, str]) -> None:
    bindir, root = runner_env
    common = {"args": "--offline", "setup-python": "false", "pip-args": "--no-deps", "upload-sarif": "false"}
    ok = run_action(action, workspace, common, bindir, root, base_env=examples_env)  # no budgets: within budget
    assert ok["rc"] == 0 and ok["outputs"]["exit-code"] == "0" and ok["outputs"]["sarif"] == ""
    assert ok["used"] == []
    doc = json.loads((workspace / "deadweight-report.json").read_text())
    assert doc["command"] == "guard"
    (workspace / ".deadweight.toml").write_text("[guard.rules]\nDW101 = 0\n")
    reported = run_action(action, workspace, {**common, "fail-on": "none", "summary": "false"}, bindir, root,
                          base_env=examples_env)
    assert reported["rc"] == 0 and reported["outputs"]["exit-code"] == "1" and reported["summary"] == ""


def test_audit_with_a_baseline_and_images_lines(action: dict[str, Any], workspace: Path,
                                                runner_env: tuple[Path, Path], examples_env: dict[str, str]) -> None:
    """command: audit, --fail-on passed through, an html report as the output file."""
    bindir, root = runner_env
    common = {"command": "audit", "args": "--offline", "setup-python": "false", "pip-args": "--no-deps",
              "upload-sarif": "false", "format": "html", "output": "audit.html"}
    result = run_action(action, workspace, {**common, "fail-on": "high"}, bindir, root, base_env=examples_env)
    assert result["rc"] == 1  # DW101 is high
    assert (workspace / "audit.html").read_text().startswith("<!DOCTYPE html>")
    assert "# deadweight audit" in result["summary"]
    relaxed = run_action(action, workspace, {**common, "fail-on": "none"}, bindir, root, base_env=examples_env)
    assert relaxed["rc"] == 0


def test_guard_ratchet_against_a_baseline(action: dict[str, Any], workspace: Path,
                                          runner_env: tuple[Path, Path], examples_env: dict[str, str]) -> None:
    """main's audit JSON as the baseline: the same fleet has no new findings; a new unused dependency is one."""
    bindir, root = runner_env
    common = {"args": "--offline", "setup-python": "false", "pip-args": "--no-deps", "upload-sarif": "false"}
    base = run_action(action, workspace, {**common, "command": "audit", "fail-on": "none", "format": "json",
                                          "output": "baseline.json", "summary": "false"}, bindir, root,
                      base_env=examples_env)
    assert base["rc"] == 0
    same = run_action(action, workspace, {**common, "baseline": "baseline.json"}, bindir, root, base_env=examples_env)
    assert same["rc"] == 0
    requirements = workspace / "lean-svc" / "requirements.txt"
    # pinned as report-worker pins them, so the session's warmed cache holds them (--offline): scipy alone would
    # resolve its numpy to the newest, which no example pins, and the service would be "not checked" (exit 3)
    requirements.write_text(requirements.read_text() + "scipy==1.14.1\nnumpy==2.1.3\n")
    grown = run_action(action, workspace, {**common, "baseline": "baseline.json"}, bindir, root, base_env=examples_env)
    assert grown["rc"] == 1 and "scipy" in grown["summary"]


def test_a_wrong_command_is_a_usage_error(action: dict[str, Any], workspace: Path,
                                         runner_env: tuple[Path, Path], examples_env: dict[str, str]) -> None:
    bindir, root = runner_env
    result = run_action(action, workspace, {"command": "rm", "setup-python": "false", "pip-args": "--no-deps"},
                        bindir, root, base_env=examples_env)
    assert result["rc"] == 2


# ------------------------------------------------------------------------------------ the documented workflow

STEP = {
    "type": "object",
    "properties": {
        "name": {"type": "string"}, "id": {"type": "string"}, "if": {"type": "string"},
        "uses": {"type": "string", "pattern": r"^(\./|[\w.-]+/[\w./-]+@[\w.-]+$)"},
        "run": {"type": "string"}, "shell": {"type": "string"},
        "with": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
        "env": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
        "continue-on-error": {"type": ["boolean", "string"]},
    },
    "additionalProperties": False,
    "oneOf": [{"required": ["uses"]}, {"required": ["run"]}],
}
WORKFLOW = {
    "type": "object",
    "required": ["name", "on", "jobs"],
    "properties": {
        "name": {"type": "string"},
        "on": {"type": "object"},
        "permissions": {"type": "object", "additionalProperties": {"enum": ["read", "write", "none"]}},
        "jobs": {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": {
                "type": "object",
                "required": ["runs-on", "steps"],
                "properties": {
                    "if": {"type": "string"}, "runs-on": {"type": "string"}, "needs": {},
                    "permissions": {"type": "object"}, "steps": {"type": "array", "items": STEP, "minItems": 1},
                },
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}


def documented_workflows() -> list[Any]:
    text = (REPO / "docs" / "ci.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    return [doc for doc in (load_yaml(b) for b in blocks) if isinstance(doc, dict) and "jobs" in doc]


def test_the_documented_workflow_is_well_formed(action: dict[str, Any]) -> None:
    workflows = documented_workflows()
    assert workflows, "docs/ci.md has no workflow"
    for wf in workflows:
        wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as true
        jsonschema.validate(wf, WORKFLOW)
        for job in wf["jobs"].values():
            for step in job["steps"]:
                if step.get("uses", "").startswith(("deadweight/deadweight@", "./")):
                    assert set(step.get("with", {})) <= set(action["inputs"]), step
                    for ref in re.findall(r"steps\.([\w-]+)\.outputs", json.dumps(step)):
                        assert ref in {s.get("id") for s in job["steps"]}, ref
    steps = [s for wf in workflows for job in wf["jobs"].values() for s in job["steps"]]
    assert any(s.get("uses", "").startswith("deadweight/deadweight@") for s in steps)
    assert any(s.get("uses", "").startswith("actions/upload-artifact@") for s in steps)  # main's baseline kept
    assert any("baseline" in s.get("with", {}) for s in steps)


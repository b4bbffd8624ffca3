"""The checks' readers and judges on real inputs: structure-test YAML, the verify config table, torch build
labels, OpenAPI status comparison, and how a service run is described."""

from __future__ import annotations

from pathlib import Path

import pytest

from deadweight.config import parse_config
from deadweight.engine.client import RunSpec
from deadweight.errors import ConfigError, UsageError
from deadweight.model.project import Service
from deadweight.model.verification import CheckResult
from deadweight.verify.checks import CHECK_IDS, CheckInput, run_checks
from deadweight.verify.checks.base import docker_run_line, guarded, tail
from deadweight.verify.checks.framework import build_problem, selected
from deadweight.verify.checks.openapi import compare_statuses
from deadweight.verify.checks.service import exposed_ports, health_spec, run_line
from deadweight.verify.checks.structure import load_structure_tests, metadata_problems, output_problems
from deadweight.verify.checks.user import read_user_checks

STRUCTURE = """\
schemaVersion: "2.0.0"
globalEnvVars:
  - key: A
    value: "1"
commandTests:
  - name: python
    command: python
    args: ["--version"]
    expectedOutput: ["Python 3\\\\.\\\\d+"]
    excludedError: ["Traceback"]
    exitCode: 0
fileExistenceTests:
  - name: app
    path: /app/main.py
    permissions: "-rw-r--r--"
    uid: 0
  - name: no compiler
    path: /usr/bin/gcc
    shouldExist: false
fileContentTests:
  - name: cfg
    path: /etc/app.conf
    expectedContents: ["debug = false"]
metadataTest:
  env:
    - key: PATH
      value: /opt/venv/bin:/usr/bin
  entrypoint: ["python"]
  cmd: ["-m", "app"]
  workdir: /app
  exposedPorts: ["8000"]
  labels:
    - key: team
      value: core
"""


def _write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_structure_test_file_is_read_whole(tmp_path: Path) -> None:
    tests = load_structure_tests(_write(tmp_path, STRUCTURE), "s.yaml")
    (cmd,) = tests.commands
    assert (cmd.command, cmd.args, cmd.expected_output, cmd.excluded_error) == (
        "python",
        ("--version",),
        (r"Python 3\.\d+",),
        ("Traceback",),
    )
    assert tests.global_env == {"A": "1"}
    assert [(f.path, f.should_exist, f.permissions, f.uid) for f in tests.files] == [
        ("/app/main.py", True, "-rw-r--r--", 0),
        ("/usr/bin/gcc", False, None, None),
    ]
    assert tests.contents[0].expected_contents == ("debug = false",)
    assert tests.metadata is not None and tests.metadata.cmd == ("-m", "app")
    config = {
        "Env": ["PATH=/opt/venv/bin:/usr/bin"],
        "Entrypoint": ["python"],
        "Cmd": ["-m", "app"],
        "WorkingDir": "/app",
        "ExposedPorts": {"8000/tcp": {}},
        "Labels": {"team": "core"},
    }
    assert metadata_problems(tests.metadata, config) == []
    config.update({"WorkingDir": "/", "ExposedPorts": {}, "Labels": None, "Env": []})
    assert metadata_problems(tests.metadata, config) == [
        "env PATH=None, expected '/opt/venv/bin:/usr/bin'",
        "workdir '/', expected '/app'",
        "port 8000 not exposed (exposed: none)",
        "label team=None, expected 'core'",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("schemaVersion: 1.0.0\n", "schemaVersion must be '2.0.0'"),
        ('schemaVersion: "2.0.0"\nlicenseTests: []\n', "unsupported key licenseTests"),
        ('schemaVersion: "2.0.0"\ncommandTests:\n  - name: x\n', "command must be a non-empty string"),
        (
            'schemaVersion: "2.0.0"\ncommandTests:\n  - command: x\n    expectedOutput: ["("]\n',
            "is not a regular expression",
        ),
        ('schemaVersion: "2.0.0"\nfileExistenceTests:\n  - path: rel/x\n', "path must be an absolute path"),
        ('schemaVersion: "2.0.0"\nfileExistenceTests:\n  - path: /x\n    permissions: "644"\n', "must look like"),
        ('schemaVersion: "2.0.0"\ncommandTests:\n  - command: x\n    setup: [[a]]\n', "unsupported key setup"),
        ("schemaVersion: [\n", "invalid YAML"),
        ("- just a list\n", "must be a mapping"),
    ],
)
def test_bad_structure_tests_are_one_line_config_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"s\.yaml") as err:
        load_structure_tests(_write(tmp_path, text), "s.yaml")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_output_patterns_are_searched_as_regular_expressions() -> None:
    assert output_problems("Python 3.11.9\n", [r"Python 3\.\d+"], ["Traceback"], "stdout") == []
    assert output_problems("Traceback (most recent call last)", [r"^ok$"], ["Traceback"], "stderr") == [
        "stderr does not match '^ok$'",
        "stderr matches excluded 'Traceback'",
    ]


def test_the_verify_table_is_read_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "pyproject.toml").write_text(
        '[tool.deadweight]\nfail-on = ["high"]\n[tool.deadweight.verify]\n'
        'commands = ["python -c \'import app\'", ["python", "-m", "app.check"]]\n'
        'structure_tests = ["t/s.yaml"]\ntimeout = 30\n'
    )
    checks = read_user_checks(tmp_path)
    assert checks is not None
    assert checks.commands == (("/bin/sh", "-c", "python -c 'import app'"), ("python", "-m", "app.check"))
    assert checks.structure_tests == ("t/s.yaml",)
    assert checks.timeout == 30.0
    # the rest of deadweight's configuration accepts the table it does not read itself
    assert parse_config({"fail-on": ["high"], "verify": {"commands": []}}, "x").fail_on == ("high",)


def test_the_verify_table_in_a_dedicated_file_and_its_errors(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    assert read_user_checks(tmp_path) is None
    (tmp_path / ".deadweight.toml").write_text("[verify]\ncommands = [1]\n")
    with pytest.raises(ConfigError, match=r"\[verify\]: commands"):
        read_user_checks(tmp_path)
    (tmp_path / ".deadweight.toml").write_text("[verify]\ncommand = []\n")
    with pytest.raises(ConfigError, match="unknown key 'command'"):
        read_user_checks(tmp_path)
    (tmp_path / ".deadweight.toml").write_text("[verify]\ntimeout = 0\n")
    with pytest.raises(ConfigError, match="timeout"):
        read_user_checks(tmp_path)


@pytest.mark.parametrize(
    ("row", "expected", "problem"),
    [
        ({"version": "2.3.1+cpu", "cuda": None, "cuda_available": False}, "cpu", None),
        ({"version": "2.3.1", "cuda": None, "cuda_available": False}, "cpu", None),
        (
            {"version": "2.3.1+cu121", "cuda": "12.1", "cuda_available": False},
            "cpu",
            "torch 2.3.1+cu121 is a CUDA 12.1 build, expected a CPU build",
        ),
        ({"version": "2.3.1", "cuda": "12.1", "cuda_available": False}, "cu121", None),
        (
            {"version": "2.3.1+cu118", "cuda": "11.8", "cuda_available": False},
            "cu121",
            "torch 2.3.1+cu118 (CUDA 11.8) is not the expected cu121 build",
        ),
        (
            {"version": "2.3.1+rocm6.0", "cuda": None, "cuda_available": False},
            "cpu",
            "torch 2.3.1+rocm6.0 has build label +rocm6.0, expected +cpu",
        ),
    ],
)
def test_torch_build_labels(row: dict[str, object], expected: str, problem: str | None) -> None:
    assert build_problem(row, expected) == problem


def test_frameworks_are_selected_from_the_modules_and_the_expected_builds() -> None:
    assert selected(("numpy.linalg", "app.main", "sklearn"), {}) == ["numpy", "sklearn"]
    assert selected(("app",), {"torch": "cpu"}) == ["torch"]
    assert selected(("app",), {}) == []


def test_status_comparison_names_every_difference() -> None:
    before = {"/a": 200, "/b": 200, "/c": 418}
    assert compare_statuses(before, {"/a": 200, "/b": 200, "/c": 418, "/new": 200}) == []
    assert compare_statuses(before, {"/a": 500, "/c": "error: RemoteDisconnected"}) == [
        "GET /a: 200 before, 500 after",
        "GET /b: 200 before, not in the after document",
        "GET /c: 418 before, error: RemoteDisconnected after",
    ]


def test_service_runs_are_described_as_docker_run_lines() -> None:
    spec = RunSpec(
        image="app:1",
        command="gunicorn app:wsgi -b :8000",
        entrypoint=["tini", "--"],
        environment={"MODE": "prod x"},
        network="none",
        mem_limit=512 << 20,
    )
    assert run_line(spec) == (
        "docker run --rm --network none --memory 536870912 -e 'MODE=prod x' "
        "--entrypoint tini app:1 -- gunicorn app:wsgi -b :8000"
    )
    assert docker_run_line("img", ["-c", "import a"], entrypoint="python") == (
        "docker run --rm --network none --entrypoint python img -c 'import a'"
    )
    assert exposed_ports({"ExposedPorts": {"8000/tcp": {}, "53/udp": {}, "80": {}}}) == (80, 8000)
    image_health = {"Healthcheck": {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 30_000_000_000}}
    polled = health_spec(RunSpec(image="x"), image_health)
    assert polled.healthcheck == {"test": ["CMD-SHELL", "curl -f localhost"], "interval": 1_000_000_000, "retries": 3}
    assert health_spec(RunSpec(image="x"), {"Healthcheck": {"Test": ["NONE"]}}).healthcheck is None


def test_rerun_lines_never_print_a_secret_value() -> None:
    line = docker_run_line("img", ["true"], environment={"MODE": "prod", "DB_PASSWORD": "hunter2", "API_KEY": "k"})
    assert line == "docker run --rm --network none -e MODE=prod -e DB_PASSWORD -e API_KEY img true"
    assert "hunter2" not in run_line(RunSpec(image="x", environment={"SECRET_TOKEN": "hunter2"}))


def test_an_engine_failure_mid_check_is_that_checks_error_not_a_crash() -> None:
    import docker.errors
    import requests

    def lost() -> tuple[CheckResult, ...]:
        raise docker.errors.NotFound("No such container: abc")

    def timeout() -> tuple[CheckResult, ...]:
        raise requests.exceptions.ReadTimeout("read timed out")

    def bug() -> tuple[CheckResult, ...]:
        raise KeyError("a bug stays a bug")

    (gone,) = guarded("start", "service starts", lost)
    assert (gone.status, gone.detail) == ("error", "No such container: abc")
    assert guarded("imports", "x", timeout)[0].status == "error"
    with pytest.raises(KeyError):
        guarded("imports", "x", bug)


def test_output_is_bounded_to_its_tail() -> None:
    text = "x" * 10_000 + "the error"
    assert tail(text).endswith("the error") and len(tail(text).encode()) <= 4096 + 3
    assert tail("short") == "short"


def test_unknown_check_ids_are_a_usage_error(tmp_path: Path) -> None:
    target = CheckInput(Service("s", None, None, None), "img", None, (), {}, tmp_path)
    with pytest.raises(UsageError, match="unknown check nope"):
        run_checks(None, target, only=("nope",))  # type: ignore[arg-type]
    assert CHECK_IDS == ("pip-check", "imports", "framework", "start", "openapi", "user", "memory", "import-trace")

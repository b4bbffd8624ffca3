"""The pre-commit hooks (.pre-commit-hooks.yaml) on fixture repositories made from the examples.

Two ways: the hook's ``entry`` run with pre-commit's semantics for ``language: python`` and
``pass_filenames: false`` (the entry's words, no file names after them, in the repository's root, only when
a changed file matches ``files``), which needs nothing but deadweight; and ``pre-commit try-repo`` for real
(pre-commit clones this checkout, installs it into its own virtualenv and runs the hook), when pre-commit is
installed (it is in the test extras; without it that test is skipped with the reason, and fails under CI=true).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"


@pytest.fixture(scope="module")
def hooks() -> dict[str, dict[str, Any]]:
    doc = YAML(typ="safe").load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(doc, list)
    return {h["id"]: h for h in doc}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=test@example.invalid", "-c", "user.name=test", *args], cwd=repo,
                   check=True, capture_output=True)


def fixture_repo(tmp_path: Path, services: list[str], compose: bool = True) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir(parents=True)
    for name in services:
        shutil.copytree(EXAMPLES / name, repo / name)
    if compose:
        lines = ["services:"] + [f"  {name}:\n    build: ./{name}" for name in services]
        (repo / "docker-compose.yml").write_text("\n".join(lines) + "\n")
    (repo / "README.md").write_text("a fixture\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "fixture")
    return repo


def run_entry(hook: dict[str, Any], repo: Path, changed: list[str],
              base_env: dict[str, str]) -> subprocess.CompletedProcess[str] | None:
    """What pre-commit does for this hook when ``changed`` files are staged: nothing unless one matches
    ``files``; else the entry, without file names (pass_filenames: false), in the repository root."""
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    pattern = re.compile(hook["files"])
    if not any(pattern.search(name) for name in changed):
        return None
    words = shlex.split(hook["entry"])
    assert words[0] == "deadweight"
    env = {**base_env, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run([sys.executable, "-m", "deadweight", *words[1:]], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_hook_manifest(hooks: dict[str, dict[str, Any]]) -> None:
    assert set(hooks) == {"deadweight-audit", "deadweight-guard", "deadweight-fix"}
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        assert hook["name"] and hook["description"] and "--offline" in hook["entry"]
    assert hooks["deadweight-fix"]["stages"] == ["manual"]
    assert "stages" not in hooks["deadweight-audit"]
    files = re.compile(hooks["deadweight-audit"]["files"])
    for name in ("Dockerfile", "svc/Dockerfile", "svc/Dockerfile.prod", "api.dockerfile", "requirements.txt",
                 "svc/requirements-dev.in", "pyproject.toml", "docker-compose.yml", "compose.yaml",
                 "compose.prod.yml", ".dockerignore"):
        assert files.search(name), name
    for name in ("README.md", "app/main.py", "docs/Dockerfile.md", "setup.cfg", "requirements.txt.bak"):
        assert not files.search(name), name


def test_audit_hook_fails_on_cuda_torch_and_passes_a_lean_service(
    hooks: dict[str, dict[str, Any]], tmp_path: Path, examples_env: dict[str, str]
) -> None:
    hook = hooks["deadweight-audit"]
    fleet = fixture_repo(tmp_path / "fleet", ["torch-cpu-api", "lean-svc"])
    assert run_entry(hook, fleet, ["README.md"], examples_env) is None  # nothing an image is built from changed
    proc = run_entry(hook, fleet, ["torch-cpu-api/requirements.txt"], examples_env)
    assert proc is not None and proc.returncode == 1, proc.stderr
    assert "DW101" in proc.stdout and "torch-cpu-api" in proc.stdout
    assert "needs an image" in proc.stdout or "DW30" not in proc.stdout  # selected rules only
    lean = fixture_repo(tmp_path / "lean", ["lean-svc"])
    proc = run_entry(hook, lean, ["docker-compose.yml"], examples_env)
    assert proc is not None and proc.returncode == 0, proc.stdout + proc.stderr


def test_guard_hook_follows_the_budgets(
    hooks: dict[str, dict[str, Any]], tmp_path: Path, examples_env: dict[str, str]
) -> None:
    hook = hooks["deadweight-guard"]
    repo = fixture_repo(tmp_path, ["report-worker"])
    proc = run_entry(hook, repo, ["report-worker/Dockerfile"], examples_env)
    assert proc is not None and proc.returncode == 0, proc.stdout + proc.stderr  # no budgets
    (repo / ".deadweight.toml").write_text('[guard]\nmax-dead-weight = "100MB"\n')
    proc = run_entry(hook, repo, ["report-worker/Dockerfile"], examples_env)
    assert proc is not None and proc.returncode == 1
    assert "report-worker" in proc.stdout and "(estimated)" in proc.stdout


def test_fix_hook_writes_all_the_fixes_or_none(
    hooks: dict[str, dict[str, Any]], tmp_path: Path, examples_env: dict[str, str]
) -> None:
    """The hook fails the commit unless every fix was made (exit 4: some could not be, and then nothing was
    written). Which editors exist is deadweight fix's business (docs/cli.md); the hook's contract is this."""
    hook = hooks["deadweight-fix"]
    repo = fixture_repo(tmp_path, ["report-worker"])
    requirements = repo / "report-worker" / "requirements.txt"
    before = requirements.read_text()
    assert "scipy" in before
    proc = run_entry(hook, repo, ["report-worker/requirements.txt"], examples_env)
    assert proc is not None and proc.returncode in (0, 4), proc.stdout + proc.stderr
    if proc.returncode == 4:
        assert "refused: DW201 report-worker scipy" in proc.stdout
        assert requirements.read_text() == before
    else:
        assert "scipy" not in requirements.read_text()


def test_pre_commit_try_repo(hooks: dict[str, dict[str, Any]], tmp_path: Path, examples_env: dict[str, str]) -> None:
    """pre-commit itself: it clones this checkout (uncommitted changes included), installs it into a
    virtualenv of its own and runs the hooks on the fixture repository."""
    pre_commit = shutil.which("pre-commit")
    if pre_commit is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("CI=true but no pre-commit on PATH (it is in the test extras: pip install -e '.[test]')",
                        pytrace=False)
        pytest.skip("pre-commit is not installed (pip install pre-commit); the entry tests above still ran")
    env = {**examples_env, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    env.pop("PYTHONPATH", None)

    def try_repo(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
        # every try-repo installs this checkout into a fresh virtualenv (~30 s): two runs cover the three hooks
        return subprocess.run([pre_commit, "try-repo", str(REPO), "--color", "never", *args], cwd=repo,
                              env=env, capture_output=True, text=True, timeout=600, check=False)

    fleet = fixture_repo(tmp_path / "fleet", ["torch-cpu-api", "lean-svc"])
    (fleet / ".deadweight.toml").write_text('[guard]\nmax-size = "10GB"\n')
    proc = try_repo(fleet, "--all-files")  # every hook of the default stage: audit and guard, not fix
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert re.search(r"deadweight audit \(static\)\.+Failed", out) and "DW101" in out
    assert re.search(r"deadweight guard \(static\)\.+Passed", out)
    assert "deadweight fix" not in out
    lean = fixture_repo(tmp_path / "lean", ["lean-svc"])
    proc = try_repo(lean, "--all-files", "--hook-stage", "manual")  # fix, and the hooks of every stage
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    for name in (r"deadweight fix \(writes the fixes\)", r"deadweight audit \(static\)", r"deadweight guard"):
        assert re.search(name + r".*\.+Passed", out), name

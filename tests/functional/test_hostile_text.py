"""Project text built to make a parser slow, deep or overflow (issue 15): each case finishes with a warning or one
error line and a documented exit code. Before: a requirement line of 200,000 spaces and a ``*a*a*...b``
.dockerignore pattern each took longer than any CI allows (quadratic and exponential backtracking), a
5000-digit version, a 5000-digit Poetry caret, a 400-file ``-r`` chain and a pyproject nested 3000 deep raised
tracebacks, and a Dockerfile linked to /dev/zero was taken for no Dockerfile (exit 0)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

DOCKERFILE = "FROM python:3.11-slim\nCOPY . .\nRUN pip install -r requirements.txt\n"


#: offline with an empty cache nothing resolves: the audit says it could not check (exit 3), after reading
#: every file without a hang or a traceback
UNCHECKED = 3


def audit(root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEADWEIGHT_CACHE_DIR": str(tmp_path / "cache")}
    # a hang is the bug under test: the timeout turns it into a failure instead of a stuck CI job
    return subprocess.run([sys.executable, "-m", "deadweight", "audit", str(root), "--offline", "--fail-on", "none",
                           "--format", "json"], capture_output=True, text=True, timeout=120, env=env, check=False)


def service(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "svc"
    root.mkdir()
    (root / "Dockerfile").write_text(DOCKERFILE)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def warnings_of(result: subprocess.CompletedProcess[str]) -> list[str]:
    document = json.loads(result.stdout)
    return [w for s in document["services"] for w in s["warnings"]]


@pytest.mark.parametrize(("text", "expected"), [
    ("flask" + " " * 200_000 + "x\n", "cannot parse requirement 'flask x'"),
    ("flask==" + "1" * 5000 + "\n", "cannot parse requirement"),
], ids=["200k-spaces", "5000-digit-version"])  # short ids: pytest puts the id in the child's environment
def test_requirement_lines_that_break_parsers(tmp_path: Path, text: str, expected: str) -> None:
    result = audit(service(tmp_path, {"requirements.txt": "requests\n" + text}), tmp_path)
    assert result.returncode == UNCHECKED, result.stderr
    assert "Traceback" not in result.stderr
    warnings = warnings_of(result)
    assert any(expected in w for w in warnings), warnings
    assert all(len(w) < 400 for w in warnings)  # the 200,000 spaces are not echoed back


def test_a_requirements_chain_400_files_deep(tmp_path: Path) -> None:
    files = {f"r{i}.txt": f"-r r{i + 1}.txt\n" for i in range(400)}
    files["r400.txt"] = "requests\n"
    files["requirements.txt"] = "-r r0.txt\nflask\n"
    result = audit(service(tmp_path, files), tmp_path)
    assert result.returncode == UNCHECKED, result.stderr
    assert any("more than 100 requirements files included" in w for w in warnings_of(result))


def test_a_dockerignore_pattern_of_many_stars(tmp_path: Path) -> None:
    root = service(tmp_path, {"requirements.txt": "flask\n", ".dockerignore": "*a" * 30 + "b\n", "a" * 60: "x"})
    result = audit(root, tmp_path)
    assert result.returncode == UNCHECKED, result.stderr


def test_a_pyproject_nested_3000_deep(tmp_path: Path) -> None:
    nested = "[" * 3000 + "]" * 3000
    root = service(tmp_path, {"requirements.txt": "flask\n",
                              "pyproject.toml": f"[project]\nname = 'x'\nversion = '1'\n[tool.x]\ny = {nested}\n"})
    result = audit(root, tmp_path)
    assert result.returncode in (2, 3)
    assert result.stderr.count("\n") == 1 and "nested too deeply" in result.stderr, result.stderr


def test_a_poetry_caret_of_5000_digits(tmp_path: Path) -> None:
    root = tmp_path / "svc"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY . .\nRUN pip install poetry && poetry install\n")
    (root / "pyproject.toml").write_text("[tool.poetry]\nname = 'x'\nversion = '1'\n[tool.poetry.dependencies]\n"
                                         f"python = '^3.11'\nflask = '^{'9' * 5000}'\n")
    result = audit(root, tmp_path)
    assert result.returncode == UNCHECKED, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("target", ["/dev/zero", "/nonexistent/Dockerfile"])
def test_a_dockerfile_that_cannot_be_read_is_an_error_not_absent(tmp_path: Path, target: str) -> None:
    root = tmp_path / "svc"
    root.mkdir()
    (root / "Dockerfile").symlink_to(target)
    (root / "requirements.txt").write_text("flask\n")
    result = audit(root, tmp_path)
    assert result.returncode == 3, result.stderr
    document = json.loads(result.stdout)
    assert "cannot read Dockerfile" in document["services"][0]["error"]

"""Project files that are not files, or nest without end (issue 15): one line and a documented exit code, never a
hang or a traceback. Before: a FIFO named requirements.txt blocked the audit forever, and a compose file nested
100,000 deep raised RecursionError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from deadweight.cli.main import main
from deadweight.errors import ParseError
from deadweight.project.files import MAX_PROJECT_FILE_BYTES, read_text


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))


def project(root: Path) -> Path:
    root.mkdir()
    (root / "Dockerfile").write_text(
        "FROM python:3.11-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\n"
    )
    return root


def test_a_fifo_requirements_file_does_not_block(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path / "svc")
    os.mkfifo(root / "requirements.txt")  # nobody ever writes to it: reading it would wait forever
    code = main(["audit", str(root), "--offline", "--fail-on", "none", "--format", "json"])
    err = capsys.readouterr().err
    assert code in (0, 3), err
    assert "Traceback" not in err


@pytest.mark.parametrize("flow", [True, False])
def test_a_compose_file_nested_too_deeply_is_one_line_exit_3(
    tmp_path: Path, flow: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "svc")
    (root / "requirements.txt").write_text("requests\n")
    if flow:
        nested = "[" * 100_000 + "]" * 100_000
        text = f"services:\n  app:\n    build: .\n    x: {nested}\n"
    else:
        text = "services:\n  app:\n    build: .\n    x:\n" + "".join(
            "  " * (i + 3) + "k:\n" for i in range(3000)) + "  " * 3003 + "v\n"
    (root / "docker-compose.yml").write_text(text)
    assert main(["audit", str(root), "--offline", "--fail-on", "none"]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "nested too deeply" in err


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_the_project_file_reader_refuses_what_is_not_a_regular_file(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "Dockerfile"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")
    with pytest.raises(ParseError, match="not a regular file"):
        read_text(path, "Dockerfile")


def test_the_project_file_reader_refuses_an_oversized_file(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    with path.open("wb") as fh:
        fh.truncate(MAX_PROJECT_FILE_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(ParseError, match="too large"):
        read_text(path, "pyproject.toml")

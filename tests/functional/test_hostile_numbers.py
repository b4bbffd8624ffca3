"""Numbers from project files are range-checked (issue 15): no overflow traceback, no endless tag computation.
Each case crashed or hung before: ``mem_limit: .inf`` (OverflowError), ``pulls-per-month = inf`` (OverflowError),
``FROM python:3.99999999999999999999999`` (the wheel-tag list for that "Python" never ended)."""

from __future__ import annotations

from pathlib import Path

import pytest

from deadweight.cli.main import main
from deadweight.project.compose import MAX_MEMORY_BYTES, parse_memory


def service(root: Path, *, base: str = "python:3.11-slim", compose: str | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(f"FROM {base}\nCOPY app.py .\nCMD [\"python\", \"app.py\"]\n")
    (root / "app.py").write_text("print('hi')\n")
    if compose is not None:
        (root / "docker-compose.yml").write_text(compose)
    return root


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e999", "9" * 400, "-5", "'1e999g'"])
def test_mem_limit_out_of_range_is_no_crash(tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    root = service(tmp_path / "svc", compose=f"services:\n  app:\n    build: .\n    mem_limit: {value}\n")
    code = main(["audit", str(root), "--offline", "--fail-on", "none", "--format", "json"])
    err = capsys.readouterr().err
    assert code in (0, 2, 3), err
    assert "Traceback" not in err


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e999, -1.0, 10**400, "1e999"])
def test_parse_memory_refuses_what_is_not_a_size(value: object) -> None:
    assert parse_memory(value) is None


def test_parse_memory_keeps_real_sizes() -> None:
    assert parse_memory("512m") == 512 * 1024**2
    assert parse_memory(1.5 * 1024**3) == int(1.5 * 1024**3)
    assert parse_memory(MAX_MEMORY_BYTES) == MAX_MEMORY_BYTES


@pytest.mark.parametrize("value", ["inf", "nan", "1e999", "9" * 400, "-1"])
def test_cost_setting_out_of_range_is_a_config_error(
    tmp_path: Path, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = service(tmp_path / "svc")
    (root / "pyproject.toml").write_text(f"[tool.deadweight.cost]\npulls-per-month = {value}\n")
    assert main(["audit", str(root), "--offline"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "cost" in err, err  # the table it is in, named
    assert "Traceback" not in err


def test_an_impossible_python_tag_finishes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = service(tmp_path / "svc", base="python:3.99999999999999999999999")
    code = main(["audit", str(root), "--offline", "--fail-on", "none"])
    assert code == 0, capsys.readouterr().err

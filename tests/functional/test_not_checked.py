"""A static audit that could not resolve the declared packages never says "no findings" (issue 9)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deadweight.cli.main import main


@pytest.fixture()
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "empty-cache"))
    root = tmp_path / "svc"
    root.mkdir()
    (root / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY . .\nRUN pip install -r requirements.txt\n")
    (root / "requirements.txt").write_text("numpy==2.1.3\nscipy==1.14.1\n")
    (root / "app.py").write_text("import numpy\n")
    return root


def test_audit_says_not_checked_and_exits_3(service: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", str(service), "--offline", "--fail-on", "none"]) == 3
    out = capsys.readouterr().out
    assert "not checked: numpy, scipy could not be resolved" in out
    assert "no findings" not in out
    assert main(["audit", str(service), "--offline", "--format", "json"]) == 3
    document = json.loads(capsys.readouterr().out)
    assert document["services"][0]["unresolved"] == ["numpy", "scipy"]


def test_guard_counts_the_budgets_as_not_checked(service: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (service / ".deadweight.toml").write_text("[guard]\nmax-dead-weight = \"100MB\"\n")
    code = main(["guard", str(service), "--offline", "--format", "json"])
    out = capsys.readouterr().out
    assert code == 3, out
    assert "could not resolve numpy, scipy" in out

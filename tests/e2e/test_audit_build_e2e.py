"""audit --build with the real engine: a service that builds is audited from its fresh image; one whose
build fails gets a row that says so, and the run exits 3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from deadweight.cli.main import main


def test_build_failure_is_a_row_and_others_are_still_audited(
    lab: dict[str, str], docker_client: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    good = tmp_path / "good"
    good.mkdir()
    (good / "Dockerfile").write_text(
        "FROM python:3.11-slim\nRUN mkdir -p /root/.cache/pip/http && head -c 600000 /dev/urandom > "
        "/root/.cache/pip/http/blob\nCMD [\"python\", \"-c\", \"print(1)\"]\n"
    )
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "Dockerfile").write_text("FROM python:3.11-slim\nRUN echo about to fail && exit 7\n")
    (tmp_path / "compose.yaml").write_text("services:\n  good:\n    build: ./good\n  bad:\n    build: ./bad\n")
    code = main(["audit", str(tmp_path), "--build", "--format", "json", "--offline"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 3
    rows = {s["name"]: s for s in doc["services"]}
    assert "docker build failed" in rows["bad"]["error"]
    assert rows["good"]["error"] is None and rows["good"]["mode"] == "image"
    assert rows["good"]["image"] == "docker:deadweight-audit/good:latest"
    assert [f["rule"] for f in rows["good"]["findings"]] == ["DW302"]  # the pip cache the build left
    docker_client.images.remove("deadweight-audit/good:latest", force=True)

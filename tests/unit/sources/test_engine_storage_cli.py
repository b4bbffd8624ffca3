"""``--no-fast-path`` through the CLI (inspect and audit), on a stand-in engine whose storage holds the image:
the fast path sends no ``docker save``, the flag forces it, and both give the same report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deadweight.cli.main import main
from deadweight.engine.client import Engine
from tests.unit.sources.test_engine_storage import _streamed, engine_client


@pytest.fixture()
def saves(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    client, _ = engine_client(tmp_path)
    monkeypatch.setattr(Engine, "sdk", lambda self: client)  # every Engine the CLI makes talks to the fake
    return _streamed(client.api)


def test_inspect_no_fast_path_streams_the_same_report(saves: list[int], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "docker:app:1", "--format", "json", "--packages", "--breakdown"]) == 0
    fast = capsys.readouterr()
    assert saves == [] and fast.err == ""
    assert main(["inspect", "docker:app:1", "--format", "json", "--packages", "--breakdown", "--no-fast-path"]) == 0
    stream = capsys.readouterr()
    assert saves == [1] and stream.err == ""
    assert fast.out == stream.out
    assert json.loads(fast.out)["ref"] == "docker:app:1"


def test_audit_no_fast_path_streams_and_shares_the_layer_cache(
    saves: list[int], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    svc = tmp_path / "svc"
    svc.mkdir()
    (svc / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY app.py /app/\nCMD [\"python\", \"/app/app.py\"]\n")
    (svc / "app.py").write_text("print(1)\n")
    args = ["audit", str(svc), "--image", "docker:app:1", "--offline", "--format", "json", "--fail-on", "none"]

    def audit(cache: str, *extra: str) -> object:
        monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / cache))
        assert main([*args, *extra]) == 0
        return json.loads(capsys.readouterr().out)["services"]

    streamed = audit("a", "--no-fast-path")
    assert saves == [1]
    assert audit("b") == streamed  # a fresh cache, the fast path: no docker save
    assert saves == [1]
    assert audit("a") == streamed  # the stream's cached scans serve the fast path (same diff ids)
    assert audit("b", "--no-fast-path") == streamed  # and the fast path's serve the stream
    assert saves == [1]

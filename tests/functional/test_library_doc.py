"""docs/library.md's example runs as written (a fresh interpreter, from the repository root) and prints what
the CLI's JSON says about the same image and project."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from deadweight.cli.main import main

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "library.md"


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", text, flags=re.M | re.S)


def _cli_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    main([*args, "--format", "json"])
    doc: dict[str, object] = json.loads(capsys.readouterr().out)
    return doc


def test_the_library_example_runs_and_agrees_with_the_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (block,) = _python_blocks(DOC.read_text(encoding="utf-8"))
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock",
           "DEADWEIGHT_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", block], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()

    monkeypatch.chdir(REPO)
    for key, value in (("DOCKER_HOST", env["DOCKER_HOST"]), ("DEADWEIGHT_CACHE_DIR", env["DEADWEIGHT_CACHE_DIR"])):
        monkeypatch.setenv(key, value)
    image = _cli_json(capsys, "inspect", "oci:examples/tiny-image", "--packages", "--top", "3")
    layers = image["layers"]
    assert isinstance(layers, list)
    assert lines[0] == f"oci:examples/tiny-image: {image['size_bytes']} bytes in {len(layers)} layers"
    largest = image["largest_paths"]
    assert isinstance(largest, list)
    for item in largest[:1]:
        assert f"  {item['size_bytes']:>8}  {item['path'].lstrip('/')}" in lines
    python = image["python"]
    assert isinstance(python, dict)
    for env_doc in python["environments"]:
        for dist in env_doc["distributions"]:
            assert f"  {dist['name']} {dist['version']}: {dist['size_bytes']} bytes" in lines

    report = _cli_json(capsys, "audit", "examples/report-worker", "--offline")
    services = report["services"]
    assert isinstance(services, list) and services
    for service in services:
        assert f"{service['name']} ({service['mode']}): {service['dead_weight_bytes']} dead bytes" in lines
    assert lines[-1].startswith("error (exit code 3): ") and "no-such-image.tar" in lines[-1]

"""Shared by the functional tests that run deadweight on the example fleet in a subprocess (the HTML report in a
browser, the GitHub Action's steps, the pre-commit hooks).

``examples_env``: the environment those runs get. No Docker engine (``DOCKER_HOST`` at a socket that does not
exist: the lab builds the examples' images, and an engine that has them would turn the static audit into a
measured one), and a private index cache warmed once per session by an online static audit of ``examples/``,
after which every run is ``--offline`` against it: all runs of a session see the same index data, and none
depends on what a developer's own cache holds. The warm-up needs the package index (PyPI, or PIP_INDEX_URL);
CI reaches it. Without it the example fleet has no sizes to estimate: the tests fail in CI and are skipped
elsewhere.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def examples_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    cache = tmp_path_factory.mktemp("deadweight-cache")
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent/docker.sock", "DEADWEIGHT_CACHE_DIR": str(cache),
           "NO_COLOR": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "deadweight", "audit", str(REPO / "examples"), "--format", "json"],
        env={**env, "PYTHONPATH": str(REPO / "src")}, capture_output=True, text=True, timeout=600, check=False,
    )
    rules = set()
    if run.stdout.strip():
        rules = {f["rule"] for s in json.loads(run.stdout)["services"] for f in s["findings"]}
    if not {"DW101", "DW201"} <= rules:
        reason = f"the static audit of examples/ needs the package index to warm its cache ({run.stderr[-300:]!r})"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return env

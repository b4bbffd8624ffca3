"""DW301's fix against the real engine: legacy-api split into a builder and a runtime stage, rebuilt, and run.

A fix counts only when the rebuilt image works: no compiler in it, psycopg2 still loads (libpq5 is there),
the app answers its health check, gunicorn reads its config, and the image is smaller than before.
Run under ``flock /tmp/dw-e2e.lock`` (the builds share the engine with the other e2e suites).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "legacy-api"


def _docker(*args: str, timeout: int = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)


def _build(context: Path, tag: str) -> int:
    done = _docker("build", "--network", "host", "-t", tag, str(context))
    assert done.returncode == 0, f"docker build {context} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    size = _docker("image", "inspect", tag, "--format", "{{.Size}}")
    assert size.returncode == 0, size.stderr
    return int(size.stdout.strip())


def _in(tag: str, script: str) -> subprocess.CompletedProcess[str]:
    return _docker("run", "--rm", tag, "sh", "-c", script, timeout=300)


def test_legacy_api_split_builds_runs_and_is_smaller(lab: dict[str, str], docker_client: Any,
                                                     tmp_path: Path) -> None:
    work = tmp_path / "legacy-api"
    shutil.copytree(EXAMPLE, work)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "DEADWEIGHT_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "deadweight", "fix", str(work), "--only", "DW301", "--write",
                           "--offline"], capture_output=True, text=True, env=env, timeout=600, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    fixed = (work / "Dockerfile").read_text()
    assert "FROM python:3.11-slim AS build\n" in fixed
    assert "COPY --from=build /opt/venv /opt/venv\n" in fixed
    assert (work / "requirements.txt").read_text() == (EXAMPLE / "requirements.txt").read_text()

    tags = ("deadweight-e2e/fixbuilder-before:latest", "deadweight-e2e/fixbuilder-after:latest")
    try:
        before = _build(EXAMPLE, tags[0])
        after = _build(work, tags[1])
        print(f"\nlegacy-api image: before {before} bytes ({before / 1e6:.1f} MB), "
              f"after {after} bytes ({after / 1e6:.1f} MB), saved {(before - after) / 1e6:.1f} MB")

        assert _in(tags[0], "command -v gcc").returncode == 0  # the original ships the compiler
        assert _in(tags[1], "command -v gcc").returncode != 0
        assert _in(tags[1], "command -v cc || command -v make || ls /usr/include/libpq-fe.h").returncode != 0

        imported = _in(tags[1], 'python -c "import psycopg2; print(psycopg2.__version__)"')
        assert imported.returncode == 0, imported.stderr
        health = _in(tags[1], "cd /app && python -c \"import app; r = app.app.test_client().get('/healthz'); "
                              "print(r.status_code, r.get_json()['driver'])\"")
        assert health.returncode == 0 and health.stdout.split() == ["200", "psycopg2"], health.stdout + health.stderr
        gunicorn = _in(tags[1], "cd /app && gunicorn --check-config app:app")
        assert gunicorn.returncode == 0, gunicorn.stdout + gunicorn.stderr
        missing = _in(tags[1], "ldd /opt/venv/lib/python3.11/site-packages/psycopg2/*.so | grep 'not found' || true")
        assert missing.stdout.strip() == ""

        assert after < before

        audit = subprocess.run([sys.executable, "-m", "deadweight", "audit", str(work), "--image",
                                f"docker:{tags[1]}", "--offline", "--select", "DW301", "--format", "json"],
                               capture_output=True, text=True, env=env, timeout=600, check=False)
        assert '"DW301"' not in audit.stdout, audit.stdout[-3000:] + audit.stderr[-3000:]
        assert '"mode": "image"' in audit.stdout, audit.stdout[-3000:] + audit.stderr[-3000:]
    finally:
        for tag in tags:
            _docker("image", "rm", "-f", tag)

"""Debian's chromium, headless, for the HTML report tests (audit and inspect pages alike).

``browse`` returns the DOM after the page's script ran (``--dump-dom``), or writes a screenshot; ``page_requests``
reads a ``--log-net-log`` file for the requests a page made. ``require_chromium`` skips without a browser,
except in CI (CI=true), where a missing browser is a failure (scripts/lab installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

WINDOW = (1400, 1000)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def require_chromium() -> str:
    path = find_chromium()
    if path is None:
        if in_ci():
            pytest.fail("CI=true but no chromium on PATH (scripts/lab up installs Debian's chromium)", pytrace=False)
        pytest.skip("no chromium on PATH: apt-get install chromium")
    return path


def browse(chromium: str, page: Path, *extra: str, fragment: str = "") -> str:
    """What chromium's ``--dump-dom`` prints for ``page`` (scripts run), in a fresh profile."""
    with tempfile.TemporaryDirectory(prefix="dw-chromium-") as profile:
        cmd = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            *extra,
        ]
        url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
        proc = subprocess.run(
            [*cmd, url] if "--screenshot" in " ".join(extra) else [*cmd, "--dump-dom", url],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def page_requests(net_log: Path) -> list[str]:
    """URLs the page asked for: requests with an initiator (the browser's own update and sync checks have
    none, "not an origin")."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        e["params"]["url"]
        for e in log["events"]
        if e["type"] == start and "url" in e.get("params", {}) and e["params"].get("initiator") != "not an origin"
    ]

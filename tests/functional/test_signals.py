"""SIGTERM and Ctrl-C while deadweight waits on a package index that never answers: exit 143 / 130, one line on
stderr, no traceback (issue 15's interruption class). The index is a real socket on 127.0.0.1 that accepts
connections and says nothing, so the static audit is really blocked in its HTTP reads when the signal lands."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture()
def silent_index() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)  # keep it open and never answer

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()


@pytest.mark.parametrize(("signum", "code", "line"), [(signal.SIGTERM, 143, "deadweight: terminated"),
                                                      (signal.SIGINT, 130, "deadweight: interrupted")])
def test_a_signal_while_blocked_on_the_index(
    silent_index: int, tmp_path: Path, signum: int, code: int, line: str | None
) -> None:
    project = tmp_path / "svc"
    project.mkdir()
    (project / "Dockerfile").write_text("FROM python:3.11-slim\nCOPY . .\nRUN pip install -r requirements.txt\n"
                                        'CMD ["python", "app.py"]\n')
    (project / "requirements.txt").write_text(f"--index-url http://127.0.0.1:{silent_index}/simple\nrequests\n")
    (project / "app.py").write_text("import requests\n")
    env = {**os.environ, "DEADWEIGHT_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen([sys.executable, "-m", "deadweight", "audit", str(project), "--format", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    time.sleep(3)  # start-up, the project parsed, the first index request sent and waiting
    assert proc.poll() is None, "the audit should still be waiting on the silent index"
    proc.send_signal(signum)
    sent = time.monotonic()
    out, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 10, "the signal must end the run promptly, not after the index timeout"
    assert proc.returncode == code, err
    assert "Traceback" not in err
    assert err.count("\n") <= 1
    if line is not None:
        assert err.strip() == line
    assert out == ""  # no half-written report

"""One measured child process for every bench: wall time, and the child's own CPU time and peak RSS from
``os.wait4`` (not its whole process tree's, not the bench's), with its stderr kept for the caller to judge."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Measured:
    wall_s: float
    cpu_s: float  # user + system: steadier than wall on a loaded machine
    max_rss_mb: float
    exit_code: int
    stderr: bytes


def measure(cmd: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Measured:
    """Run ``cmd`` with its stdout discarded and wait for exactly that child."""
    start = time.perf_counter()
    proc = subprocess.Popen(list(cmd), cwd=cwd, env=None if env is None else dict(env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, proc.returncode, err)

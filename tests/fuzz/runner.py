"""Run ``deadweight`` on a hostile input, in process or in a subprocess, and judge what it did.

The contract (docs/exit-codes.md, issue 15): exit 0, 2 or 3; a non-zero exit prints exactly one line on
stderr; never a traceback; done within a time bound. In process, stdout is a strict UTF-8 stream (as on a
terminal with a UTF-8 locale), so a name that cannot be encoded is caught as the crash it is for users.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ALLOWED_CODES = frozenset({0, 2, 3})
SRC = str(Path(__file__).resolve().parents[2] / "src")


@dataclass
class Outcome:
    code: int | None  # None: crashed (in process) or timed out
    stderr: str
    seconds: float
    crash: str | None = None  # the traceback of an exception that escaped main()
    timed_out: bool = False
    max_rss_kb: int | None = None
    stdout: str = ""  # in process only

    def problems(self, allowed: frozenset[int] = ALLOWED_CODES) -> list[str]:
        """What is wrong with this outcome; empty when it kept the contract (exit codes in ``allowed``).

        A failure with nothing on stdout must say why in exactly one stderr line; a report on stdout (an audit
        that found something, or could not check a service) is its own explanation."""
        out = []
        if self.timed_out:
            out.append(f"timed out after {self.seconds:.1f} s")
        if self.crash:
            out.append("crashed:\n" + self.crash)
        if "Traceback" in self.stderr:
            out.append("traceback on stderr:\n" + self.stderr[-3000:])
        if self.code is not None and self.code not in allowed:
            out.append(f"exit code {self.code}: {self.stderr[-500:]}")
        if self.code and not self.stdout.strip() and len(self.stderr.splitlines()) != 1:
            out.append(f"exit {self.code} with {len(self.stderr.splitlines())} lines on stderr: {self.stderr[-500:]!r}")
        return out


class _Timeout(BaseException):
    """Raised by the alarm; a BaseException so no ``except Exception`` in the code under test swallows it."""


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    def fire(_signum: int, _frame: FrameType | None) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_in_process(argv: Sequence[str], timeout: float = 20.0) -> Outcome:
    """``deadweight.cli.main.main(argv)`` with stdout a strict UTF-8 stream and stderr captured."""
    from deadweight.cli.main import main

    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
    stderr = io.StringIO()
    start = time.monotonic()
    code: int | None = None
    crash = None
    timed_out = False
    try:
        with _alarm(timeout), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = main(list(argv))
            stdout.flush()
    except _Timeout:
        timed_out = True
    except SystemExit as exc:  # main() returns its code; exiting instead is a bug too
        crash = f"SystemExit({exc.code!r}) escaped main()"
    except BaseException:
        crash = traceback.format_exc()
    with contextlib.suppress(ValueError):
        stdout.flush()
    printed = raw.getvalue().decode("utf-8", "replace")
    return Outcome(code, stderr.getvalue(), time.monotonic() - start, crash, timed_out, stdout=printed)


#: Runs ``python -m deadweight ARGV`` and writes that child's peak RSS (KiB) to the file named first. Why a
#: launcher: a child's ``ru_maxrss`` counts the memory of the process it was forked from until it execs (a
#: 270 MB pytest process made a 40 MB inspect look like 275 MB); forked from this small launcher, it does not.
_LAUNCHER = (
    "import resource, signal, subprocess, sys\n"
    "out, argv = sys.argv[1], sys.argv[2:]\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))\n"
    "code = subprocess.call([sys.executable, '-m', 'deadweight', *argv])\n"
    "open(out, 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))\n"
    "sys.exit(code if code >= 0 else 128 - code)\n"
)


def run_subprocess(argv: Sequence[str], timeout: float = 60.0, memory_limit: int | None = None) -> Outcome:
    """``python -m deadweight ARGV`` in a child (through ``_LAUNCHER``); its peak RSS is that child's own."""
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "PYTHONIOENCODING": "utf-8"}
    rss_file = tempfile.NamedTemporaryFile(prefix="dw-rss-", delete=False)  # noqa: SIM115 - read after the wait
    rss_file.close()

    def limit() -> None:
        if memory_limit is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    start = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, rss_file.name, *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        preexec_fn=limit if memory_limit is not None else None,  # noqa: PLW1509 - no threads here
        start_new_session=True,
    )
    assert proc.stderr is not None
    os.set_blocking(proc.stderr.fileno(), False)
    chunks: list[bytes] = []
    timed_out = False
    while True:
        with contextlib.suppress(BlockingIOError, TypeError):
            chunk = proc.stderr.read()
            if chunk:
                chunks.append(chunk)
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - start > timeout:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the launcher and deadweight under it
            pid, status, usage = os.wait4(proc.pid, 0)
            timed_out = True
            break
        time.sleep(0.01)
    with contextlib.suppress(BlockingIOError, TypeError, ValueError):
        rest = proc.stderr.read()
        if rest:
            chunks.append(rest)
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)  # wait4 reaped it: keep Popen from trying again
    stderr = b"".join(chunks).decode("utf-8", "replace")
    try:
        measured = Path(rss_file.name).read_text().strip()
    finally:
        os.unlink(rss_file.name)
    return Outcome(
        None if timed_out else proc.returncode,
        stderr,
        time.monotonic() - start,
        timed_out=timed_out,
        max_rss_kb=int(measured) if measured.isdigit() else usage.ru_maxrss,
    )

"""Run a command to completion in an image, or inside a running container, with its output captured.

``verify``'s checks run many short commands (``pip check``, one batched import, a framework probe, an HTTP
probe inside the service's container). Each one is bounded: a timeout (the container is killed, the exec
abandoned), output kept to a cap (the tail, where the error is), and the container is always removed, even
when the wait fails. Failures to start are one-line ``BuildError``s, like ``Engine.run``'s.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deadweight.engine.client import Engine, describe
from deadweight.errors import BuildError

#: Keep at most this much of a command's stdout (the parsers read JSON lines from it) ...
STDOUT_CAP = 4 << 20
#: ... and of its stderr (tracebacks, warnings).
STDERR_CAP = 256 << 10


@dataclass(frozen=True)
class Completed:
    """A finished (or killed) command."""

    exit_code: int | None  # None: killed at the timeout, or the engine lost it
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool = False
    oom_killed: bool = False

    @property
    def output(self) -> str:
        """stdout then stderr, as a person would read them."""
        return "\n".join(part for part in (self.stdout.rstrip("\n"), self.stderr.rstrip("\n")) if part)


@dataclass(frozen=True)
class OneShot:
    """A throwaway container: ``entrypoint`` + ``command`` in ``image``, no network unless told."""

    image: str
    command: Sequence[str] = ()
    entrypoint: Sequence[str] | None = None  # None keeps the image's; () clears it
    environment: Mapping[str, str] = field(default_factory=dict)
    network: str = "none"
    mem_limit: int | None = None
    user: str | None = None
    working_dir: str | None = None


def _tail(data: bytes, cap: int) -> str:
    return data[-cap:].decode("utf-8", errors="replace")


def create(engine: Engine, spec: OneShot, *, label: str, **extra: Any) -> Any:
    """Create (not start) ``spec``'s container; ``extra`` goes to the SDK (healthcheck, ...)."""
    import docker.errors  # noqa: PLC0415 - heavy: only when the engine is really used

    kwargs: dict[str, Any] = {
        "command": list(spec.command) if spec.command else None,
        "environment": dict(spec.environment),
        "network_mode": spec.network,
        "mem_limit": spec.mem_limit,
        "user": spec.user,
        "working_dir": spec.working_dir,
        **extra,
    }
    if spec.entrypoint is not None:
        kwargs["entrypoint"] = list(spec.entrypoint) if spec.entrypoint else [""]
    try:
        return engine.sdk().containers.create(spec.image, **kwargs)
    except docker.errors.ImageNotFound:
        raise BuildError(f"{label}: the image is not in the local engine ({spec.image})") from None
    except docker.errors.DockerException as exc:
        raise BuildError(f"{label}: could not create the container: {describe(exc)}") from None


def put_files(container: Any, directory: str, files: Mapping[str, str]) -> None:
    """Copy text ``files`` (name -> content) into ``directory`` of a created container (made if absent)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        top = tarfile.TarInfo(directory.strip("/"))
        top.type = tarfile.DIRTYPE
        top.mode = 0o777
        tar.addfile(top)
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"{directory.strip('/')}/{name}")
            info.size = len(data)
            info.mode = 0o666
            tar.addfile(info, io.BytesIO(data))
    container.put_archive("/", buffer.getvalue())


def read_files(container: Any, path: str, *, cap: int = STDOUT_CAP) -> dict[str, bytes]:
    """The regular files at or under ``path`` in a container (running or stopped), name -> bytes (each
    bounded to ``cap``); empty when the path is absent."""
    try:
        stream, _stat = container.get_archive(path)
        raw = b"".join(stream)
    except Exception:
        return {}
    found: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is not None:
                found[member.name] = handle.read(cap)
    return found


def wait(container: Any, *, timeout: float) -> tuple[int | None, bool, bool]:
    """(exit code or None, timed out, OOM-killed) once ``container`` exits or ``timeout`` passes (killed)."""
    deadline = time.monotonic() + timeout
    while True:
        container.reload()
        state = container.attrs.get("State", {})
        if state.get("Status") in ("exited", "dead"):
            return int(state.get("ExitCode", -1)), False, bool(state.get("OOMKilled"))
        if time.monotonic() >= deadline:
            with contextlib.suppress(Exception):
                container.kill()
            return None, True, False
        time.sleep(0.1)


def logs(container: Any) -> tuple[str, str]:
    """(stdout, stderr) of a container, each bounded to its cap (the tail)."""
    out = container.logs(stdout=True, stderr=False) or b""
    err = container.logs(stdout=False, stderr=True) or b""
    return _tail(out, STDOUT_CAP), _tail(err, STDERR_CAP)


def run_once(engine: Engine, spec: OneShot, *, timeout: float, label: str) -> Completed:
    """Run ``spec`` to completion (killed after ``timeout`` s) and return what it printed; always removed."""
    import docker.errors  # noqa: PLC0415 - see create()

    started = time.monotonic()
    container = create(engine, spec, label=label)
    try:
        try:
            container.start()
        except docker.errors.DockerException as exc:
            # "executable file not found": the command is not in the image; the caller decides
            return Completed(None, "", describe(exc), time.monotonic() - started)
        code, timed_out, oom = wait(container, timeout=timeout)
        out, err = logs(container)
        return Completed(code, out, err, time.monotonic() - started, timed_out, oom)
    except docker.errors.DockerException as exc:
        raise BuildError(f"{label}: the engine lost the container: {describe(exc)}") from None
    finally:
        engine.remove(container)


def exec_in(container: Any, argv: Sequence[str], *, timeout: float) -> Completed:
    """Run ``argv`` inside running ``container`` (``docker exec``); abandoned after ``timeout`` s.

    The Engine API has no exec timeout: the exec runs in a thread that is given up on at the deadline (the
    probes deadweight execs carry their own socket timeouts, so they end soon after)."""
    started = time.monotonic()
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = container.exec_run(list(argv), demux=True)
        except Exception as exc:  # the SDK raises several types for a lost container
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    seconds = time.monotonic() - started
    if thread.is_alive():
        return Completed(None, "", f"timed out after {timeout:g}s", seconds, timed_out=True)
    if "error" in box:
        return Completed(None, "", describe(box["error"]), seconds)
    result = box["result"]
    out, err = result.output if isinstance(result.output, tuple) else (result.output, b"")
    return Completed(result.exit_code, _tail(out or b"", STDOUT_CAP), _tail(err or b"", STDERR_CAP), seconds)

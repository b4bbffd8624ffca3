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
from pathlib import PurePosixPath
from typing import Any

from deadweight.engine.client import Engine, RunSpec, describe
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


def _create(engine: Engine, image: str, *, label: str, **kwargs: Any) -> Any:
    import docker.errors  # noqa: PLC0415 - heavy: only when the engine is really used

    try:
        return engine.sdk().containers.create(image, **kwargs)
    except docker.errors.ImageNotFound:
        raise BuildError(f"{label}: the image is not in the local engine ({image})") from None
    except docker.errors.DockerException as exc:
        raise BuildError(f"{label}: could not create the container: {describe(exc)}") from None


def create(engine: Engine, spec: OneShot, *, label: str) -> Any:
    """Create (not start) ``spec``'s container."""
    kwargs: dict[str, Any] = {
        "command": list(spec.command) if spec.command else None,
        "environment": dict(spec.environment),
        "network_mode": spec.network,
        "mem_limit": spec.mem_limit,
        "user": spec.user,
        "working_dir": spec.working_dir,
    }
    if spec.entrypoint is not None:
        kwargs["entrypoint"] = list(spec.entrypoint) if spec.entrypoint else [""]
    return _create(engine, spec.image, label=label, **kwargs)


def create_service(engine: Engine, spec: RunSpec, *, label: str, environment: Mapping[str, str] | None = None) -> Any:
    """Create (not start) the container ``Engine.run`` would start for ``spec``, with ``environment`` added
    (so files can be copied in before it starts: the import trace's hook)."""
    return _create(
        engine,
        spec.image,
        label=label,
        command=spec.command or None,
        entrypoint=spec.entrypoint or None,
        environment={**spec.environment, **(environment or {})},
        network_mode=spec.network,
        mem_limit=spec.mem_limit,
        healthcheck=dict(spec.healthcheck) if spec.healthcheck is not None else None,
    )


def put_files(container: Any, directory: str, files: Mapping[str, str], *, dirs: Sequence[str] = ()) -> None:
    """Copy text ``files`` (relative name -> content) and empty ``dirs`` into ``directory`` of a created
    container. Directories are made world-writable: the service may run as any user."""
    root = directory.strip("/")
    names = {*dirs, *(str(PurePosixPath(name).parent) for name in files)}
    folders = {root} | {f"{root}/{d}" for d in names if d not in ("", ".")}
    for folder in list(folders):
        folders.update(str(p) for p in PurePosixPath(folder).parents if str(p) != ".")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in sorted(folders):
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if folder == "tmp" else 0o777
            tar.addfile(info)
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"{root}/{name}")
            info.size = len(data)
            info.mode = 0o644
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

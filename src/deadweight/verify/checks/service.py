"""Run the service as compose would and watch it: ready or not, how fast, peak memory, its OpenAPI answers,
and (for the import trace) the modules it imported. One run per image is shared by ``start``, ``openapi``
and ``memory``; the import trace has its own run, since its hook must not touch the others.

Readiness, in order of what the service offers: its healthcheck (compose's, else the image's HEALTHCHECK,
polled every second) reports healthy; else a port the image exposes accepts a connection (probed from
INSIDE the container with ``docker exec`` and the image's python: with network none the host cannot reach
it); else it is still running after :data:`SETTLE_SECONDS` (or exited 0), which the result says plainly.
"""

from __future__ import annotations

import json
import shlex
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from deadweight.engine.client import Engine, RunSpec, describe, memory_in_use
from deadweight.engine.memory import HEALTH_INTERVAL_NS, run_spec
from deadweight.engine.oneshot import create_service, exec_in, put_files, read_files
from deadweight.verify.checks.base import (
    CheckContext,
    Role,
    config_env,
    env_flags,
    image_config,
    last_line,
    tail,
)
from deadweight.verify.checks.probes import source

#: Without a healthcheck or a port, a service still running after this long counts as started.
SETTLE_SECONDS = 5.0
#: Poll the container this often while it starts.
POLL_SECONDS = 0.5
#: Memory samples taken once the service is ready (and has answered the OpenAPI GETs, if any).
AFTER_READY_SAMPLES = 2
#: GET at most this many OpenAPI paths.
OPENAPI_LIMIT = 50
OPENAPI_TIMEOUT = 90.0
TRACE_ROOT = "/tmp/.deadweight-trace"
TRACE_SKIP = frozenset({"__main__", "__mp_main__", "sitecustomize", "usercustomize"})


@dataclass
class ServiceRun:
    """What one run of the service in one image showed."""

    role: Role
    image: str
    command: str  # ``docker run`` that starts it the same way
    ready: bool = False
    how: str = ""  # "healthy (compose healthcheck)", "port 8000 accepted a connection", or why not ready
    readiness: str = ""  # "healthcheck", "port", "running", "exited-0"
    startup_seconds: float | None = None
    exit_code: int | None = None  # None: still running when stopped
    oom_killed: bool = False
    peak_bytes: int = 0
    samples: int = 0
    logs: str = ""
    http: dict[str, Any] | None = None  # the openapi probe's answer
    http_error: str = ""
    imported: frozenset[str] | None = None  # the trace (trace runs only)
    error: str = ""  # could not be run at all
    ports: tuple[int, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def run_line(spec: RunSpec) -> str:
    """``docker run --rm`` starting ``spec`` as the check did (without the check's own health polling)."""
    words = ["docker", "run", "--rm", "--network", spec.network or "default"]
    if spec.mem_limit:
        words += ["--memory", str(spec.mem_limit)]
    words += env_flags(spec.environment)
    entry = spec.entrypoint
    entry_words = shlex.split(entry) if isinstance(entry, str) else list(entry or [])
    if entry_words:
        words += ["--entrypoint", entry_words[0]]
    command = spec.command
    command_words = shlex.split(command) if isinstance(command, str) else list(command or [])
    return shlex.join([*words, spec.image, *entry_words[1:], *command_words])


def exposed_ports(config: Mapping[str, Any]) -> tuple[int, ...]:
    """TCP ports of the image's ``ExposedPorts`` (``{"8000/tcp": {}}``)."""
    ports = []
    for key in config.get("ExposedPorts") or {}:
        number, _, proto = str(key).partition("/")
        if number.isdigit() and proto in ("", "tcp"):
            ports.append(int(number))
    return tuple(sorted(ports))


def health_spec(spec: RunSpec, config: Mapping[str, Any]) -> RunSpec:
    """``spec`` with the image's own HEALTHCHECK polled every second (its interval may be 30 s) when compose
    gives none."""
    if spec.healthcheck is not None:
        return spec
    test = (config.get("Healthcheck") or {}).get("Test")
    if not test or test == ["NONE"]:
        return spec
    from dataclasses import replace  # noqa: PLC0415 - only here

    return replace(spec, healthcheck={"test": list(test), "interval": HEALTH_INTERVAL_NS, "retries": 3})


def http_probe(container: Any, python: str, mode: str, args: Mapping[str, Any], *, timeout: float) -> dict[str, Any]:
    """Run ``probes/http.py`` in ``mode`` inside ``container``; its JSON answer (raises ValueError if none)."""
    # -I: the probe ignores PYTHONPATH (the import trace's hook is not for it)
    argv = [python, "-I", "-c", source("http"), mode, json.dumps(dict(args))]
    done = exec_in(container, argv, timeout=timeout)
    for line in done.stdout.splitlines():
        if line.startswith("DW-HTTP "):
            answer = json.loads(line[len("DW-HTTP ") :])
            if isinstance(answer, dict):
                return answer
    raise ValueError(last_line(done.stderr) or f"the probe printed nothing (exit {done.exit_code})")


def service_run(ctx: CheckContext, role: Role, *, trace: bool = False) -> ServiceRun:
    """The (memoised) run of the service in ``role``'s image; ``trace`` runs it with the import hook."""
    key = f"run:{role}:{trace}"
    if key not in ctx.cache:
        ctx.cache[key] = _run(ctx, role, trace=trace)
    run: ServiceRun = ctx.cache[key]
    return run


def _run(ctx: CheckContext, role: Role, *, trace: bool) -> ServiceRun:
    image = ctx.image(role)
    assert image is not None
    engine = ctx.engine
    target = ctx.target
    config = image_config(engine, image)
    spec = health_spec(run_spec(target.service, image, network=target.network), config)
    run = ServiceRun(role, image, run_line(spec), ports=exposed_ports(config))
    python = ctx.python(image)
    environment: dict[str, str] = {}
    if trace:
        if python is None:
            run.error = f"no python in the {role} image: nothing to trace"
            return run
        existing = target.service.environment.get("PYTHONPATH") or config_env(config).get("PYTHONPATH", "")
        environment = {
            "PYTHONPATH": f"{TRACE_ROOT}/hook" + (f":{existing}" if existing else ""),
            "DEADWEIGHT_TRACE_DIR": f"{TRACE_ROOT}/out",
        }
    container = create_service(engine, spec, label=ctx.label, environment=environment)
    try:
        if trace:
            put_files(container, TRACE_ROOT, {"hook/sitecustomize.py": source("tracehook")}, dirs=("out",))
        _watch(ctx, run, container, spec, python)
        # a job that ran and exited 0 serves nothing; exec into a stopped container is the engine's 409
        serving = run.ready and run.exit_code is None
        if serving and python is not None and (trace or "openapi" in ctx.cache.get("only", ())):
            try:
                run.http = http_probe(
                    container,
                    python,
                    "openapi",
                    {"ports": list(run.ports), "limit": OPENAPI_LIMIT},
                    timeout=OPENAPI_TIMEOUT,
                )
            except ValueError as exc:
                run.http_error = str(exc)
        if run.ready and run.exit_code is None:
            for _ in range(AFTER_READY_SAMPLES):  # the peak is often just after ready, at the first requests
                time.sleep(POLL_SECONDS)
                _sample(run, container)
        if trace:
            time.sleep(1.0)  # the hook rewrites its files every half second
            run.imported = _read_trace(container)
    finally:
        _finish(engine, run, container)
    return run


def _watch(ctx: CheckContext, run: ServiceRun, container: Any, spec: RunSpec, python: str | None) -> None:
    """Start ``container`` and poll it until ready, exited, or the start timeout; memory sampled throughout."""
    timeout = ctx.target.start_timeout
    has_health = spec.healthcheck is not None and next(iter(spec.healthcheck.get("test") or ["NONE"])) != "NONE"
    source_of_health = "compose healthcheck" if ctx.target.service.healthcheck else "image HEALTHCHECK"
    probe_ports = not has_health and bool(run.ports) and python is not None
    try:
        container.start()
    except Exception as exc:  # the SDK raises several types: the command is not in the image, ...
        run.how = f"could not start: {describe(exc)}"
        return
    started = time.monotonic()
    deadline = started + timeout
    health = ""
    while True:
        _sample(run, container)
        container.reload()
        state = container.attrs.get("State", {})
        elapsed = time.monotonic() - started
        if state.get("Status") in ("exited", "dead"):
            run.exit_code = int(state.get("ExitCode", -1))
            run.oom_killed = bool(state.get("OOMKilled"))
            if run.exit_code == 0 and not has_health and not run.ports:
                run.ready, run.readiness, run.startup_seconds = True, "exited-0", elapsed
                run.how = f"exited 0 after {elapsed:.1f}s (no healthcheck or exposed port to wait for)"
            else:
                oom = " (OOM-killed)" if run.oom_killed else ""
                run.how = f"exited with code {run.exit_code}{oom} after {elapsed:.1f}s"
            return
        health = str((state.get("Health") or {}).get("Status") or "")
        if has_health and health == "healthy":
            run.ready, run.readiness, run.startup_seconds = True, "healthcheck", elapsed
            run.how = f"healthy ({source_of_health}) after {elapsed:.1f}s"
            return
        if probe_ports and python is not None:
            try:
                answer = http_probe(container, python, "ports", {"ports": list(run.ports)}, timeout=10)
            except ValueError:
                answer = {}
            open_ports = answer.get("open") or []
            if open_ports:
                run.ready, run.readiness, run.startup_seconds = True, "port", time.monotonic() - started
                run.how = f"port {open_ports[0]} accepted a connection after {run.startup_seconds:.1f}s"
                return
        if not has_health and not probe_ports and elapsed >= min(SETTLE_SECONDS, timeout):
            run.ready, run.readiness, run.startup_seconds = True, "running", elapsed
            why = "no python to probe its port" if run.ports else "no healthcheck or exposed port"
            run.how = f"running for {elapsed:.0f}s without exiting ({why}: not proven to serve)"
            return
        if time.monotonic() >= deadline:
            waited = f"healthcheck still {health or 'starting'}" if has_health else f"port {list(run.ports)} closed"
            last = ((state.get("Health") or {}).get("Log") or [{}])[-1].get("Output", "") if has_health else ""
            run.how = f"not ready after {timeout:g}s: {waited}" + (f" ({last_line(last)})" if last else "")
            return
        time.sleep(POLL_SECONDS)


def _sample(run: ServiceRun, container: Any) -> None:
    try:
        try:
            stats = container.stats(stream=False, one_shot=True)
        except TypeError:  # an SDK without one_shot
            stats = container.stats(stream=False)
    except Exception:
        return
    if isinstance(stats, dict) and stats.get("memory_stats"):
        run.peak_bytes = max(run.peak_bytes, memory_in_use(stats))
        run.samples += 1


def _read_trace(container: Any) -> frozenset[str]:
    names: set[str] = set()
    for name, data in read_files(container, f"{TRACE_ROOT}/out").items():
        if name.endswith(".txt"):
            names.update(line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip())
    return frozenset(n for n in names if n not in TRACE_SKIP)


def _finish(engine: Engine, run: ServiceRun, container: Any) -> None:
    try:
        container.reload()
        state = container.attrs.get("State", {})
        run.oom_killed = run.oom_killed or bool(state.get("OOMKilled"))
        run.logs = tail((container.logs() or b"").decode("utf-8", "replace"))
    except Exception:
        pass
    finally:
        engine.remove(container)


def ports_text(ports: Sequence[int]) -> str:
    return ", ".join(str(p) for p in ports) or "none"

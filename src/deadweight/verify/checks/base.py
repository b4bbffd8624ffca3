"""What every check shares: the input, the images' interpreters (found once), rerun command lines, bounded
output, and the ``CheckResult`` builders, so each check module is only its own logic."""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from deadweight.engine.client import Engine
from deadweight.engine.oneshot import Completed, OneShot, run_once
from deadweight.errors import DeadweightError
from deadweight.model.project import Service
from deadweight.model.verification import CheckResult, CheckStatus

#: A result keeps the last this many bytes of what its command printed.
OUTPUT_CAP = 4096
#: A one-shot check command is killed after this many seconds.
COMMAND_TIMEOUT = 120.0

Role = Literal["before", "after"]


@dataclass(frozen=True)
class CheckInput:
    """One service's images and what the checks need to know about it (see ``run_checks``)."""

    service: Service
    after_image: str  # an image tag in the local engine
    before_image: str | None  # None: differential checks say "skip" with why
    modules: tuple[str, ...]  # dotted modules to import in the after image
    frameworks: Mapping[str, str]  # distribution -> expected build, e.g. {"torch": "cpu"}
    project_dir: Path
    network: str = "none"
    start_timeout: float = 60.0


def tail(text: str, cap: int = OUTPUT_CAP) -> str:
    """The last ``cap`` bytes of ``text`` (UTF-8), where a command's error usually is."""
    data = text.encode("utf-8", errors="replace")
    if len(data) <= cap:
        return text
    return "…" + data[-cap:].decode("utf-8", errors="ignore")


def docker_run_line(
    image: str,
    argv: Sequence[str],
    *,
    entrypoint: str | None = None,
    network: str = "none",
    environment: Mapping[str, str] | None = None,
) -> str:
    """``docker run --rm ...`` that reruns a check by hand, shell-quoted."""
    words = ["docker", "run", "--rm", "--network", network, *env_flags(environment or {})]
    if entrypoint is not None:
        words += ["--entrypoint", entrypoint]
    return shlex.join([*words, image, *argv])


_SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|KEY|CREDENTIAL|AUTH|PRIVATE", re.IGNORECASE)


def env_flags(environment: Mapping[str, str]) -> list[str]:
    """``-e NAME=VALUE`` per variable, but a secret-looking one as ``-e NAME`` (docker then takes the value from
    the caller's environment): a rerun line is printed in reports, a password must not be."""
    flags = []
    for key, value in environment.items():
        flags += ["-e", key if _SECRET_NAME.search(key) else f"{key}={value}"]
    return flags


def one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def last_line(text: str) -> str:
    """The last non-empty line (an exception's message at the end of a traceback)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return one_line(lines[-1]) if lines else ""


@dataclass
class CheckContext:
    """The state shared by the checks of one ``run_checks`` call (interpreters found, service runs)."""

    engine: Engine
    target: CheckInput
    _pythons: dict[str, str | None] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)  # per-call memo for checks (service runs, traces)

    def image(self, role: Role) -> str | None:
        return self.target.after_image if role == "after" else self.target.before_image

    @property
    def label(self) -> str:
        return self.target.service.name

    def python(self, image: str) -> str | None:
        """The interpreter a check should run in ``image``: a venv's (``VIRTUAL_ENV``) when the image names
        one, else ``python`` / ``python3`` as the image's PATH resolves them; None when there is none."""
        if image not in self._pythons:
            self._pythons[image] = self._find_python(image)
        return self._pythons[image]

    def _find_python(self, image: str) -> str | None:
        env = image_env(self.engine, image)
        candidates = []
        if env.get("VIRTUAL_ENV"):
            candidates.append(env["VIRTUAL_ENV"].rstrip("/") + "/bin/python")
        candidates += ["python", "python3"]
        for candidate in candidates:
            done = self.run(image, [candidate, "-c", "import sys; print(sys.executable)"], timeout=30)
            if done.exit_code == 0 and done.stdout.strip():
                return candidate
        return None

    def run(
        self,
        image: str,
        argv: Sequence[str],
        *,
        timeout: float = COMMAND_TIMEOUT,
        environment: Mapping[str, str] | None = None,
    ) -> Completed:
        """``argv`` (its first word as the entrypoint) to completion in ``image``, on the check's network."""
        spec = OneShot(
            image=image,
            entrypoint=[argv[0]],
            command=list(argv[1:]),
            environment=dict(environment or {}),
            network=self.target.network,
            mem_limit=self.target.service.memory_limit_bytes,
        )
        return run_once(self.engine, spec, timeout=timeout, label=self.label)

    def rerun(self, image: str, argv: Sequence[str], environment: Mapping[str, str] | None = None) -> str:
        return docker_run_line(
            image, argv[1:], entrypoint=argv[0], network=self.target.network, environment=environment
        )


def image_config(engine: Engine, image: str) -> dict[str, Any]:
    """The image's ``Config`` (Env, Entrypoint, Cmd, ExposedPorts, Healthcheck ...)."""
    config = engine.inspect_image(image).get("Config") or {}
    return dict(config) if isinstance(config, dict) else {}


def config_env(config: Mapping[str, Any]) -> dict[str, str]:
    """An image config's ``Env`` (``["K=V", ...]``) as a dict."""
    env: dict[str, str] = {}
    for item in config.get("Env") or []:
        key, _, value = str(item).partition("=")
        env[key] = value
    return env


def image_env(engine: Engine, image: str) -> dict[str, str]:
    return config_env(image_config(engine, image))


def result(
    check: str,
    name: str,
    status: CheckStatus,
    detail: str = "",
    *,
    command: str = "",
    output: str = "",
    image: Literal["before", "after", "both"] = "after",
    seconds: float = 0.0,
    data: Mapping[str, Any] | None = None,
) -> CheckResult:
    return CheckResult(
        check=check,
        name=name,
        status=status,
        detail=one_line(detail),
        command=command,
        output=tail(output),
        image=image,
        seconds=round(seconds, 3),
        data=dict(data or {}),
    )


def guarded(check: str, name: str, body: Callable[[], tuple[CheckResult, ...]]) -> tuple[CheckResult, ...]:
    """``body()``, with a deadweight error (engine gone, image missing) as one ``error`` result: a check that
    could not run says so and never stops the others."""
    started = time.monotonic()
    try:
        return body()
    except Exception as exc:
        if not (isinstance(exc, DeadweightError) or engine_failure(exc)):
            raise
        return (result(check, name, "error", str(exc) or type(exc).__name__, seconds=time.monotonic() - started),)


def engine_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is the docker SDK's (or its HTTP stack's) own: the engine failed mid-check (a container
    gone, a socket timeout), which is the check's ``error``, not a crash of the whole verification."""
    return type(exc).__module__.split(".")[0] in ("docker", "requests", "urllib3")


def no_python(check: str, name: str, image: str, role: Role) -> CheckResult:
    return result(check, name, "error", f"no python in the {role} image ({image}): cannot run the check", image=role)

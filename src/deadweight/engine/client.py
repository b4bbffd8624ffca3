"""``Engine``: the one client of the local Docker engine (docker SDK), for everything that needs one.

One place connects (lazily: the SDK pulls in requests & co, and reading archives or registries never pays
for it), and one place turns the SDK's exceptions into deadweight errors, one line each:

- building and running (``build``, ``run``, ``sample_memory``) fail with ``BuildError``;
- reading an image (``inspect_image``, ``history``, ``save``) fails with ``SourceError``, worded the way
  ``sources/daemon.py`` words them (``read_error``), so that source can move onto this client unchanged;
- ``has_image`` never fails: ``False`` on any doubt, quickly.

``audit --build`` and ``audit --run`` use it today; ``verify`` (build before/after, run checks) will.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from deadweight.errors import BuildError, SourceError

#: Poll ``docker stats`` this often while sampling memory, in seconds.
SAMPLE_INTERVAL = 0.5


def describe(exc: BaseException) -> str:
    """An SDK exception as one short line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def memory_in_use(stats: Mapping[str, Any]) -> int:
    """Memory in use as ``docker stats`` shows it: usage minus the page cache."""
    mem = stats.get("memory_stats")
    if not isinstance(mem, dict):
        return 0
    usage = int(mem.get("usage", 0) or 0)
    details = mem.get("stats") if isinstance(mem.get("stats"), dict) else {}
    assert isinstance(details, dict)
    cache = int(details.get("inactive_file", details.get("total_inactive_file", details.get("cache", 0))) or 0)
    return max(0, usage - cache)


@dataclass(frozen=True)
class RunSpec:
    """A container to start, detached: what compose would pass for a service."""

    image: str  # a name the local engine has (no ``docker:`` prefix)
    command: list[str] | str | None = None
    entrypoint: list[str] | str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    network: str | None = None
    mem_limit: int | None = None
    healthcheck: Mapping[str, Any] | None = None  # as the Engine API wants it; None keeps the image's own


#: Keep this much of a build's output (its end: where a failure shows).
BUILD_LOG_BYTES = 64 << 10


@dataclass(frozen=True)
class BuildOutput:
    """A finished build: the tag, the engine's image id, its output (the last ``BUILD_LOG_BYTES``) and wall time."""

    tag: str
    image_id: str
    log: str
    seconds: float


def _bounded_log(chunks: Iterable[Any]) -> str:
    """The build's stream/status/error lines as one text, its last ``BUILD_LOG_BYTES``."""
    parts: list[str] = []
    for chunk in chunks:
        if isinstance(chunk, dict):
            text = chunk.get("stream") or chunk.get("error") or chunk.get("status") or ""
            parts.append(str(text) if str(text).endswith("\n") else f"{text}\n" if text else "")
    text = "".join(parts)
    return text[-BUILD_LOG_BYTES:]


@dataclass(frozen=True)
class MemorySample:
    peak_bytes: int  # 0 when no sample said anything
    samples: int
    healthy: bool  # stopped because the healthcheck passed (else: exited or timed out)


class Engine:
    """A connection to the local engine, opened on first use; ``close()`` (or ``with``) releases it.

    ``timeout`` is the SDK's socket timeout in seconds (None: the SDK's default); ``client`` injects an
    SDK client (tests, or a caller that already has one, which then keeps owning it).
    """

    def __init__(self, *, timeout: float | None = None, client: Any = None) -> None:
        self._timeout = timeout
        self._client = client
        self._owns_client = client is None

    def __enter__(self) -> Engine:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_client and self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None

    def sdk(self) -> Any:
        """The docker SDK client, connecting on first use (raises the SDK's own errors)."""
        if self._client is None:
            import docker  # noqa: PLC0415 - heavy: only when the engine is really used

            if self._timeout is None:
                self._client = docker.from_env()
            else:
                self._client = docker.from_env(timeout=max(1, int(self._timeout)))
        return self._client

    def ping(self) -> None:
        """Make sure the engine answers; ``SourceError`` (exit 3, one line) when it does not."""
        try:
            self.sdk().ping()
        except Exception as exc:
            raise SourceError(f"cannot reach the Docker engine ({describe(exc)})") from None

    def remove_image(self, name: str) -> None:
        """Untag (and, when nothing else uses it, delete) image ``name``, quietly."""
        with contextlib.suppress(Exception):
            self.sdk().api.remove_image(name, noprune=False)

    # -- images -----------------------------------------------------------------------------

    def has_image(self, name: str) -> bool:
        """Whether the engine is reachable and has image ``name``; ``False`` on any doubt."""
        try:
            self.sdk().api.inspect_image(name)
        except Exception:
            return False
        return True

    def read_error(self, ref: str, what: str, exc: BaseException) -> SourceError:
        """The ``SourceError`` for a failed read of image ``ref`` during ``what`` (inspect, history, save)."""
        import docker.errors  # noqa: PLC0415 - see sdk()

        if isinstance(exc, docker.errors.ImageNotFound):
            return SourceError(f"{ref}: no such image in the local Docker engine")
        if isinstance(exc, docker.errors.APIError):
            explanation = exc.explanation or exc
            return SourceError(f"{ref}: Docker engine error during {what}: {describe(Exception(explanation))}")
        return SourceError(f"{ref}: cannot reach the Docker engine during {what} ({describe(exc)})")

    def inspect_image(self, name: str, *, ref: str | None = None) -> dict[str, Any]:
        """``docker image inspect NAME`` (the Engine API's JSON)."""
        try:
            result = self.sdk().api.inspect_image(name)
        except Exception as exc:
            raise self.read_error(ref or f"docker:{name}", "inspect", exc) from None
        return dict(result)

    def history(self, name: str, *, ref: str | None = None) -> list[dict[str, Any]]:
        """``docker image history NAME``, newest first as the API lists it."""
        try:
            return list(self.sdk().api.history(name) or [])
        except Exception as exc:
            raise self.read_error(ref or f"docker:{name}", "history", exc) from None

    def save(self, name: str, *, ref: str | None = None, chunk_size: int = 4 << 20) -> Iterator[bytes]:
        """``docker save NAME`` as a stream of chunks (a tar); errors while iterating are the SDK's own,
        for the reader to turn into ``read_error(ref, "save", exc)``."""
        try:
            chunks: Iterator[bytes] = self.sdk().api.get_image(name, chunk_size=chunk_size)
        except Exception as exc:
            raise self.read_error(ref or f"docker:{name}", "save", exc) from None
        return chunks

    def build(
        self,
        *,
        context_dir: str,
        dockerfile: str,
        tag: str,
        label: str,
        buildargs: Mapping[str, str] | None = None,
        target: str | None = None,
        network: str | None = None,
    ) -> str:
        """Build ``dockerfile`` (relative to ``context_dir``) as ``tag``; ``label`` names what is built in
        errors (a service). Returns the tag."""
        self.build_logged(context_dir=context_dir, dockerfile=dockerfile, tag=tag, label=label,
                          buildargs=buildargs, target=target, network=network)
        return tag

    def build_logged(
        self,
        *,
        context_dir: str,
        dockerfile: str,
        tag: str,
        label: str,
        buildargs: Mapping[str, str] | None = None,
        target: str | None = None,
        network: str | None = None,
        nocache: bool = False,
    ) -> BuildOutput:
        """``build`` that also says how it went: the build's output (bounded), its wall time and the image id.
        ``nocache``: no layer of an earlier build is reused (a cold build). A failed build raises
        ``BuildError`` whose message ends with the build's last output line."""
        import docker.errors  # noqa: PLC0415 - see sdk()

        start = time.monotonic()
        try:
            image, chunks = self.sdk().images.build(
                path=context_dir,
                dockerfile=dockerfile,
                tag=tag,
                buildargs=dict(buildargs) if buildargs else None,
                target=target,
                network_mode=network,
                nocache=nocache,
                rm=True,
                forcerm=True,
            )
        except docker.errors.BuildError as exc:
            lines = [str(c.get("stream") or c.get("error") or "").strip() for c in exc.build_log if isinstance(c, dict)]
            last = next((line for line in reversed(lines) if line), str(exc))
            raise BuildError(f"{label}: docker build failed: {last}", log=_bounded_log(exc.build_log)) from None
        except (docker.errors.DockerException, ValueError) as exc:
            raise BuildError(f"{label}: docker build failed: {str(exc).splitlines()[0]}") from None
        return BuildOutput(tag=tag, image_id=str(getattr(image, "id", "") or ""), log=_bounded_log(chunks),
                           seconds=time.monotonic() - start)

    # -- containers -------------------------------------------------------------------------

    def run(self, spec: RunSpec, *, label: str) -> Any:
        """Start ``spec`` detached and return the SDK's container; ``remove()`` it when done."""
        import docker.errors  # noqa: PLC0415 - see sdk()

        try:
            return self.sdk().containers.run(
                spec.image,
                command=spec.command or None,
                entrypoint=spec.entrypoint or None,
                detach=True,
                environment=dict(spec.environment),
                network_mode=spec.network,
                mem_limit=spec.mem_limit,
                healthcheck=dict(spec.healthcheck) if spec.healthcheck is not None else None,
            )
        except docker.errors.ImageNotFound:
            raise BuildError(f"{label}: the image is not in the local engine ({spec.image})") from None
        except docker.errors.DockerException as exc:
            raise BuildError(f"{label}: could not start the container: {str(exc).splitlines()[0]}") from None

    def sample_memory(
        self, container: Any, *, seconds: float, interval: float = SAMPLE_INTERVAL
    ) -> MemorySample:
        """Sample ``container``'s memory until its healthcheck passes, it exits, or ``seconds`` pass."""
        import docker.errors  # noqa: PLC0415 - see sdk()

        peak = samples = 0
        healthy = False
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                stats = container.stats(stream=False)
                if isinstance(stats, dict):
                    peak = max(peak, memory_in_use(stats))
                samples += 1
                container.reload()
            except docker.errors.DockerException:
                break
            state = container.attrs.get("State", {})
            if state.get("Status") == "exited":
                break
            if state.get("Health", {}).get("Status") == "healthy":
                healthy = True
                break
            time.sleep(interval)
        return MemorySample(peak, samples, healthy)

    def remove(self, container: Any) -> None:
        """Stop and remove ``container``, quietly (it may be gone already)."""
        import docker.errors  # noqa: PLC0415 - see sdk()

        with contextlib.suppress(docker.errors.DockerException):
            container.remove(force=True)


"""engine.Engine against a stand-in SDK client: the engine's errors become deadweight errors, memory is
sampled as ``docker stats`` shows it, and a container is always removed."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from deadweight.engine.client import Engine, RunSpec, memory_in_use
from deadweight.engine.memory import observe_memory, run_spec
from deadweight.errors import BuildError, SourceError
from deadweight.model.project import Service


class FakeImages:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls: list[dict[str, Any]] = []

    def build(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error


class FakeContainer:
    """Reports the given (usage, inactive_file, status, health) states one ``stats`` call at a time."""

    def __init__(self, states: list[tuple[int, int, str, str]]) -> None:
        self.states = states
        self.at = -1
        self.attrs: dict[str, Any] = {}
        self.removed = False

    def stats(self, *, stream: bool) -> dict[str, Any]:
        assert stream is False
        self.at = min(self.at + 1, len(self.states) - 1)
        usage, inactive, _, _ = self.states[self.at]
        return {"memory_stats": {"usage": usage, "stats": {"inactive_file": inactive}}}

    def reload(self) -> None:
        _, _, status, health = self.states[self.at]
        self.attrs = {"State": {"Status": status, "Health": {"Status": health}}}

    def remove(self, *, force: bool) -> None:
        self.removed = force


class FakeContainers:
    def __init__(self, container: FakeContainer | None = None, error: Exception | None = None) -> None:
        self.container = container
        self.error = error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def run(self, image: str, **kwargs: Any) -> FakeContainer:
        self.calls.append((image, kwargs))
        if self.error is not None:
            raise self.error
        assert self.container is not None
        return self.container


class FakeApi:
    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    def inspect_image(self, name: str) -> dict[str, Any]:
        if self.error is not None:
            raise self.error
        return {"Id": f"sha256:{name}"}


class FakeClient:
    def __init__(self, **parts: Any) -> None:
        self.images = parts.get("images", FakeImages())
        self.containers = parts.get("containers", FakeContainers())
        self.api = parts.get("api", FakeApi())
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_build_failure_names_the_last_line_of_the_build_log() -> None:
    log = [{"stream": "Step 1/2 : FROM python:3.11-slim"}, {"stream": "\n"}, {"error": "pip: no such package"}]
    images = FakeImages(docker.errors.BuildError("failed", iter(log)))
    engine = Engine(client=FakeClient(images=images))
    with pytest.raises(BuildError) as err:
        engine.build(context_dir="/ctx", dockerfile="Dockerfile", tag="t:1", label="api", buildargs={"A": "1"})
    assert str(err.value) == "api: docker build failed: pip: no such package"
    assert images.calls[0]["buildargs"] == {"A": "1"} and images.calls[0]["rm"] is True


def test_engine_api_errors_become_build_errors_on_one_line() -> None:
    images = FakeImages(docker.errors.DockerException("Error while fetching server API version\nmore"))
    with pytest.raises(BuildError) as err:
        Engine(client=FakeClient(images=images)).build(context_dir="/c", dockerfile="D", tag="t", label="web")
    assert str(err.value) == "web: docker build failed: Error while fetching server API version"


def test_run_of_a_missing_image_is_a_build_error() -> None:
    containers = FakeContainers(error=docker.errors.ImageNotFound("nope"))
    with pytest.raises(BuildError) as err:
        Engine(client=FakeClient(containers=containers)).run(RunSpec("app:1"), label="api")
    assert str(err.value) == "api: the image is not in the local engine (app:1)"


def test_read_errors_are_source_errors_worded_like_the_daemon_source() -> None:
    engine = Engine(client=FakeClient(api=FakeApi(docker.errors.ImageNotFound("gone"))))
    with pytest.raises(SourceError) as err:
        engine.inspect_image("app:1")
    assert str(err.value) == "docker:app:1: no such image in the local Docker engine"
    assert engine.has_image("app:1") is False
    assert Engine(client=FakeClient()).has_image("app:1") is True


def test_memory_in_use_leaves_out_the_page_cache() -> None:
    assert memory_in_use({"memory_stats": {"usage": 900, "stats": {"inactive_file": 300}}}) == 600
    assert memory_in_use({"memory_stats": {"usage": 900, "stats": {"total_inactive_file": 100}}}) == 800
    assert memory_in_use({"memory_stats": {"usage": 100, "stats": {"cache": 400}}}) == 0
    assert memory_in_use({}) == 0


def test_observe_memory_stops_when_healthy_and_removes_the_container() -> None:
    container = FakeContainer([(500, 100, "running", "starting"), (2_000, 500, "running", "starting"),
                               (1_200, 0, "running", "healthy"), (9_999, 0, "running", "healthy")])
    containers = FakeContainers(container)
    service = Service(name="api", context_dir=None, dockerfile=None, image=None, command=("python", "-m", "app"),
                      environment={"A": "1"}, memory_limit_bytes=64 << 20, healthcheck="curl -f localhost")
    engine = Engine(client=FakeClient(containers=containers))
    peak, how = observe_memory(engine, service, "docker:app:1", seconds=30, network="none")
    assert peak == 1_500  # the second sample: 2000 - 500; the run stopped at the healthy third one
    assert how == "docker stats: 3 samples until healthy, network none"
    assert container.removed
    image, kwargs = containers.calls[0]
    assert image == "app:1" and kwargs["command"] == ["python", "-m", "app"] and kwargs["mem_limit"] == 64 << 20
    assert kwargs["healthcheck"]["test"] == ["CMD-SHELL", "curl -f localhost"] and kwargs["network_mode"] == "none"


def test_run_spec_keeps_the_images_own_command_when_compose_sets_none() -> None:
    spec = run_spec(Service(name="w", context_dir=None, dockerfile=None, image=None), "w:1", network="bridge")
    assert spec.command is None and spec.entrypoint is None and spec.healthcheck is None


def test_an_injected_client_stays_open() -> None:
    client = FakeClient()
    with Engine(client=client) as engine:
        engine.has_image("x")
    assert client.closed is False

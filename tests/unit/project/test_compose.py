"""Compose: build forms, env, memory, GPU requests, interpolation, extends, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from deadweight.errors import ParseError
from deadweight.project.compose import interpolate, parse_compose_file, parse_memory, read_dotenv

COMPOSE = """\
# the stack
services:
  api:
    build:
      context: ./api
      dockerfile: docker/Dockerfile.prod
      target: runtime
      args:
        - PY=3.11
        - EMPTY
    image: ${REGISTRY:-registry.local}/org/api:${TAG:-latest}
    command: uvicorn app:app --port $${PORT}
    entrypoint: ["/tini", "--"]
    environment:
      LOG_LEVEL: info
      NVIDIA_VISIBLE_DEVICES: none
    env_file: api.env
    mem_limit: 512m
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost"]
    profiles: [web]
  worker:
    extends: api
    build: ./worker
    command: ["celery", "worker"]
    environment:
      - QUEUE=default
    deploy:
      resources:
        limits:
          memory: 1.5GiB
        reservations:
          devices:
            - driver: nvidia
              count: 1
              capabilities: [gpu]
  trainer:
    image: trainer
    runtime: nvidia
    gpus: all
  viz:
    image: viz
    environment:
      - NVIDIA_VISIBLE_DEVICES=0,1
  bad:
    build: [1, 2]
"""


@pytest.fixture
def compose(tmp_path: Path) -> Path:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / ".env").write_text("# dotenv\nTAG=1.2\nexport REGISTRY='ghcr.io'\n")
    (tmp_path / "api.env").write_text("FROM_FILE=yes\nLOG_LEVEL=debug\n")
    return tmp_path / "compose.yaml"


def test_services_build_image_and_commands(compose: Path) -> None:
    parsed = parse_compose_file(compose, environ={"REGISTRY": "env.example"})
    by = {s.name: s for s in parsed.services}
    assert list(by) == ["api", "worker", "trainer", "viz", "bad"]
    api = by["api"]
    root = compose.parent
    assert api.line == 3
    assert api.build_context == str(root / "api")
    assert api.dockerfile == str(root / "api" / "docker" / "Dockerfile.prod")
    assert api.target == "runtime"
    assert api.build_args == {"PY": "3.11", "EMPTY": ""}
    # the process environment wins over .env; .env fills the rest
    assert api.image == "env.example/org/api:1.2"
    assert api.command == "uvicorn app:app --port ${PORT}"  # $$ is a literal dollar
    assert api.entrypoint == ("/tini", "--")
    assert api.environment == {"FROM_FILE": "yes", "LOG_LEVEL": "info", "NVIDIA_VISIBLE_DEVICES": "none"}
    assert api.env_files == [str(root / "api.env")]
    assert api.memory_limit_bytes == 512 * 1024**2
    assert api.memory_evidence == f"{compose}:18"
    assert api.healthcheck == ("CMD", "curl", "-f", "http://localhost")
    assert api.profiles == ("web",)
    assert not api.gpu.requested  # NVIDIA_VISIBLE_DEVICES=none is not a request


def test_extends_deploy_gpu_and_memory(compose: Path) -> None:
    by = {s.name: s for s in parse_compose_file(compose, environ={}).services}
    worker = by["worker"]
    assert worker.build_context == str(compose.parent / "worker")
    # build merges key by key: the base's dockerfile and target are inherited
    assert worker.dockerfile == str(compose.parent / "worker" / "docker" / "Dockerfile.prod")
    assert worker.target == "runtime"
    assert worker.image == "ghcr.io/org/api:1.2"  # inherited through extends, .env interpolated
    assert worker.command == ("celery", "worker")
    assert worker.environment["QUEUE"] == "default"
    assert worker.environment["LOG_LEVEL"] == "info"  # maps merge with the base service
    assert worker.memory_limit_bytes == int(1.5 * 1024**3)  # deploy limit wins over mem_limit
    assert worker.memory_evidence == f"{compose}:31"
    assert worker.gpu.requested
    assert worker.gpu.evidence == (f"{compose}:33: deploy.resources.reservations.devices requests a GPU",)
    trainer = by["trainer"]
    assert trainer.gpu.requested and len(trainer.gpu.evidence) == 2
    assert trainer.gpu.evidence[0] == f"{compose}:39: runtime: nvidia"
    assert by["viz"].gpu.requested and "NVIDIA_VISIBLE_DEVICES=0,1" in by["viz"].gpu.evidence[0]
    assert by["bad"].error == f"{compose}:45: build must be a string or a mapping"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("512m", 512 * 1024**2),
        ("1g", 1024**3),
        ("1G", 1024**3),
        ("1.5GiB", int(1.5 * 1024**3)),
        ("256MB", 256 * 1024**2),
        ("100k", 100 * 1024),
        ("1024", 1024),
        (2048, 2048),
        ("1 gb", 1024**3),
        ("lots", None),
        (True, None),
        ("-1m", None),
    ],
)
def test_parse_memory(value: object, expected: int | None) -> None:
    assert parse_memory(value) == expected


def test_interpolation_forms() -> None:
    values = {"SET": "v", "EMPTY": ""}
    assert interpolate("${SET} $SET ${UNSET} $UNSET", values) == "v v  "
    assert interpolate("${UNSET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d}", values) == "d d  d"
    assert interpolate("${SET:+r} ${EMPTY:+r} ${EMPTY+r} ${UNSET+r}", values) == "r  r "
    assert interpolate("${UNSET:-${SET}x}", values) == "vx"
    assert interpolate("$$SET costs $$5", values) == "$SET costs $5"


def test_interpolation_keeps_an_unclosed_brace_as_written() -> None:
    assert interpolate("x ${SET y ${A:-{b}} $SET", {"SET": "v"}) == "x ${SET y ${A:-{b}} $SET"
    assert interpolate("${A:-{b}}-${SET}", {"SET": "v"}) == "{b}-v"


def test_dotenv_parsing(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text('A=1\n# c\nexport B = "two words"\nC=x # trailing\nD=\'lit # not comment\'\n\nE\n')
    assert read_dotenv(path) == {"A": "1", "B": "two words", "C": "x", "D": "lit # not comment", "E": ""}


def test_yaml_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "docker-compose.yml"
    path.write_text("services:\n  api:\n    image: [unclosed\n    build: .\n")
    with pytest.raises(ParseError, match=rf"^{path}:\d+: invalid YAML"):
        parse_compose_file(path, environ={})


def test_extends_unknown_service_is_a_per_service_error(tmp_path: Path) -> None:
    path = tmp_path / "compose.yml"
    path.write_text("services:\n  a:\n    extends: {service: ghost}\n  b:\n    image: b\n")
    by = {s.name: s for s in parse_compose_file(path, environ={}).services}
    assert by["a"].error is not None and "ghost" in by["a"].error
    assert by["b"].error is None and by["b"].image == "b"

"""Helpers for the end-to-end tests: the lab's settings, the example fleet's builds and their cache.

Why a module of its own: the fixtures in conftest.py stay short, and a developer's shell can reuse the same
build logic (`python tests/e2e/lab.py build` builds the fleet the way the tests do).

The fleet is expensive to build (PyPI downloads, apt), so each image carries a label with a hash of all
its build depends on: the files of its context, its build arguments (with the lab's changing port numbers
taken out), the stand-in wheels it installs, and the base image's id. An image is reused only when that label
matches.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
LAB_SCRIPT = REPO / "scripts" / "lab"
EXAMPLES = REPO / "examples"
COMPOSE_FILE = EXAMPLES / "docker-compose.yml"
CONTEXT_LABEL = "org.deadweight.example.context-hash"
BASE_IMAGE = "python:3.11-slim"
LAB_KEYS = ("DEADWEIGHT_LAB_REGISTRY", "DEADWEIGHT_LAB_REGISTRY_AUTH")
# Services whose requirements name torch: in the lab they install the stand-in CUDA wheels, not PyPI's 3 GB.
STANDIN_SERVICES = frozenset({"torch-cpu-api"})
SKIP_DIRS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache"})


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def parse_exports(text: str) -> dict[str, str]:
    """Read `export KEY='value'` lines as `scripts/lab env` prints them."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("export ") or "=" not in line:
            continue
        key, _, value = line[len("export "):].partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def lab_env() -> dict[str, str] | None:
    """The lab's settings: from the environment when scripts/test exported them, else `scripts/lab env`."""
    env = {k: v for k, v in os.environ.items() if k.startswith("DEADWEIGHT_LAB_")}
    if all(k in env for k in LAB_KEYS):
        return env
    try:
        res = subprocess.run([sys.executable, str(LAB_SCRIPT), "env"], capture_output=True, text=True,
                             timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if res.returncode != 0:
        return None
    parsed = parse_exports(res.stdout)
    return parsed if all(k in parsed for k in LAB_KEYS) else None


@dataclass(frozen=True)
class ExampleService:
    """One service of examples/docker-compose.yml that has a build context."""

    name: str
    context: Path
    image: str
    dockerfile: str = "Dockerfile"
    buildargs: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RegistryAuth:
    """The htpasswd-protected registry: host:port and the credentials scripts/lab made for it."""

    host: str
    user: str
    password: str


@dataclass(frozen=True)
class ExampleImage:
    """One built service of examples/docker-compose.yml."""

    service: str
    tag: str
    id: str
    context: Path


def example_services(compose_file: Path = COMPOSE_FILE) -> list[ExampleService]:
    from ruamel.yaml import YAML

    data = YAML(typ="safe").load(compose_file.read_text())
    out = []
    for name, svc in sorted(data["services"].items()):
        build = svc.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        args = build.get("args") or {}
        if isinstance(args, list):
            args = dict(str(a).split("=", 1) for a in args)
        out.append(ExampleService(
            name=name,
            context=(compose_file.parent / build["context"]).resolve(),
            image=svc.get("image") or f"deadweight-example/{name}:latest",
            dockerfile=build.get("dockerfile", "Dockerfile"),
            buildargs={str(k): str(v) for k, v in args.items()},
        ))
    return out


def lab_buildargs(service: ExampleService, env: Mapping[str, str]) -> dict[str, str]:
    """Build arguments for the lab: torch services get the stand-in index and the constraint holding torch."""
    args = dict(service.buildargs)
    index = env.get("DEADWEIGHT_LAB_STANDIN_INDEX")
    if service.name in STANDIN_SERVICES:
        if not index:
            raise RuntimeError(f"{service.name} needs DEADWEIGHT_LAB_STANDIN_INDEX (scripts/lab up)")
        args["PIP_EXTRA_INDEX_URL"] = index
        args["PIP_CONSTRAINT"] = f"{index}constraints.txt"
    return args


def iter_files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            if not name.endswith(".pyc"):
                yield Path(dirpath) / name


def tree_digest(root: Path, h: Any) -> None:
    for path in iter_files(root):
        rel = path.relative_to(root).as_posix()
        h.update(f"{rel}\0{path.lstat().st_mode:o}\0".encode())
        h.update(os.readlink(path).encode() if path.is_symlink() else path.read_bytes())
        h.update(b"\0")


def context_hash(service: ExampleService, buildargs: Mapping[str, str], env: Mapping[str, str],
                 base_id: str) -> str:
    """A hash of everything the build depends on; the lab's port numbers are replaced by what they serve."""
    h = hashlib.sha256(b"deadweight-example/1\0")
    h.update(f"{service.dockerfile}\0{base_id}\0".encode())
    tree_digest(service.context, h)
    index = env.get("DEADWEIGHT_LAB_STANDIN_INDEX", "")
    for key in sorted(buildargs):
        value = buildargs[key]
        if index and index in value:
            value = value.replace(index, "<standin-index>/")
        h.update(f"arg {key}={value}\0".encode())
    if index and any(index in v for v in buildargs.values()):
        lab_dir = env.get("DEADWEIGHT_LAB_DIR")
        if lab_dir and (Path(lab_dir) / "index" / "standin").is_dir():
            tree_digest(Path(lab_dir) / "index" / "standin", h)
    return h.hexdigest()[:32]


def build_example(client: Any, service: ExampleService, env: Mapping[str, str], *, log: Any = None) -> Any:
    """The service's image, built with the lab's arguments unless one with the same context hash exists."""
    import docker.errors

    base_id = client.images.get(BASE_IMAGE).id
    args = lab_buildargs(service, env)
    want = context_hash(service, args, env, base_id)
    try:
        image = client.images.get(service.image)
        if (image.labels or {}).get(CONTEXT_LABEL) == want:
            return image
    except docker.errors.ImageNotFound:
        pass
    if log:
        log(f"building {service.image} from {service.context.relative_to(REPO)}")
    image, _ = client.images.build(
        path=str(service.context), dockerfile=service.dockerfile, tag=service.image, buildargs=args,
        labels={CONTEXT_LABEL: want}, network_mode="host", rm=True, forcerm=True, pull=False,
    )
    return image


def docker_save(client: Any, tag: str, dest: Path) -> Path:
    """`docker save` of one image into dest, streamed."""
    image = client.images.get(tag)
    with dest.open("wb") as f:
        for chunk in image.save(named=tag if tag in image.tags else True):
            f.write(chunk)
    return dest


def main(argv: list[str]) -> int:
    """`python tests/e2e/lab.py build`: build the example fleet as the e2e tests do."""
    if argv != ["build"]:
        print("usage: lab.py build", file=sys.stderr)
        return 2
    import docker

    env = lab_env()
    if env is None:
        print("the lab is not up: scripts/lab up", file=sys.stderr)
        return 1
    client = docker.from_env(timeout=900)
    for svc in example_services():
        image = build_example(client, svc, env, log=lambda m: print(m, file=sys.stderr))
        print(f"{svc.name}\t{svc.image}\t{image.id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Real inputs for rule tests: tiny images written as ``docker save`` archives and read back through the
whole pipeline (source -> analyze_image -> build_inventory), exactly as the audit builds a ``RuleContext``.

Distributions get real ``METADATA``/``RECORD``/``INSTALLER`` files (RECORD rows hash the real contents);
Debian packages get a real ``var/lib/dpkg/status`` paragraph and ``info/<name>.list``. Payload files are
zero-filled bytes of the asked size, so sizes in the tree are the sizes written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deadweight.config import Config
from deadweight.inventory.build import build_inventory
from deadweight.inventory.capture import for_config
from deadweight.model.analysis import ImageAnalysis
from deadweight.model.inventory import Inventory
from deadweight.model.project import Service
from deadweight.pipeline.analyze import analyze_image
from deadweight.rules.base import RuleContext
from deadweight.sources.resolve import open_source
from imagebuilder import F, ImageSpec, write_docker_archive
from tests.support.wheels import metadata, record_hash

SITE = "usr/local/lib/python3.11/site-packages"

Payload = bytes | int


def payload(value: Payload) -> bytes:
    return value if isinstance(value, bytes) else b"\0" * value


def dist_info_name(name: str, version: str) -> str:
    return f"{name.replace('-', '_')}-{version}.dist-info"


def dist(
    name: str,
    version: str,
    files: Mapping[str, Payload],
    *,
    requires: Sequence[str] = (),
    requested: bool = True,
    env: str = SITE,
) -> list[F]:
    """Layer entries of a pip-installed distribution: its files plus a dist-info whose RECORD lists them all."""
    info = dist_info_name(name, version)
    members = {rel: payload(value) for rel, value in files.items()}
    members[f"{info}/METADATA"] = metadata(name, version, requires).encode()
    members[f"{info}/INSTALLER"] = b"pip\n"
    if requested:
        members[f"{info}/REQUESTED"] = b""
    rows = [f"{rel},{record_hash(data)},{len(data)}" for rel, data in members.items()]
    rows.append(f"{info}/RECORD,,")
    members[f"{info}/RECORD"] = ("\n".join(rows) + "\n").encode()
    return [F(f"{env}/{rel}", data) for rel, data in members.items()]


@dataclass
class Deb:
    """A Debian package: name, version and the files it installs (image paths without a leading ``/``)."""

    name: str
    version: str
    files: Mapping[str, Payload] = field(default_factory=dict)


def dpkg(packages: Sequence[Deb]) -> list[F]:
    """Layer entries for installed Debian packages: their files, ``status`` and ``info/<name>.list``."""
    out: list[F] = []
    paragraphs = []
    for pkg in packages:
        paragraphs.append(
            f"Package: {pkg.name}\nStatus: install ok installed\nArchitecture: amd64\nVersion: {pkg.version}\n"
        )
        dirs = sorted({"/" + p.rpartition("/")[0] for p in pkg.files})
        listed = dirs + ["/" + p for p in pkg.files]
        out.append(F(f"var/lib/dpkg/info/{pkg.name}.list", ("\n".join(listed) + "\n").encode()))
        out += [F(path, payload(value)) for path, value in pkg.files.items()]
    out.append(F("var/lib/dpkg/status", "\n".join(paragraphs).encode()))
    return out


def analyze(
    tmp_path: Path,
    layers: Sequence[Sequence[F]],
    *,
    created_by: Sequence[str] | None = None,
    workdir: str = "",
    name: str = "image.tar",
) -> tuple[ImageAnalysis, Inventory]:
    """Write ``layers`` as a docker-archive, read it back like the CLI does, and inventory it."""
    history: list[dict[str, Any]] | None = None
    if created_by is not None:
        history = [{"created_by": step, "created": "2024-01-01T00:00:00Z"} for step in created_by]
    spec = ImageSpec(layers=[list(layer) for layer in layers], history=history, workdir=workdir)
    path = tmp_path / name
    write_docker_archive(spec, path)
    source = open_source(f"docker-archive:{path}")
    analysis = analyze_image(source, want=for_config(source.config()))
    return analysis, build_inventory(analysis.tree, analysis.image_config)


def service(name: str = "api", **changes: Any) -> Service:
    """A service with no project files behind it (tests that need files use ``load_project``)."""
    return Service(name=name, context_dir=None, dockerfile=None, image=None, **changes)


def context(
    svc: Service | None = None,
    analysis: ImageAnalysis | None = None,
    inventory: Inventory | None = None,
    config: Config | None = None,
    **changes: Any,
) -> RuleContext:
    return RuleContext(
        service=svc or service(),
        config=config or Config(),
        analysis=analysis,
        inventory=inventory,
        **changes,
    )


def tree_bytes(analysis: ImageAnalysis, paths: Sequence[str]) -> int:
    """Sum of the final tree's sizes of ``paths`` (each must be visible)."""
    total = 0
    for path in paths:
        node = analysis.tree.get(path)
        assert node is not None, path
        total += node.size
    return total


PIP_DOCKERFILE = "FROM python:3.11-slim\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt\n"


def requirements_service(root: Path, requirements: str, dockerfile: str = PIP_DOCKERFILE) -> Service:
    """Load the service of a directory holding ``requirements.txt`` and a Dockerfile that installs it."""
    from deadweight.project.loader import load_project

    root.mkdir(parents=True, exist_ok=True)
    (root / "requirements.txt").write_text(requirements)
    (root / "Dockerfile").write_text(dockerfile)
    return load_project(str(root), environ={}).services[0]

"""Build a service the way compose would (its context, Dockerfile, build args and target), from the user's files
or a scratch copy, timed cold (no cache) and warm (the same build again, every layer a cache hit), logs kept.

Builds go through the docker SDK, which speaks the engine's classic builder API; BuildKit needs a client-side
session the SDK does not implement, so every record says ``builder="classic"`` (docs/verify.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from deadweight.engine.client import BuildOutput, Engine
from deadweight.errors import BuildError
from deadweight.model.project import Service
from deadweight.model.verification import BuildRecord
from deadweight.verify.scratch import Scratch

__all__ = ["BuildRequest", "build_once", "build_timed", "request_for", "tag_for"]


@dataclass(frozen=True)
class BuildRequest:
    """Everything ``docker build`` is given for one service."""

    service: str
    context_dir: Path
    dockerfile: str  # relative to the context, as the Engine API wants it
    buildargs: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    network: str | None = None


def request_for(service: Service, *, network: str | None = None, scratch: Scratch | None = None) -> BuildRequest:
    """The build of ``service``; with ``scratch`` (a ``verify.scratch.Scratch``), from the copy instead of the
    user's files. ``BuildError`` when the service has nothing to build."""
    if not service.context_dir or not service.dockerfile_path:
        raise BuildError(f"{service.name}: no build context or Dockerfile to build (an image-only service)")
    context = Path(service.context_dir).resolve()
    dockerfile = Path(service.dockerfile_path).resolve()
    try:
        relative = str(dockerfile.relative_to(context))
    except ValueError:
        raise BuildError(
            f"{service.name}: {service.dockerfile_path} is outside the build context {service.context_dir}"
        ) from None
    if scratch is not None:
        context = scratch.path(context)
    return BuildRequest(
        service=service.name,
        context_dir=context,
        dockerfile=relative,
        buildargs=dict(service.build_args),
        target=service.build_target,
        network=network,
    )


def tag_for(prefix: str, service: str, what: str) -> str:
    """A local tag: ``PREFIX/SERVICE:WHAT`` with the characters a tag allows."""
    name = re.sub(r"[^a-z0-9_.-]", "-", service.lower()).strip(".-") or "service"
    label = re.sub(r"[^A-Za-z0-9_.-]", "-", what)[:120] or "latest"
    return f"{prefix}/{name}:{label}"


def build_once(engine: Engine, request: BuildRequest, tag: str, *, nocache: bool = False) -> BuildOutput:
    return engine.build_logged(
        context_dir=str(request.context_dir),
        dockerfile=request.dockerfile,
        tag=tag,
        label=request.service,
        buildargs=request.buildargs,
        target=request.target,
        network=request.network,
        nocache=nocache,
    )


def build_timed(engine: Engine, request: BuildRequest, tag: str, *, cold: bool = True) -> BuildRecord:
    """Build ``request`` as ``tag``: cold (no cache) when ``cold``, then once more unchanged for the warm time.
    The record keeps the first build's log (the one that did the work)."""
    first = build_once(engine, request, tag, nocache=cold)
    warm = build_once(engine, request, tag)
    return BuildRecord(
        image=tag,
        cold_seconds=first.seconds if cold else None,
        warm_seconds=warm.seconds,
        log=first.log,
        builder="classic",
    )

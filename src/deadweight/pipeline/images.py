"""Which image to audit for a service: given on the command line, found in the local engine by its compose
name, or built with ``--build``. No image at all means a static audit."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from deadweight.engine.client import Engine
from deadweight.errors import BuildError, DeadweightError, UsageError
from deadweight.model.project import Service
from deadweight.sources.base import SourceOptions
from deadweight.sources.resolve import open_source

#: How long to wait for the engine when asking whether it has a service's image, in seconds.
PROBE_TIMEOUT = 5.0


def choose_images(images: str | Sequence[str] | Mapping[str, str], service_names: list[str]) -> dict[str, str]:
    """The library's ``images=`` argument (one reference, ``SERVICE=REF`` strings, or a mapping) as a
    service -> reference mapping."""
    if isinstance(images, Mapping):
        return dict(images)
    return parse_image_options((images,) if isinstance(images, str) else tuple(images), service_names)


def parse_image_options(values: tuple[str, ...], service_names: list[str]) -> dict[str, str]:
    """``--image REF`` (only with one service) or ``--image SERVICE=REF`` (repeatable)."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, ref = value.partition("=")
        if sep and name in service_names:
            out[name] = ref
        elif sep and "/" not in name and ":" not in name:
            raise UsageError(f"--image {value}: no service named {name!r} (services: {', '.join(service_names)})")
        elif len(service_names) == 1:
            out[service_names[0]] = value
        else:
            raise UsageError(f"--image {value}: several services; write --image SERVICE=REF")
    return out


def compose_default_names(service: Service) -> list[str]:
    """Names compose v2 and v1 give images they build: ``<project>-<service>`` and ``<project>_<service>``."""
    if not service.compose_file:
        return []
    project = re.sub(r"[^a-z0-9_-]", "", Path(service.compose_file).resolve().parent.name.lower())
    return [f"{project}-{service.name}", f"{project}_{service.name}"]


def find_image(service: Service, explicit: Mapping[str, str]) -> str | None:
    """The image reference to audit, or None for a static audit."""
    if service.name in explicit:
        return explicit[service.name]
    candidates = [c for c in ([service.image] if service.image else []) + compose_default_names(service) if c]
    if not candidates:
        return None
    with Engine(timeout=PROBE_TIMEOUT) as probe:
        for candidate in candidates:
            if probe.has_image(candidate):
                return f"docker:{candidate}"
    return None


def image_only(service: Service) -> bool:
    """A compose service with ``image:`` and nothing to build (a database, a cache, a published app)."""
    return bool(service.image) and not service.context_dir and not service.dockerfile_path


def registry_image(service: Service, *, offline: bool, platform: str | None = None) -> tuple[str | None, str]:
    """``registry:IMAGE`` for an ``image:``-only service the local engine lacks, when the registry answers
    with its manifest and config (read now, so that "not there" is told apart from a failed audit); else
    None and why the service is not audited. Offline, no registry is asked."""
    image = service.image or ""
    if offline:
        return None, f"image {image} is not in the local engine, and --offline asks no registry"
    ref = f"registry:{image}"
    try:
        with open_source(ref, SourceOptions(platform=platform)) as source:
            source.config()
    except DeadweightError as exc:
        return None, f"image {image} is neither in the local engine nor readable from its registry ({exc})"
    return ref, ""


def build_image(service: Service, engine: Engine, *, network: str | None = None) -> str:
    """Build the service with the local engine and return a ``docker:`` reference to the result."""
    if not service.context_dir or not service.dockerfile_path:
        raise BuildError(f"{service.name}: no build context or Dockerfile to build")
    tag = f"deadweight-audit/{re.sub(r'[^a-z0-9_.-]', '-', service.name.lower())}:latest"
    # a Dockerfile outside its context (``--dockerfile ../docker/Dockerfile``, compose's build.dockerfile) goes
    # by its absolute path: the SDK sends it inside the context's tar, as ``docker build -f`` does
    path = Path(service.dockerfile_path).resolve()
    context = Path(service.context_dir).resolve()
    dockerfile = str(path.relative_to(context)) if path.is_relative_to(context) else str(path)
    engine.build(context_dir=service.context_dir, dockerfile=dockerfile, tag=tag, label=service.name,
                 buildargs=service.build_args, target=service.build_target, network=network)
    return f"docker:{tag}"

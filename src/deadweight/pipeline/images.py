"""Which image to audit for a service: given on the command line, found in the local engine by its compose
name, or built with ``--build``. No image at all means a static audit."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from deadweight.engine.client import Engine
from deadweight.errors import BuildError, UsageError
from deadweight.model.project import Service

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


def build_image(service: Service, engine: Engine, *, network: str | None = None) -> str:
    """Build the service with the local engine and return a ``docker:`` reference to the result."""
    if not service.context_dir or not service.dockerfile_path:
        raise BuildError(f"{service.name}: no build context or Dockerfile to build")
    tag = f"deadweight-audit/{re.sub(r'[^a-z0-9_.-]', '-', service.name.lower())}:latest"
    try:
        dockerfile = str(Path(service.dockerfile_path).resolve().relative_to(Path(service.context_dir).resolve()))
    except ValueError:
        raise BuildError(f"{service.name}: docker build failed: {service.dockerfile_path} is outside the build "
                         f"context {service.context_dir}") from None
    engine.build(context_dir=service.context_dir, dockerfile=dockerfile, tag=tag, label=service.name,
                 buildargs=service.build_args, target=service.build_target, network=network)
    return f"docker:{tag}"

"""Which Dockerfile stages make the image that ships, and the install commands whose results ship with it.

Shared by the rules that judge the final image (base image, toolchain, caches, apt recommends) and by the
audit's static estimate; pure functions over the parsed ``Service``.
"""

from __future__ import annotations

from deadweight.errors import ParseError
from deadweight.model.project import InstallCommand, Service, Stage


def final_chain(service: Service) -> tuple[Stage, ...]:
    """The final stage and the stages it is built FROM, nearest first; the last one names the base image.
    Empty without a Dockerfile."""
    dockerfile = service.dockerfile
    if dockerfile is None or not dockerfile.stages:
        return ()
    return dockerfile.chain(dockerfile.final_stage(service.build_target))


def shipped_installs(service: Service) -> list[InstallCommand]:
    """Install commands whose results ship: those of the final stage and the stages it is built FROM.

    ``Service.installs`` also holds the stages the final one copies from; what a builder stage installs
    (a compiler, a pip cache) stays in the builder, which is exactly the multi-stage fix the rules suggest.
    """
    installs = list(service.installs)
    try:
        chain = {stage.index for stage in final_chain(service)}
    except ParseError:
        return installs
    return [cmd for cmd in installs if cmd.stage_index in chain] if chain else installs


_PYTHON_TOOLS = frozenset({"pip", "uv", "poetry", "pdm", "conda", "mamba", "micromamba"})
#: Words in a base image's name that say Python is in it (python, pypy, the conda and framework images).
_PYTHON_IMAGE_WORDS = ("python", "pypy", "conda", "pytorch", "tensorflow", "jupyter")


def non_python_target(service: Service) -> str | None:
    """Why the stage compose's ``build.target`` names is not a Python stage (``FROM node:20 AS assets``), or
    None when it is one, or no target is named.

    Only a named target is judged: a Dockerfile's last stage is the service, whatever its base. A target is
    Python when its stages (or those it copies from) install with a Python tool or install a ``python*`` OS
    package, when a base of its chain names Python, or its command runs ``python``; else a Python audit
    of it would report the context's requirements.txt against an image that never installs them."""
    if not service.build_target or service.dockerfile is None:
        return None
    try:
        chain = final_chain(service)
    except ParseError:
        return None
    if any(cmd.tool in _PYTHON_TOOLS or any(p.lower().startswith("python") for p in cmd.packages)
           for cmd in service.installs):
        return None
    bases = [stage.base for stage in chain]
    if any(word in _image_name(base) for base in bases for word in _PYTHON_IMAGE_WORDS):
        return None
    command = " ".join(part for part in (_text(service.entrypoint), _text(service.command)) if part)
    if "python" in command:
        return None
    return (f"build target {service.build_target!r} is not a Python stage (FROM {bases[-1] if bases else '?'}: "
            "no Python base, no pip/uv/poetry/pdm/conda install, no python command)")


def _image_name(ref: str) -> str:
    """``ghcr.io/org/python-base:3.11@sha256:..`` -> ``ghcr.io/org/python-base``, lower-cased (the tag is no
    name: ``node:python3`` is node)."""
    name = ref.lower().partition("@")[0]
    head, _sep, last = name.rpartition("/")
    return f"{head}/{last.partition(':')[0]}" if head else last.partition(":")[0]


def _text(value: tuple[str, ...] | str | None) -> str:
    return " ".join(value) if isinstance(value, tuple) else (value or "")

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

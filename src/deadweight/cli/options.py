"""The options every command that audits a project takes (``audit``, ``guard``, ``fix``, and later ``verify``),
declared once so that a flag means the same thing, with the same help, wherever it appears."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from deadweight.config import Config

F = TypeVar("F", bound=Callable[..., Any])


def _stack(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


#: Which images: given, built, or run to observe memory.
image_options = _stack(
    click.option("--image", "images", multiple=True, metavar="[SERVICE=]REF",
                 help="Use this image (one service), or SERVICE=REF per service. Repeatable."),
    click.option("--build", is_flag=True, help="Build each service's image with the local Docker engine first."),
    click.option("--run", "run_", is_flag=True, help="Start each service to observe memory (DW701/DW702)."),
    click.option("--network", metavar="MODE", help="Network for --build and --run (default: none for --run)."),
)

#: Which rules, which settings file, how the index and the images are read.
settings_options = _stack(
    click.option("--select", multiple=True, metavar="RULES", help="Only these rules or prefixes (e.g. DW1,DW201)."),
    click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules or prefixes."),
    click.option("--config", "config_file", metavar="FILE",
                 help="Read settings from FILE instead of looking for one."),
    click.option("--offline", is_flag=True, help="Use only the on-disk index cache; never touch the network."),
    click.option("--torch-cpu-index", metavar="URL", help="Simple-API index of CPU torch wheels (a mirror, say)."),
    click.option("--deployment-gpu", type=click.Choice(["auto", "true", "false"]),
                 help="Whether deployments have a GPU; auto reads compose, Kubernetes and ECS files."),
    click.option("--platform", metavar="OS/ARCH[/VARIANT]", help="Platform to pick from multi-platform images."),
    click.option("--verify", is_flag=True, help="Verify layer digests of local archives and layouts too."),
    click.option("--no-fast-path", is_flag=True,
                 help="docker: stream docker save instead of reading the engine's storage directly."),
)


def config_from(params: dict[str, Any]) -> Config:
    """The settings a command's ``--config``, ``--fail-on`` and ``settings_options`` flags give, read once:
    defaults < the settings file < these flags (``pipeline.audit.audit_config``)."""
    from deadweight.pipeline.audit import audit_config  # noqa: PLC0415 - heavy imports on use

    return audit_config(params["path"], config_file=params["config_file"], fail_on=params["fail_on"],
                        select=params["select"], ignore=params["ignore"], offline=params["offline"],
                        torch_cpu_index=params["torch_cpu_index"], deployment_gpu=params["deployment_gpu"])

"""``deadweight inspect REF``: read an image once and show where its bytes are.

Wiring only: parse options, open the source, run :func:`deadweight.analysis.analyze_image`, render,
write. ``--packages`` and ``--breakdown`` add the package inventory (``inventory.build``), ``--project``
adds what the project really uses (the same join ``audit`` uses), shown by ``reports/packages.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import click

from deadweight.analysis import analyze_image
from deadweight.auditing.usage import audit_capture, service_verdicts
from deadweight.cli.main import cli
from deadweight.cli.output import layer_progress, progress_enabled, terminal_width, use_color, write_output
from deadweight.errors import ParseError, UsageError
from deadweight.inventory.build import build_inventory
from deadweight.inventory.capture import for_config
from deadweight.model.analysis import ImageAnalysis
from deadweight.model.image import ImageConfig, Platform
from deadweight.model.inventory import Inventory
from deadweight.model.project import Service
from deadweight.model.usage import Verdict
from deadweight.project.loader import load_project
from deadweight.reports import inspect_json, inspect_text, packages
from deadweight.sources.base import SourceOptions


@dataclass(frozen=True, slots=True)
class InspectOptions:
    ref: str
    fmt: str = "text"
    top: int = 10
    platform: str | None = None
    verify: bool = False
    insecure: bool = False
    output: str | None = None
    packages: bool = False
    breakdown: bool = False
    project: str | None = None
    service: str | None = None
    no_fast_path: bool = False

    @property
    def needs_inventory(self) -> bool:
        return self.packages or self.breakdown or self.project is not None


def content_wanted(options: InspectOptions, config: ImageConfig) -> Callable[[str], bool] | None:
    """Which files' contents the layer scan keeps: none for the plain report; package metadata (and, with
    ``--project``, the application code under WORKDIR) for the package view."""
    if not options.needs_inventory:
        return None
    return audit_capture(config) if options.project else for_config(config)


def _service(options: InspectOptions) -> Service:
    assert options.project is not None
    project = load_project(options.project)
    services = project.services
    if options.service is not None:
        chosen = project.service(options.service)
        if chosen is None:
            names = ", ".join(s.name for s in services)
            raise UsageError(f"--service {options.service}: not in {options.project} (services: {names})")
        services = (chosen,)
    if len(services) != 1:
        names = ", ".join(s.name for s in services)
        raise UsageError(f"{options.project} has several services ({names}); name one with --service")
    if services[0].load_error:
        raise ParseError(services[0].load_error)
    return services[0]


def package_view(analysis: ImageAnalysis, options: InspectOptions) -> tuple[Inventory, Mapping[str, Verdict] | None]:
    inventory = build_inventory(analysis.tree, analysis.config)
    if options.project is None:
        return inventory, None
    joined = service_verdicts(_service(options), inventory=inventory, config=analysis.config, tree=analysis.tree)
    return inventory, joined.verdicts


def run_inspect(options: InspectOptions) -> str:
    """Analyse the image and return the rendered report. Raises ``DeadweightError`` subclasses."""
    # sources pull in the registry and engine clients: load them only when a command runs
    from deadweight.sources.resolve import open_source  # noqa: PLC0415

    if options.platform is not None:
        Platform.parse(options.platform)  # a usage error before any I/O
    source_options = SourceOptions(platform=options.platform, insecure=options.insecure, verify=options.verify,
                                   fast_path=not options.no_fast_path)
    with (
        open_source(options.ref, source_options) as source,
        layer_progress(progress_enabled(options.fmt, options.output)) as progress,
    ):
        want = content_wanted(options, source.config())
        analysis = analyze_image(source, want=want, verify=options.verify, progress=progress)
    to_terminal = options.output in (None, "-")
    color, width = to_terminal and use_color(), terminal_width() if to_terminal else 120
    inventory, verdicts = package_view(analysis, options) if options.needs_inventory else (None, None)
    show_packages = options.packages or options.project is not None
    if options.fmt == "json":
        extras: dict[str, Any] = {}
        if inventory is not None and show_packages:
            extras["python"] = {k: v for k, v in packages.to_dict(inventory, verdicts=verdicts).items()
                                if k != "breakdown"}
        if inventory is not None and options.breakdown:
            extras["breakdown"] = packages.breakdown_dict(inventory)
        return inspect_json.render(analysis, extras, top=options.top)
    appendix = "" if inventory is None else packages.render(
        inventory, color=color, width=width, top=options.top, packages=show_packages,
        breakdown=options.breakdown, verdicts=verdicts,
    )
    return inspect_text.render(analysis, top=options.top, color=color, width=width, appendix=appendix)


@cli.command("inspect")
@click.argument("ref")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="Report format; json follows schemas/inspect.schema.json.",
)
@click.option(
    "--top", type=click.IntRange(min=0), default=10, show_default=True,
    help="How many largest / shadowed / inefficient paths to list.",
)
@click.option("--platform", metavar="OS/ARCH[/VARIANT]", help="Pick this platform from a multi-platform image.")
@click.option("--verify", is_flag=True, help="Check every layer and config digest while reading.")
@click.option("--insecure", is_flag=True, help="Allow plain HTTP and unverified TLS for registries.")
@click.option(
    "--output", "-o", metavar="FILE", help="Write the report to FILE instead of stdout (atomically)."
)
@click.option("--packages", is_flag=True, help="Python environments and distributions, OS packages, framework builds.")
@click.option("--breakdown", is_flag=True, help="Bytes per class (GPU, ML, toolchain, caches...) summing to the size.")
@click.option("--project", metavar="PATH", help="Show what the project at PATH really uses (a 'used by' column).")
@click.option("--service", metavar="NAME", help="With --project: the compose service this image is for.")
@click.option("--no-fast-path", is_flag=True,
              help="docker: stream docker save instead of reading the engine's storage directly.")
def inspect_command(**params: Any) -> None:
    """Show where the bytes of image REF are: layers, largest paths, shadowed bytes, efficiency.

    REF is docker-archive:PATH, oci:PATH, registry:HOST/REPO[:TAG|@DIGEST], docker:NAME, a .tar
    file, an OCI layout directory, or a bare NAME[:TAG] (Docker engine first, then registry).
    """
    options = InspectOptions(**params)
    write_output(run_inspect(options), options.output)

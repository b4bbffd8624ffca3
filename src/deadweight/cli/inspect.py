"""``deadweight inspect REF``: read an image once and show where its bytes are.

Wiring only: parse options, open the source, run :func:`deadweight.analysis.analyze_image`, render,
write. Sections that need the package inventory (``--packages``, ``--breakdown``, ``--project``) plug
in at two points, which return nothing until those flags exist:

- :func:`content_wanted`: which file contents the single layer pass must keep (it sees the config
  first, e.g. ``inventory.capture.for_config(config)``);
- :func:`extra_sections`: top-level report sections built from the finished analysis (``python``,
  ``breakdown``), in their JSON shape; both renderers take them (``inspect_json.python_section`` and
  ``breakdown_section`` convert an ``Inventory``).

Add the flag as a field of :class:`InspectOptions` and a ``click.option`` on the command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import click

from deadweight.analysis import analyze_image
from deadweight.cli.main import cli
from deadweight.cli.output import layer_progress, progress_enabled, terminal_width, use_color, write_output
from deadweight.model.analysis import ImageAnalysis
from deadweight.model.image import ImageConfig, Platform
from deadweight.reports import inspect_json, inspect_text
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


def content_wanted(options: InspectOptions, config: ImageConfig) -> Callable[[str], bool] | None:
    """Which files' contents the layer scan keeps. The plain report needs none."""
    del options, config
    return None


def extra_sections(analysis: ImageAnalysis, options: InspectOptions) -> Mapping[str, Any]:
    """Top-level report sections beyond the layer scan (``python``, ``breakdown``); none by default."""
    del analysis, options
    return {}


def run_inspect(options: InspectOptions) -> str:
    """Analyse the image and return the rendered report. Raises ``DeadweightError`` subclasses."""
    # sources pull in the registry and engine clients: load them only when a command runs
    from deadweight.sources.resolve import open_source  # noqa: PLC0415

    if options.platform is not None:
        Platform.parse(options.platform)  # a usage error before any I/O
    source_options = SourceOptions(platform=options.platform, insecure=options.insecure, verify=options.verify)
    with (
        open_source(options.ref, source_options) as source,
        layer_progress(progress_enabled(options.fmt, options.output)) as progress,
    ):
        want = content_wanted(options, source.config())
        analysis = analyze_image(source, want=want, verify=options.verify, progress=progress)
    extras = extra_sections(analysis, options)
    if options.fmt == "json":
        return inspect_json.render(analysis, extras, top=options.top)
    to_terminal = options.output in (None, "-")
    return inspect_text.render(
        analysis,
        extras,
        top=options.top,
        color=to_terminal and use_color(),
        width=terminal_width() if to_terminal else 120,
    )


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
def inspect_command(**params: Any) -> None:
    """Show where the bytes of image REF are: layers, largest paths, shadowed bytes, efficiency.

    REF is docker-archive:PATH, oci:PATH, registry:HOST/REPO[:TAG|@DIGEST], docker:NAME, a .tar
    file, an OCI layout directory, or a bare NAME[:TAG] (Docker engine first, then registry).
    """
    options = InspectOptions(**params)
    write_output(run_inspect(options), options.output)

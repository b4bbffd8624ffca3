"""``deadweight inspect REF``: read an image once and show where its bytes are.

Wiring only: parse options, run :func:`deadweight.pipeline.inspect.run_inspect` (with a progress bar for
people), render, write. ``reports/inspect_*`` render the analysis, ``reports/packages.py`` the package view
(``--packages``, ``--breakdown``, ``--project``).
"""

from __future__ import annotations

from typing import Any

import click

from deadweight.cli.app import cli
from deadweight.cli.output import layer_progress, progress_enabled, terminal_width, use_color, write_output
from deadweight.model.inspect import InspectResult
from deadweight.reports import inspect_html, inspect_json, inspect_ncdu, inspect_text, packages


def render(result: InspectResult, *, fmt: str, top: int, output: str | None, show_packages: bool,
           breakdown: bool) -> str:
    """The report for ``result`` in ``fmt``; ``show_packages``/``breakdown`` pick the package sections."""
    inventory, verdicts = result.inventory, result.verdicts
    if fmt == "ncdu":
        return inspect_ncdu.render(result.analysis)
    if fmt == "html":
        return inspect_html.render(result, top=top, breakdown=breakdown)
    if fmt == "json":
        extras: dict[str, Any] = {}
        if inventory is not None and show_packages:
            extras["python"] = {k: v for k, v in packages.to_dict(inventory, verdicts=verdicts).items()
                                if k != "breakdown"}
        if inventory is not None and breakdown:
            extras["breakdown"] = packages.breakdown_dict(inventory)
        return inspect_json.render(result.analysis, extras, top=top)
    to_terminal = output in (None, "-")
    color, width = to_terminal and use_color(), terminal_width() if to_terminal else 120
    appendix = "" if inventory is None else packages.render(
        inventory, color=color, width=width, top=top, packages=show_packages,
        breakdown=breakdown, verdicts=verdicts,
    )
    return inspect_text.render(result.analysis, top=top, color=color, width=width, appendix=appendix)


@cli.command("inspect")
@click.argument("ref")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "ncdu", "html"]), default="text", show_default=True,
    help="Report format; json follows schemas/inspect.schema.json; ncdu: the tree for ncdu -f / gdu -f; "
    "html: one self-contained page with treemaps.",
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
    from deadweight.pipeline.inspect import InspectOptions, run_inspect  # noqa: PLC0415 - heavy imports on use

    options = InspectOptions(
        platform=params["platform"], verify=params["verify"], insecure=params["insecure"],
        packages=params["packages"], breakdown=params["breakdown"], project=params["project"],
        service=params["service"], fast_path=not params["no_fast_path"],
    )
    with layer_progress(progress_enabled(params["fmt"], params["output"])) as progress:
        result = run_inspect(params["ref"], options, progress)
    text = render(result, fmt=params["fmt"], top=params["top"], output=params["output"],
                  show_packages=options.packages or options.project is not None, breakdown=options.breakdown)
    write_output(text, params["output"])

"""``deadweight verify [PATH]``: rebuild with the fixes in a scratch copy, compare, check, bisect, and with
``--write`` write the edits that passed.

Wiring only: :func:`deadweight.pipeline.verify.verify` does the work, a reporter renders. Exit codes
(docs/exit-codes.md, docs/verify.md): 2 usage (a bad flag, an unknown check or service); 3 could not check (the
engine cannot be reached, a service could not be built or its image read: "could not check" is never a pass);
4 the rebuilt image still fails a check with every culprit dropped (nothing is written), or ``--write`` could not
write; 1 every service passed but some edit was dropped because it broke a check (the rest is proven, and
written with ``--write``); 0 every edit kept and every check passed.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from deadweight.cli.app import EXIT_FINDINGS, EXIT_FIX, EXIT_INPUT, EXIT_OK, EXIT_USAGE, cli
from deadweight.cli.options import config_from, settings_options
from deadweight.cli.output import is_tty, terminal_width, use_color, write_output
from deadweight.errors import UsageError
from deadweight.model.verification import VerifyReport

FORMATS = ("text", "json")


def exit_code(report: VerifyReport) -> int:
    """See the module docstring: usage, then could not check, then a failed check, then a dropped edit."""
    if any(s.error and s.error_kind == "usage" for s in report.audit.services):
        return EXIT_USAGE
    if any(s.error is not None for s in report.services):
        return EXIT_INPUT
    if not report.passed:
        return EXIT_FIX
    if any(e.status == "dropped" for s in report.services for e in s.edits):
        return EXIT_FINDINGS
    return EXIT_OK


def render(report: VerifyReport, fmt: str, output: str | None) -> str:
    from deadweight.reports import verify_json, verify_text  # noqa: PLC0415

    if fmt == "json":
        return verify_json.render(report)
    to_terminal = output in (None, "-")
    return verify_text.render(report, color=to_terminal and use_color(), width=terminal_width() if to_terminal else 120)


def _progress(service: str, what: str) -> None:
    click.echo(f"{service}: {what}", err=True)


@cli.command("verify")
@click.argument("path", default=".", required=False)
@click.option(
    "--image",
    "images",
    multiple=True,
    metavar="[SERVICE=]REF",
    help="The before image of this service (one service: REF alone). Repeatable. Default: the image the "
    "engine has under the compose name, else built from the files.",
)
@click.option("--write", is_flag=True, help="Write the edits that passed (only when every service passed).")
@click.option(
    "--network",
    metavar="MODE",
    help="Network for the builds and the checks' containers (default: the engine's for builds, none for checks).",
)
@click.option(
    "--check",
    "checks",
    multiple=True,
    metavar="ID",
    help="Run only this check (pip-check, imports, framework, start, openapi, user, memory, import-trace). Repeatable.",
)
@click.option(
    "--tag-prefix",
    default="deadweight-verify",
    show_default=True,
    metavar="PREFIX",
    help="Tag the images verify builds PREFIX/SERVICE:before|after|edits-N...",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format.")
@click.option("--output", "-o", metavar="FILE", help="Write the report to FILE instead of stdout.")
@settings_options
def verify_command(**params: Any) -> None:
    """Prove the fixes: rebuild each service with them, compare the images, run the checks in the rebuilt one,
    and drop any edit that breaks a check. --write writes the edits that passed.

    PATH is what `deadweight audit` takes: a service directory, a compose file, or a directory holding one.
    """
    from deadweight.pipeline.images import parse_image_options  # noqa: PLC0415 - heavy imports on use
    from deadweight.pipeline.verify import verify  # noqa: PLC0415
    from deadweight.project.loader import load_project  # noqa: PLC0415

    path = params["path"]
    unused = [
        flag
        for flag, key in (("--platform", "platform"), ("--verify", "verify"), ("--no-fast-path", "no_fast_path"))
        if params[key]
    ]
    if unused:
        raise UsageError(f"{', '.join(unused)}: not a verify option (it reads the images it builds from the engine)")
    config = config_from({**params, "fail_on": ()})
    images: dict[str, str] = {}
    if params["images"]:
        names = [s.name for s in load_project(str(path)).services]
        images = parse_image_options(tuple(params["images"]), names)
    progress = _progress if is_tty(sys.stderr) else None
    report = verify(
        path,
        config=config,
        images=images,
        write=params["write"],
        network=params["network"],
        checks=tuple(params["checks"]),
        progress=progress,
        tag_prefix=params["tag_prefix"],
    )
    write_output(render(report, params["fmt"], params["output"]), params["output"])
    raise click.exceptions.Exit(exit_code(report))


__all__ = ["exit_code", "render", "verify_command"]

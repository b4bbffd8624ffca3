"""``deadweight optimize [PATH]``: audit, fix, rebuild, prove, (with ``--write``) write, and report the results.

Wiring only: :func:`deadweight.pipeline.optimize.optimize` does the work, a reporter renders
(``reports/results_text.py`` on the terminal, ``results_json.py``, ``results_markdown.py`` for ``--report``).
Exit codes are verify's (docs/exit-codes.md, docs/optimize.md): 2 bad usage; 3 no engine, or a service could not
be audited, built or checked; 4 a rebuilt image still fails a check (nothing written), ``--write`` could not write,
or no check ran for a service's kept edits; 1 every service passed but an edit was dropped because it broke a
check (the rest is proven, and written with ``--write``); 0 every edit kept and every check passed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from deadweight.cli.app import EXIT_FINDINGS, EXIT_FIX, EXIT_OK, cli
from deadweight.cli.options import config_from, settings_options
from deadweight.cli.output import terminal_width, use_color, write_output
from deadweight.cli.verify import exit_code as verify_exit_code
from deadweight.errors import UsageError
from deadweight.model.results import verified
from deadweight.model.verification import VerifyReport
from deadweight.outfile import write_output_file
from deadweight.redact import redact

FORMATS = ("text", "json", "markdown")


def exit_code(report: VerifyReport) -> int:
    """``verify``'s exit code (the same run, the same meaning), and 4 when no check ran for some service's kept
    edits (every check skipped or deselected): nothing proved them, so the run is not a success."""
    code = verify_exit_code(report)
    if code in (EXIT_OK, EXIT_FINDINGS) and not verified(report):
        return EXIT_FIX
    return code


def render(report: VerifyReport, fmt: str, *, color: bool = False, width: int = 120) -> str:
    from deadweight.reports import results_json, results_markdown, results_text  # noqa: PLC0415

    if fmt == "json":
        return results_json.render(report)
    if fmt == "markdown":
        return results_markdown.render(report)
    return results_text.render(report, color=color, width=width)


def _check_writable(path: str | None, option: str) -> None:
    """Refuse an output path whose folder does not exist before the long run, not after it."""
    if path is None or path == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a directory")
    if not target.parent.is_dir():
        raise UsageError(f"{option} {path}: no such directory {target.parent}")


@cli.command("optimize")
@click.argument("path", default=".", required=False)
@click.option(
    "--write",
    is_flag=True,
    help="Write the edits that passed verification to the files. Default: a dry run, nothing written.",
)
@click.option(
    "--image",
    "images",
    multiple=True,
    metavar="[SERVICE=]REF",
    help="The current image (one service), or SERVICE=REF per service; else found in the engine or "
    "built from the original files. Repeatable.",
)
@click.option(
    "--network",
    metavar="MODE",
    help="Network for the builds and the checks' containers (default: the engine's for builds, none for the service).",
)
@click.option(
    "--check",
    "checks",
    multiple=True,
    metavar="NAME",
    help="Run only these checks (pip-check, imports, framework, start, openapi, user, memory, "
    "import-trace). Repeatable. Default: all.",
)
@click.option(
    "--report",
    "report_file",
    metavar="FILE.md",
    help="Also write the results report (Markdown, for a pull request) to FILE.md.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format.")
@click.option("--output", "-o", metavar="FILE", help="Write the output to FILE instead of stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress display or progress lines on stderr.")
@settings_options
def optimize_command(**params: Any) -> None:
    """Audit, fix, rebuild and prove the slimmer image, then report the results (dry run unless --write).

    PATH is what `deadweight audit` takes: a service directory, a compose file, or a directory holding one.
    """
    from deadweight.cli.progress import service_progress  # noqa: PLC0415
    from deadweight.pipeline.images import choose_images  # noqa: PLC0415
    from deadweight.pipeline.optimize import optimize  # noqa: PLC0415
    from deadweight.project.loader import load_project  # noqa: PLC0415

    path = params["path"]
    if not Path(path).exists():
        raise UsageError(f"{path}: no such file or directory")
    unused = [
        flag
        for flag, key in (("--platform", "platform"), ("--verify", "verify"), ("--no-fast-path", "no_fast_path"))
        if params[key]
    ]
    if unused:
        raise UsageError(f"{', '.join(unused)}: optimize builds its images in the local engine; this does not apply")
    _check_writable(params["output"], "--output")
    _check_writable(params["report_file"], "--report")
    config = config_from({**params, "fail_on": ()})
    images = choose_images(params["images"], [s.name for s in load_project(str(path)).services])
    with service_progress(quiet=params["quiet"]) as progress:
        report = optimize(
            path,
            config=config,
            images=images,
            write=params["write"],
            network=params["network"],
            checks=params["checks"],
            progress=progress,
        )
    if params["report_file"]:
        from deadweight.reports import results_markdown  # noqa: PLC0415

        write_output_file(
            params["report_file"], redact(results_markdown.render(report)).encode("utf-8"), option="--report"
        )
    to_terminal = params["output"] in (None, "-")
    write_output(
        render(
            report, params["fmt"], color=to_terminal and use_color(), width=terminal_width() if to_terminal else 120
        ),
        params["output"],
    )
    raise click.exceptions.Exit(exit_code(report))


__all__ = ["exit_code", "optimize_command", "render"]

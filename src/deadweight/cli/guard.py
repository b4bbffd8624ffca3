"""``deadweight guard [PATH]``: budgets, a baseline ratchet and waivers over an audit, for CI.

Wiring only: :func:`deadweight.pipeline.guard.guard` runs the audit exactly as ``deadweight audit`` does
(same PATH, --image, --build, config), gathers the figures budgets need and decides; a reporter renders.
Exit 0 within budget, 1 over budget, 2 usage or configuration, 3 could not check (docs/guard.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from deadweight.cli.app import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, cli
from deadweight.cli.options import image_options, settings_options
from deadweight.cli.output import write_output
from deadweight.errors import UsageError
from deadweight.guard.model import GuardVerdict, Status

FORMATS = ("text", "json", "markdown", "sarif", "junit")
EXIT_CODES = {Status.PASS: EXIT_OK, Status.FAIL: EXIT_FINDINGS, Status.NOT_CHECKED: EXIT_INPUT}


def render(verdict: GuardVerdict, fmt: str) -> str:
    from deadweight.reports import guard_json, guard_junit, guard_markdown, guard_sarif, guard_text  # noqa: PLC0415

    renderers = {"json": guard_json.render, "markdown": guard_markdown.render, "sarif": guard_sarif.render,
                 "junit": guard_junit.render}
    return renderers.get(fmt, guard_text.render)(verdict)


def reports(formats: tuple[str, ...], outputs: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """(format, output file or None for stdout) pairs: one format with at most one -o, as ``audit`` takes
    them, or several formats each with its own -o, paired in order (two reports cannot share stdout)."""
    formats = formats or ("text",)
    if len(formats) == 1 and len(outputs) <= 1:
        return [(formats[0], outputs[0] if outputs else None)]
    if len(formats) != len(outputs):
        raise UsageError(f"{len(formats)} --format and {len(outputs)} --output: with several formats give each "
                         "its own -o FILE, in the same order")
    if len(set(outputs)) != len(outputs) or "-" in outputs:
        raise UsageError("several formats need as many different -o files (not -, which is stdout)")
    return list(zip(formats, outputs, strict=True))


def _today(value: str | None) -> dt.date:
    if value is None:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--today {value}: not an ISO date (2026-03-31)") from None


@cli.command("guard")
@click.argument("path", default=".", required=False)
@image_options
@click.option("--baseline", metavar="FILE",
              help="A previous audit or guard --format json report: check growth and new findings against it.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), multiple=True, help="Report format (default: text). "
              "Repeatable with one -o each, in the same order: --format sarif -o g.sarif --format markdown -o g.md.")
@click.option("--output", "-o", metavar="FILE", multiple=True,
              help="Write the report to FILE instead of stdout (as audit -o); one per --format.")
@click.option("--allow-unchecked", is_flag=True,
              help="Budgets that could not be checked are listed but do not make the exit code 3.")
@click.option("--today", metavar="YYYY-MM-DD", help="Judge waiver expiry as of this date (default: today, UTC).")
@settings_options
def guard_command(**params: Any) -> None:
    """Fail CI when a service goes over its size budgets or gains dead weight (see docs/guard.md).

    PATH is what `deadweight audit` takes: a service directory, a compose file, or a directory holding one.
    Budgets and waivers come from [tool.deadweight.guard] in pyproject.toml or .deadweight.toml.
    """
    from deadweight.pipeline.guard import guard  # noqa: PLC0415 - heavy imports on use

    wanted = reports(params["fmt"], params["output"])
    verdict = guard(
        params["path"], images=params["images"], build=params["build"], run=params["run_"],
        network=params["network"], platform=params["platform"], verify=params["verify"],
        fast_path=not params["no_fast_path"], baseline=params["baseline"], today=_today(params["today"]),
        allow_unchecked=params["allow_unchecked"], config_file=params["config_file"], select=params["select"],
        ignore=params["ignore"], offline=params["offline"], torch_cpu_index=params["torch_cpu_index"],
        deployment_gpu=params["deployment_gpu"],
    )
    for fmt, output in wanted:
        write_output(render(verdict, fmt), output)
    raise click.exceptions.Exit(EXIT_CODES[verdict.status])

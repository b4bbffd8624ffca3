"""``deadweight fix [PATH]``: the audit's remedies as a diff (default) or written (``--write``).

Wiring only: :func:`deadweight.pipeline.fix.fix` audits (or reads ``--from-report``) and plans; a reporter
renders. Exit codes (docs/exit-codes.md, docs/fix.md): 2 or 3 when a service could not be audited (as for
``audit``), 4 when a selected fix could not be made (or ``--write`` could not write: ``FixError``), else 1
when findings at the fail level remain (without ``--write`` every finding is still in the files; with it,
those not fixed), else 0.
"""

from __future__ import annotations

from typing import Any

import click

from deadweight.cli.app import EXIT_FINDINGS, EXIT_FIX, EXIT_INPUT, EXIT_OK, EXIT_USAGE, cli
from deadweight.cli.options import config_from, image_options, settings_options
from deadweight.cli.output import write_output
from deadweight.config import Config
from deadweight.model.plan import FixPlan, PlannedFix

FORMATS = ("diff", "json")


def exit_code(plan: FixPlan, config: Config, *, write: bool) -> int:
    """See the module docstring: unaudited services, then refusals, then what remains at the fail level.
    ``write``: ``--write`` was given (and, the code being asked for, its transaction committed)."""
    if any(u.error_kind == "usage" for u in plan.unaudited):
        return EXIT_USAGE
    if plan.unaudited:
        return EXIT_INPUT
    if plan.refused:
        return EXIT_FIX
    level = config.fail_severity()
    rules = config.fail_rules()

    def fails(row: PlannedFix) -> bool:
        return row.rule in rules or (level is not None and row.severity >= level)

    # written: a planned fix is in the files now, so its finding is gone; not written, the files still hold it
    remaining = [row for row in plan.fixes if not (write and row.fixed)]
    return EXIT_FINDINGS if any(fails(row) for row in remaining) else EXIT_OK


def render(plan: FixPlan, fmt: str) -> str:
    from deadweight.reports import fix_diff, fix_json  # noqa: PLC0415

    if fmt == "json":
        return fix_json.render(plan)
    return fix_diff.render(plan)


@cli.command("fix")
@click.argument("path", default=".", required=False)
@image_options
@click.option("--write", is_flag=True, help="Apply the edits (all or nothing). Default: print the diff only.")
@click.option("--only", multiple=True, metavar="RULE[,PACKAGE]",
              help="Only the fixes of this rule (and package). Repeatable.")
@click.option("--from-report", metavar="FILE",
              help="Plan from this `audit --format json` report instead of auditing again.")
@click.option("--pin-pyproject", is_flag=True, help="DW501: pin >= ranges in pyproject.toml too.")
@click.option("--no-lock", is_flag=True, help="Do not regenerate lock files (uv lock, poetry lock, pdm lock).")
@click.option("--memory-headroom", type=float, default=1.5, show_default=True, metavar="FACTOR",
              help="DW701/DW702: set the memory limit to the observed peak times FACTOR (1.0 to 10).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="diff", show_default=True,
              help="Output format.")
@click.option("--output", "-o", metavar="FILE", help="Write the output to FILE instead of stdout.")
@click.option("--fail-on", multiple=True, metavar="SEVERITY|RULE,...",
              help="Exit 1 when a finding of this severity or higher, or of these rules, remains (default: high); "
              "none: never.")
@settings_options
def fix_command(**params: Any) -> None:
    """Make the edits that remove the dead weight the audit found: a diff by default, --write to apply.

    PATH is what `deadweight audit` takes: a service directory, a compose file, or a directory holding one.
    """
    from deadweight.pipeline.fix import fix  # noqa: PLC0415

    path = params["path"]
    config = config_from(params)
    plan = fix(path, config=config, images=params["images"], build=params["build"], run=params["run_"],
               network=params["network"], platform=params["platform"], verify=params["verify"],
               fast_path=not params["no_fast_path"],
               only=params["only"], from_report=params["from_report"], write=params["write"],
               pin_pyproject=params["pin_pyproject"], lock=not params["no_lock"],
               memory_headroom=params["memory_headroom"])
    write_output(render(plan, params["fmt"]), params["output"])
    raise click.exceptions.Exit(exit_code(plan, config, write=params["write"]))


__all__ = ["exit_code", "fix_command", "render"]

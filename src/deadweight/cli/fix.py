"""``deadweight fix [PATH]``: the audit's remedies as a diff (default) or written (``--write``).

Wiring only: :func:`deadweight.pipeline.fix.fix` audits and plans; a reporter renders. Exit codes: audit's
(0 nothing at the fail level left, 1 findings at the fail level remain unfixed or, without --write, would be
fixed, 2 usage, 3 input) and 4 when some fix could not be made (docs/exit-codes.md).
"""

from __future__ import annotations

from typing import Any

import click

from deadweight.cli.app import EXIT_FINDINGS, EXIT_FIX, EXIT_INPUT, EXIT_OK, EXIT_USAGE, cli
from deadweight.cli.options import image_options, settings_options
from deadweight.cli.output import write_output
from deadweight.config import Config
from deadweight.model.plan import FixPlan

FORMATS = ("diff", "json")


def exit_code(plan: FixPlan, config: Config) -> int:
    if any(f.status == "refused" for f in plan.fixes):
        return EXIT_FIX
    level = config.fail_severity()
    rules = config.fail_rules()
    del level, rules  # the plan rows carry no severity yet; see pipeline
    if plan.written:
        return EXIT_OK if not any(f.status == "manual" for f in plan.fixes) else EXIT_FINDINGS
    return EXIT_FINDINGS if plan.changed_files else EXIT_OK


def render(plan: FixPlan, fmt: str) -> str:
    from deadweight.reports import fix_diff  # noqa: PLC0415

    return fix_diff.render(plan)


@cli.command("fix")
@click.argument("path", default=".", required=False)
@image_options
@click.option("--write", is_flag=True, help="Apply the edits (all or nothing). Default: print the diff only.")
@click.option("--only", multiple=True, metavar="RULE[,PACKAGE]",
              help="Only the fixes of this rule (and package). Repeatable.")
@click.option("--pin-pyproject", is_flag=True, help="DW501: pin >= ranges in pyproject.toml too.")
@click.option("--no-lock", is_flag=True, help="Do not regenerate lock files (uv lock, poetry lock, pdm lock).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="diff", show_default=True,
              help="Output format.")
@click.option("--output", "-o", metavar="FILE", help="Write the output to FILE instead of stdout.")
@settings_options
def fix_command(**params: Any) -> None:
    """Make the edits that remove the dead weight the audit found: a diff by default, --write to apply.

    PATH is what `deadweight audit` takes: a service directory, a compose file, or a directory holding one.
    """
    from deadweight.pipeline.audit import audit_config  # noqa: PLC0415 - heavy imports on use
    from deadweight.pipeline.fix import fix  # noqa: PLC0415

    path = params["path"]
    settings = {key: params[key] for key in ("config_file", "select", "ignore", "offline", "torch_cpu_index",
                                             "deployment_gpu")}
    config = audit_config(path, **settings)
    plan = fix(path, config=config, images=params["images"], build=params["build"], run=params["run_"],
               network=params["network"], platform=params["platform"], fast_path=not params["no_fast_path"],
               only=params["only"], write=params["write"], pin_pyproject=params["pin_pyproject"],
               lock=not params["no_lock"])
    write_output(render(plan, params["fmt"]), params["output"])
    raise click.exceptions.Exit(exit_code(plan, config))


__all__ = ["EXIT_INPUT", "EXIT_USAGE", "fix_command"]

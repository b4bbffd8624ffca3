"""``deadweight audit [PATH]``: the main job. Wiring only: options, :func:`deadweight.pipeline.audit.audit`,
render, exit code."""

from __future__ import annotations

import os
from typing import Any

import click

from deadweight.cli.app import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, EXIT_USAGE, cli
from deadweight.cli.options import config_from, image_options, settings_options
from deadweight.cli.output import terminal_width, use_color, write_output
from deadweight.config import Config
from deadweight.model.audit import AuditReport

FORMATS = ("text", "json", "markdown", "sarif", "html", "gitlab")


def exit_code(report: AuditReport, config: Config) -> int:
    """2 or 3 when some service could not be audited (by the error's kind: a usage error, such as a malformed
    ``--image`` reference, wins over unreadable input) or, statically, some package could not be resolved
    (3), or no service at all was audited (3: ``AuditReport.nothing_audited``); else 1 when a finding
    reaches the fail level; else 0."""
    if any(s.error and s.error_kind == "usage" for s in report.services):
        return EXIT_USAGE
    if any(s.error or s.unresolved for s in report.services):  # could not check is never clean
        return EXIT_INPUT
    if report.nothing_audited is not None:  # "nothing audited" is never "no findings"
        return EXIT_INPUT
    level = config.fail_severity()
    rules = config.fail_rules()
    for service in report.services:
        for finding in service.findings:
            if finding.rule in rules or (level is not None and finding.severity >= level):
                return EXIT_FINDINGS
    return EXIT_OK


def render(report: AuditReport, fmt: str, output: str | None) -> str:
    # the reporters name the rule catalog, which imports every rule: load them when a report is rendered,
    # not on every start of the CLI (``inspect`` needs none of them)
    from deadweight.reports import audit_html, audit_json, audit_markdown, audit_text, gitlab, sarif  # noqa: PLC0415

    if fmt == "json":
        return audit_json.render(report)
    if fmt == "markdown":
        return audit_markdown.render(report)
    if fmt == "sarif":
        return sarif.render(report)
    if fmt == "html":
        return audit_html.render(report)
    if fmt == "gitlab":  # paths relative to where the job runs: GitLab's CI_PROJECT_DIR
        return gitlab.render(report, base=os.getcwd())
    to_terminal = output in (None, "-")
    return audit_text.render(report, color=to_terminal and use_color(), width=terminal_width() if to_terminal else 120)


@cli.command("audit")
@click.argument("path", default=".", required=False)
@image_options
@click.option("--dockerfile", metavar="PATH",
              help="Audit the one service built from this Dockerfile, wherever it lies (docker build -f PATH).")
@click.option("--context", metavar="DIR",
              help="The build context for --dockerfile (default: PATH when a directory, else the Dockerfile's).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Report format.")
@click.option("--output", "-o", metavar="FILE", help="Write the report to FILE instead of stdout.")
@click.option("--fail-on", multiple=True, metavar="SEVERITY|RULE,...",
              help="Exit 1 when a finding has this severity or higher, or is one of these rules (default: high); "
              "none: report only.")
@settings_options
def audit_command(**params: Any) -> None:
    """Find the dead weight in a service or a docker-compose fleet, with evidence and measured savings.

    PATH is a service directory (Dockerfile + requirements), a compose file, or a directory holding
    one (default: the current directory).
    """
    from deadweight.pipeline.audit import audit  # noqa: PLC0415 - heavy imports on use

    path = params["path"]
    config = config_from(params)
    report = audit(path, config=config, images=params["images"], build=params["build"], run=params["run_"],
                   network=params["network"], platform=params["platform"], verify=params["verify"],
                   fast_path=not params["no_fast_path"], dockerfile=params["dockerfile"],
                   context=params["context"])
    write_output(render(report, params["fmt"], params["output"]), params["output"])
    raise click.exceptions.Exit(exit_code(report, config))

"""``deadweight audit [PATH]``: the main job. Wiring only: options, config precedence, render, exit code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from deadweight.cli.main import EXIT_FINDINGS, EXIT_INPUT, EXIT_OK, cli
from deadweight.cli.output import terminal_width, use_color, write_output
from deadweight.config import Config, load_config, validate_fail_on, validate_rule_list
from deadweight.errors import UsageError
from deadweight.model.audit import AuditReport
from deadweight.reports import audit_json, audit_markdown, audit_text, sarif

FORMATS = ("text", "json", "markdown", "sarif")


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


def effective_config(path: str, params: dict[str, Any]) -> Config:
    """Defaults < [tool.deadweight] / .deadweight.toml < command line."""
    explicit = Path(params["config_file"]) if params.get("config_file") else None
    start = Path(path)
    config = load_config(start if start.exists() else None, explicit)
    overrides: dict[str, Any] = {}
    if params.get("fail_on"):
        overrides["fail_on"] = validate_fail_on(_split(params["fail_on"]), "--fail-on")
    if params.get("select"):
        overrides["select"] = validate_rule_list(_split(params["select"]), "select", "--select")
    if params.get("ignore"):
        overrides["ignore"] = config.ignore + validate_rule_list(_split(params["ignore"]), "ignore", "--ignore")
    if params.get("offline"):
        overrides["offline"] = True
    if params.get("torch_cpu_index"):
        overrides["torch_cpu_index"] = params["torch_cpu_index"]
    if params.get("deployment_gpu"):
        overrides["deployment_gpu"] = params["deployment_gpu"]
    return config.with_overrides(**overrides)


def exit_code(report: AuditReport, config: Config) -> int:
    """3 when some service could not be audited; else 1 when a finding reaches the fail level; else 0."""
    if any(s.error for s in report.services):
        return EXIT_INPUT
    level = config.fail_severity()
    rules = config.fail_rules()
    for service in report.services:
        for finding in service.findings:
            if finding.rule in rules or (level is not None and finding.severity >= level):
                return EXIT_FINDINGS
    return EXIT_OK


def render(report: AuditReport, fmt: str, output: str | None) -> str:
    if fmt == "json":
        return audit_json.render(report)
    if fmt == "markdown":
        return audit_markdown.render(report)
    if fmt == "sarif":
        return sarif.render(report)
    to_terminal = output in (None, "-")
    return audit_text.render(report, color=to_terminal and use_color(), width=terminal_width() if to_terminal else 120)


@cli.command("audit")
@click.argument("path", default=".", required=False)
@click.option("--image", "images", multiple=True, metavar="[SERVICE=]REF",
              help="Audit this image (one service), or SERVICE=REF per service. Repeatable.")
@click.option("--build", is_flag=True, help="Build each service's image with the local Docker engine first.")
@click.option("--run", "run_", is_flag=True, help="Start each service to observe memory (DW701/DW702).")
@click.option("--network", metavar="MODE", help="Network for --build and --run (default: none for --run).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Report format.")
@click.option("--output", "-o", metavar="FILE", help="Write the report to FILE (atomically) instead of stdout.")
@click.option("--fail-on", multiple=True, metavar="SEVERITY|RULE,...",
              help="Exit 1 when a finding has this severity or higher, or is one of these rules (default: high); "
              "none: report only.")
@click.option("--select", multiple=True, metavar="RULES", help="Only these rules or prefixes (e.g. DW1,DW201).")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules or prefixes.")
@click.option("--config", "config_file", metavar="FILE", help="Read settings from FILE instead of looking for one.")
@click.option("--offline", is_flag=True, help="Use only the on-disk index cache; never touch the network.")
@click.option("--torch-cpu-index", metavar="URL", help="Simple-API index of CPU torch wheels (a mirror, say).")
@click.option("--deployment-gpu", type=click.Choice(["auto", "true", "false"]),
              help="Whether deployments have a GPU; auto reads compose, Kubernetes and ECS files.")
@click.option("--platform", metavar="OS/ARCH[/VARIANT]", help="Platform to pick from multi-platform images.")
@click.option("--verify", is_flag=True, help="Verify layer digests of local archives and layouts too.")
@click.option("--no-fast-path", is_flag=True,
              help="docker: stream docker save instead of reading the engine's storage directly.")
def audit_command(**params: Any) -> None:
    """Find the dead weight in a service or a docker-compose fleet, with evidence and measured savings.

    PATH is a service directory (Dockerfile + requirements), a compose file, or a directory holding
    one (default: the current directory).
    """
    from deadweight.auditing.images import parse_image_options  # noqa: PLC0415 - heavy imports on use
    from deadweight.auditing.runner import AuditOptions, run_audit  # noqa: PLC0415
    from deadweight.project.loader import load_project  # noqa: PLC0415

    path = params["path"]
    if not Path(path).exists():
        raise UsageError(f"{path}: no such file or directory")
    config = effective_config(path, params)
    project = load_project(path)
    images = parse_image_options(params["images"], [s.name for s in project.services])
    options = AuditOptions(
        images=images,
        build=params["build"],
        run=params["run_"],
        network=params["network"],
        verify=params["verify"],
        platform=params["platform"],
        fast_path=not params["no_fast_path"],
    )
    report = run_audit(path, config, options, project=project)
    write_output(render(report, params["fmt"], params["output"]), params["output"])
    raise click.exceptions.Exit(exit_code(report, config))

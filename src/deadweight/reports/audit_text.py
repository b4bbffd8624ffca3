"""``deadweight audit`` in the terminal: the fleet at a glance, then each service's findings.

Order of reading: the fleet table answers "where is the weight?", the per-service sections answer "why, and
what do I change?", the totals line answers "how much is it worth?". Rendered with rich into a string (never
printed here) so the CLI decides where it goes; every user-provided string goes in as rich ``Text`` so that
brackets in a path or a message can never be read as markup.
"""

from __future__ import annotations

import re

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from deadweight.model.audit import AuditReport, ServiceResult
from deadweight.model.finding import Confidence, Finding, Severity
from deadweight.reports.formatting import memory_summary, render_console
from deadweight.rules import rule_title
from deadweight.units import human_bytes, percent

_DIGEST = re.compile(r"(sha256|sha512):([0-9a-f]{32,128})")
_SEVERITY_STYLE = {
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def render(report: AuditReport, *, color: bool = False, width: int = 120) -> str:
    """The whole terminal report as a string (ANSI colours only when ``color``)."""
    return render_console(lambda console: _render(console, report), color=color, width=width)


def _render(console: Console, report: AuditReport) -> None:
    services = report.ranked_services
    console.print(Text(f"deadweight audit: {report.root}", style="bold"))
    console.print(_fleet_table(services))
    console.print()
    if report.nothing_audited is not None:
        console.print(Text("nothing audited: no service could be audited (each row says why); this is no clean "
                           "bill", style="bold red"))
    _print_memory(console, services)
    _print_skipped(console, report)
    for warning in sorted(report.warnings):
        console.print(Text(f"warning: {warning}", style="yellow"))
    for service in services:
        if service.findings or service.warnings:
            console.print()
            _print_service(console, service)
    console.print()
    console.print(_totals_line(report))


def _fleet_table(services: list[ServiceResult]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False, show_edge=False)
    table.add_column("service", no_wrap=True)
    table.add_column("image size", justify="right", no_wrap=True)
    table.add_column("dead weight", justify="right", no_wrap=True)
    table.add_column("% dead", justify="right", no_wrap=True)
    table.add_column("top cause")
    for service in services:
        if service.error:
            table.add_row(
                Text(service.name, style="bold"), "-", "-", "-",
                Text(f"error: {service.error}", style="red"),
            )
            continue
        if service.not_audited is not None:
            table.add_row(Text(service.name, style="bold"), "-", "-", "-",
                          Text(f"not audited: {service.not_audited}", style="yellow"))
            continue
        top = service.top_cause
        if top is None and service.unresolved:
            cause = Text(f"not checked: {_unresolved(service)}", style="yellow")
        else:
            cause = Text("no findings", style="green") if top is None else Text.assemble(
                (top.rule, _SEVERITY_STYLE[top.severity]), " ", rule_title(top.rule, top.title)
            )
        dead = human_bytes(service.dead_weight_bytes)
        if service.all_estimated:
            dead = "~" + dead
        table.add_row(
            Text(service.name, style="bold"),
            human_bytes(service.size_bytes),
            dead,
            percent(service.dead_weight_bytes, service.size_bytes),
            cause,
        )
    return table


def _unresolved(service: ServiceResult) -> str:
    names = service.unresolved
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return f"{shown} could not be resolved"


def _print_memory(console: Console, services: list[ServiceResult]) -> None:
    """``--run``: every service's observed peak against its limit, finding or not."""
    observed = [s for s in services if s.memory is not None]
    for service in observed:
        assert service.memory is not None
        console.print(Text.assemble("memory ", (service.name, "bold"), f": {memory_summary(service.memory)}"))
    if observed:
        console.print()


def _print_skipped(console: Console, report: AuditReport) -> None:
    """One line per reason ("DW701, DW702 skipped for api, worker: needs --run"), not one per service."""
    for group in report.skipped_groups:
        console.print(
            Text(f"skipped {', '.join(group.rules)} for {', '.join(group.services)}: {group.reason}", style="dim")
        )


def _print_service(console: Console, service: ServiceResult) -> None:
    head = Text.assemble((service.name, "bold underline"))
    if service.image:
        head.append(f"  {service.image}", style="dim")
    head.append(f"  ({service.mode})", style="dim")
    size = human_bytes(service.size_bytes)
    head.append(
        f"  {size}, {human_bytes(service.dead_weight_bytes)} dead "
        f"({percent(service.dead_weight_bytes, service.size_bytes)})"
    )
    console.print(head)
    if service.unresolved:
        console.print(Text(f"  not checked: {_unresolved(service)}: their sizes and verdicts are missing (see the "
                           "warnings)", style="yellow"))
    for finding in service.ordered_findings:
        console.print(_finding_line(finding))
        for evidence in finding.evidence:
            where = f"{short_digest(evidence.location)}: " if evidence.location else ""
            console.print(_indented(Text(f"{evidence.kind}: {where}{evidence.detail}", style="dim")))
        if finding.fix:
            console.print(_indented(Text.assemble("fix: ", (finding.fix, "green"))))
    for warning in sorted(service.warnings):
        console.print(Text(f"  warning: {warning}", style="yellow"))


def _indented(text: Text) -> Padding:
    """Evidence and fix lines sit under their finding; a line too long for the terminal wraps under itself."""
    return Padding(text, (0, 0, 0, 6))


def short_digest(location: str) -> str:
    """``sha256:<64 hex>`` -> ``sha256:<12 hex>`` as docker prints image ids; anything else unchanged."""
    match = _DIGEST.fullmatch(location)
    return f"{match.group(1)}:{match.group(2)[:12]}" if match else location


def _finding_line(finding: Finding) -> Text:
    saving = ("~" if finding.estimated else "") + human_bytes(finding.savings_bytes)
    line = Text("  ")
    line.append(finding.rule, style=_SEVERITY_STYLE[finding.severity])
    line.append(f" {finding.severity!s:<6} ")
    line.append(f"{saving:>10}  ", style="bold")
    line.append(finding.title)
    subject = finding.package or finding.path
    if subject:
        line.append(f" [{subject}]", style="bold")
    if finding.estimated:
        line.append(" (estimated)", style="dim")
    if finding.confidence is not Confidence.HIGH:
        line.append(f" (confidence: {finding.confidence.value})", style="dim")
    return line


def _totals_line(report: AuditReport) -> Text:
    totals = report.totals
    measured = report.measured_services
    after = report.after_bytes
    text = Text("total: ", style="bold")
    text.append(
        f"{human_bytes(totals.size_bytes)} in {len(measured)} image{'s' if len(measured) != 1 else ''}, "
        f"{human_bytes(totals.dead_weight_bytes)} dead weight; "
        f"{human_bytes(after)} after fixes "
        f"({percent(report.reduction_bytes, totals.size_bytes)} smaller); "
        f"{human_bytes(totals.unique_layer_bytes)} unique layer bytes (shared layers counted once)"
    )
    failed = len(report.failed_services)
    if failed:
        text.append(f"; {failed} service{'s' if failed != 1 else ''} failed", style="red")
    text.append("\n(sizes in decimal units, 1 GB = 10^9 bytes, as docker shows them)", style="dim")
    return text

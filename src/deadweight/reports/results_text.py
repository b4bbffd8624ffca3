"""``deadweight optimize`` in the terminal: the final table once the progress display is gone.

One row per service (size before and after, compressed, build times, checks, time in checks, edits), the fleet
totals with shared layers counted once, then only what needs attention: checks that failed or could not run
(with the command to rerun them), edits that were dropped and why, and whether the files were written.
Rendered with rich into a string; user text goes in as ``Text`` so brackets are never read as markup.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from deadweight.model.results import fleet_cost, fleet_totals, verified
from deadweight.model.verification import ServiceVerification, VerifyReport
from deadweight.reports.formatting import human_seconds, render_console
from deadweight.units import human_bytes, money, percent

__all__ = ["render"]


def render(report: VerifyReport, *, color: bool = False, width: int = 120) -> str:
    """The final table and what needs attention, as a string (ANSI colours only when ``color``)."""
    return render_console(lambda console: _render(console, report), color=color, width=width)


def _render(console: Console, report: VerifyReport) -> None:
    console.print(Text(f"deadweight optimize: {report.root}", style="bold"))
    console.print(_table(report))
    console.print()
    for line in _attention(report):
        console.print(line)
    for warning in report.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))
    console.print(_closing(report))


def _checks_cell(service: ServiceVerification) -> Text:
    ran = [c for c in service.checks if c.status != "skip"]
    failed = [c for c in ran if c.failed]
    if service.error:
        return Text("error", style="bold red")
    if not ran:
        return Text("none ran", style="bold red" if service.edits else "dim")
    if failed:
        return Text(f"{len(failed)}/{len(ran)} failed", style="bold red")
    return Text(f"{len(ran)}/{len(ran)} passed", style="green")


def _table(report: VerifyReport) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, expand=False, show_edge=False, padding=(0, 1, 0, 0))
    for name, justify in (
        ("service", "left"),
        ("before", "right"),
        ("after", "right"),
        ("saved", "right"),
        ("compressed", "right"),
        ("build cold/warm", "right"),
        ("checks", "left"),
        ("verify", "right"),
        ("edits", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for s in sorted(report.services, key=lambda s: s.service):
        c = s.comparison
        kept = sum(1 for e in s.edits if e.status == "kept")
        dropped = sum(1 for e in s.edits if e.status == "dropped")
        edits = Text(f"{kept} kept")
        if dropped:
            edits.append(f", {dropped} dropped", style="yellow")
        build = s.after_build
        builds = f"{human_seconds(build.cold_seconds)} / {human_seconds(build.warm_seconds)}" if build else "n/a"
        if c is None:
            table.add_row(
                Text(s.service), "n/a", "n/a", "", "", builds, _checks_cell(s), human_seconds(s.verify_seconds), edits
            )
            continue
        table.add_row(
            Text(s.service),
            human_bytes(c.before.size_bytes),
            human_bytes(c.after.size_bytes),
            percent(c.saved_bytes, c.before.size_bytes),
            f"{human_bytes(c.before.compressed_bytes)} → {human_bytes(c.after.compressed_bytes)}",
            builds,
            _checks_cell(s),
            human_seconds(s.verify_seconds),
            edits,
        )
    totals = fleet_totals(report)
    if totals.services > 1:
        table.add_section()
        table.add_row(
            Text("total", style="bold"),
            human_bytes(totals.before_bytes),
            human_bytes(totals.after_bytes),
            percent(totals.measured_savings_bytes, totals.before_bytes),
            f"{human_bytes(totals.compressed_before_bytes)} → {human_bytes(totals.compressed_after_bytes)}",
            f"{human_seconds(totals.cold_build_seconds)} / {human_seconds(totals.warm_build_seconds)}",
            "",
            human_seconds(totals.verify_seconds),
            "",
        )
        table.add_row(
            Text("unique layers", style="dim"),
            human_bytes(totals.unique_before_bytes),
            human_bytes(totals.unique_after_bytes),
            percent(totals.unique_saved_bytes, totals.unique_before_bytes),
            "",
            "",
            "",
            "",
            "",
        )
    return table


def _attention(report: VerifyReport) -> list[Text]:
    lines = []
    for s in sorted(report.services, key=lambda s: s.service):
        if s.error:
            lines.append(Text(f"{s.service}: could not be verified: {s.error}", style="bold red"))
        for check in s.checks:
            if check.failed:
                verb = "failed" if check.status == "fail" else "could not run"
                line = Text(f"{s.service}: {check.name} {verb}", style="red")
                if check.detail:
                    line.append(f": {check.detail}")
                lines.append(line)
                if check.command:
                    lines.append(Text(f"  rerun: {check.command}", style="dim"))
        for edit in s.edits:
            if edit.status == "dropped":
                subject = f" {edit.fix.package or edit.fix.path}" if (edit.fix.package or edit.fix.path) else ""
                broke = f" (broke {', '.join(edit.broke)})" if edit.broke else ""
                lines.append(
                    Text(f"{s.service}: dropped {edit.fix.rule}{subject}{broke}: {edit.reason}", style="yellow")
                )
    return lines


def _closing(report: VerifyReport) -> Text:
    totals = fleet_totals(report)
    line = Text()
    if totals.compared:
        line.append(
            f"{human_bytes(totals.before_bytes)} → {human_bytes(totals.after_bytes)} "
            f"({percent(totals.measured_savings_bytes, totals.before_bytes)} smaller)",
            style="bold",
        )
    cost = fleet_cost(report)
    if cost is not None:
        line.append(f", about {money(cost.saved_total)} a month on compressed sizes")
    line.append(". ")
    ok = verified(report)
    line.append("Verified. " if ok else "NOT verified. ", style="green" if ok else "bold red")
    n = len(report.files)
    files = f"{n} file{'s' if n != 1 else ''}"
    if report.written:
        line.append(f"Wrote {files}: {', '.join(report.files)}.")
    elif n:
        line.append(f"Dry run: {files} would change ({', '.join(report.files)}); --write writes the kept edits.")
    else:
        line.append("No file to change.")
    return line

"""``deadweight verify``'s terminal report: per service the size comparison (total, compressed, largest layer,
build times cold and warm, dead weight), the distributions that left or came in, every check with its verdict,
and every edit kept (with the bytes it saved, measured on the rebuilt images) or dropped (with the check it broke
and why); then the files written (or that ``--write`` would write) and one summary line.

Figures come from the model as measured; nothing is computed here but sums and percentages of them. Text from
images and projects goes through ``safetext.printable``.
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from deadweight.model.verification import BuildRecord, ImageComparison, ServiceVerification, VerifyReport
from deadweight.reports.formatting import render_console
from deadweight.safetext import printable
from deadweight.units import format_fraction, human_bytes

__all__ = ["render"]

_STATUS_STYLE = {"pass": "green", "fail": "red", "error": "red", "skip": "yellow"}
#: Distribution changes shown per service (the JSON has all of them).
TOP_DISTRIBUTIONS = 12


def render(report: VerifyReport, *, color: bool = False, width: int = 120) -> str:
    return render_console(lambda console: _render(console, report), color=color, width=width)


def _render(console: Console, report: VerifyReport) -> None:
    console.print(Text(f"deadweight verify: {printable(report.root)}", style="bold"))
    for service in report.services:
        console.print()
        _service(console, service)
    for warning in report.warnings:
        console.print(Text(f"warning: {printable(warning)}", style="yellow"))
    console.print()
    if report.files:
        verb = "written" if report.written else "--write would write"
        console.print(f"files {verb}: {', '.join(printable(f) for f in report.files)}")
    console.print(_summary(report))


def _service(console: Console, service: ServiceVerification) -> None:
    name = printable(service.service)
    if service.error is not None:
        console.print(Text(f"{name}: could not verify: {printable(service.error)}", style="red"))
        return
    if service.comparison is None and not service.checks:
        console.print(f"{name}: nothing to verify (no edits)")
        return
    verdict = "passed" if service.passed else "FAILED"
    console.print(Text(f"{name}: {verdict}", style="bold green" if service.passed else "bold red"))
    if service.comparison is not None:
        console.print(_figures(service.comparison, service.before_build, service.after_build))
        _distributions(console, service.comparison)
    if service.checks:
        console.print(_checks(service))
    for outcome in service.edits:
        fix = outcome.fix
        subject = f"{fix.rule} {printable(fix.package or fix.path or fix.title)}"
        if outcome.status == "kept":
            console.print(
                f"  kept     {subject}: saved {human_bytes(outcome.measured_savings_bytes)} (measured), "
                f"estimated {human_bytes(fix.savings_bytes)}"
            )
        elif outcome.status == "dropped":
            console.print(Text(f"  dropped  {subject}: {printable(outcome.reason)}", style="red"))
        else:
            console.print(f"  not built {subject}")
    if service.bisect_builds:
        console.print(f"  bisecting needed {service.bisect_builds} extra build(s)")
    console.print(f"  checks took {service.verify_seconds:.1f}s")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _figures(comparison: ImageComparison, before: BuildRecord | None, after: BuildRecord | None) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for header in ("", "before", "after", "change"):
        table.add_column(header, justify="left" if not header else "right", no_wrap=True)
    b, a = comparison.before, comparison.after

    def delta(x: int | None, y: int | None) -> str:
        if x is None or y is None:
            return "-"
        return f"{human_bytes(y - x)} ({format_fraction((y - x) / x) if x else 'n/a'})"

    table.add_row("size", human_bytes(b.size_bytes), human_bytes(a.size_bytes), delta(b.size_bytes, a.size_bytes))
    table.add_row(
        "compressed",
        human_bytes(b.compressed_bytes),
        human_bytes(a.compressed_bytes),
        delta(b.compressed_bytes, a.compressed_bytes),
    )
    table.add_row(
        "largest layer",
        human_bytes(b.largest_layer_bytes),
        human_bytes(a.largest_layer_bytes),
        delta(b.largest_layer_bytes, a.largest_layer_bytes),
    )
    table.add_row("layers", str(len(b.layers)), str(len(a.layers)), "")
    table.add_row(
        "dead weight",
        human_bytes(b.dead_weight_bytes),
        human_bytes(a.dead_weight_bytes),
        delta(b.dead_weight_bytes, a.dead_weight_bytes),
    )
    table.add_row(
        "build cold",
        _seconds(before.cold_seconds if before else None),
        _seconds(after.cold_seconds if after else None),
        "",
    )
    table.add_row(
        "build warm",
        _seconds(before.warm_seconds if before else None),
        _seconds(after.warm_seconds if after else None),
        "",
    )
    return table


def _distributions(console: Console, comparison: ImageComparison) -> None:
    changed = [d for d in comparison.distributions if d.change != "kept"]
    for d in changed[:TOP_DISTRIBUTIONS]:
        if d.change == "removed":
            console.print(
                f"  - {printable(d.name)} {printable(d.before_version or '')} ({human_bytes(d.before_bytes)})"
            )
        elif d.change == "added":
            console.print(f"  + {printable(d.name)} {printable(d.after_version or '')} ({human_bytes(d.after_bytes)})")
        else:
            console.print(
                f"  ~ {printable(d.name)} {printable(d.before_version or '')} -> "
                f"{printable(d.after_version or '')} ({human_bytes(d.before_bytes)} -> "
                f"{human_bytes(d.after_bytes)})"
            )
    if len(changed) > TOP_DISTRIBUTIONS:
        console.print(f"  ... and {len(changed) - TOP_DISTRIBUTIONS} more distribution changes (see --format json)")
    kept = sum(1 for d in comparison.distributions if d.change == "kept")
    console.print(f"  {kept} distributions unchanged")


def _checks(service: ServiceVerification) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("check", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("what")
    for check in service.checks:
        detail = f"{printable(check.name)}" + (f": {printable(check.detail)}" if check.detail else "")
        table.add_row(check.check, Text(check.status, style=_STATUS_STYLE.get(check.status, "")), detail)
    return table


def _summary(report: VerifyReport) -> str:
    verified = [s for s in report.services if s.comparison is not None]
    before = sum(s.comparison.before.size_bytes for s in verified if s.comparison is not None)
    after = sum(s.comparison.after.size_bytes for s in verified if s.comparison is not None)
    kept = sum(1 for s in report.services for e in s.edits if e.status == "kept")
    dropped = sum(1 for s in report.services for e in s.edits if e.status == "dropped")
    failed = [s.service for s in report.services if not s.passed]
    size = (
        f"{human_bytes(before)} -> {human_bytes(after)} ({format_fraction((before - after) / before)} smaller)"
        if before
        else "no image rebuilt"
    )
    state = "all checks passed" if not failed else f"not verified: {', '.join(printable(f) for f in failed)}"
    return f"{len(verified)} service(s) rebuilt, {size}; {kept} edit(s) kept, {dropped} dropped; {state}"

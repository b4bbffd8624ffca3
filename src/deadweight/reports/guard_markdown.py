"""``deadweight guard --format markdown``: a pull-request comment. The verdict in the heading, then what is
over budget and why (each new finding with its bytes), growth against the baseline and what appeared, and
only then what was waived or could not be checked. A few lines, not the whole audit."""

from __future__ import annotations

from deadweight.guard.model import GuardVerdict, Status
from deadweight.reports.guard_text import appeared_line, fleet_line, growth_line, summary_line

ICONS = {Status.FAIL: ":x:", Status.NOT_CHECKED: ":warning:", Status.PASS: ":white_check_mark:"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(verdict: GuardVerdict) -> str:
    lines = [f"### {ICONS[verdict.status]} {summary_line(verdict)}", ""]
    failing = [c for c in verdict.checks if c.status is Status.FAIL]
    if failing:
        lines += ["| service | budget | why |", "|---|---|---|"]
        lines += [f"| {_cell(c.service)} | `{_cell(c.budget)}` | {_cell(c.message)} |" for c in failing]
        lines.append("")
    for service in verdict.services:
        if service.error:
            lines.append(f"- **{service.name}** could not be audited: {service.error}")
            continue
        extras = [e for e in (growth_line(service), appeared_line(service)) if e]
        if extras:
            lines.append(f"- **{service.name}**: " + "; ".join(extras))
    if verdict.fleet is not None:
        lines.append(f"- {fleet_line(verdict.fleet)}")
    waived = [c for c in verdict.checks if c.status is Status.WAIVED]
    unchecked = [c for c in verdict.checks if c.status is Status.NOT_CHECKED]
    if waived or unchecked or verdict.notes:
        lines += ["", "<details><summary>waived, not checked, notes</summary>", ""]
        lines += [f"- waived: {c.service} `{c.budget}`: {c.message}" for c in waived]
        lines += [f"- not checked: {c.service} `{c.budget}`: {c.reason}" for c in unchecked]
        lines += [f"- note: {n}" for n in verdict.notes]
        lines += ["", "</details>"]
    text = "\n".join(lines).strip("\n")
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text + "\n"

"""``deadweight fix``'s default output: a unified diff of every file it would change, grouped by finding.

Each finding's block is headed by its rule, service, reason and the bytes it is expected to save; its hunks
are relative to the text the fixes above it left, so the blocks apply in order (``git apply`` / ``patch``
take them one after another). Findings that were refused, have no automatic fix or were skipped follow, each
with its reason, then the services that could not be audited, warnings, and one summary line. Every line
that is not part of a diff starts with ``#``, so ``patch`` and ``git apply`` skip them.
"""

from __future__ import annotations

import difflib

from deadweight.model.plan import FileChange, FixPlan, PlannedFix
from deadweight.safetext import printable
from deadweight.units import human_bytes

__all__ = ["render", "unified_diff"]


def unified_diff(change: FileChange) -> str:
    before = (change.before or "").splitlines(keepends=True)
    after = change.after.splitlines(keepends=True)
    old = "/dev/null" if change.before is None else f"a/{change.path}"
    lines = difflib.unified_diff(before, after, fromfile=old, tofile=f"b/{change.path}")
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _saving(fix: PlannedFix) -> str:
    if not fix.savings_bytes:
        return ""
    return f", saves {'~' if fix.estimated else ''}{human_bytes(fix.savings_bytes)}"


def _subject(fix: PlannedFix) -> str:
    what = fix.package or fix.path
    return f"{fix.rule} {fix.service}" + (f" {what}" if what else "")


def _comment(text: str) -> str:
    """One ``#`` line of the diff: quoted names, reasons and errors escaped to one printable line (a reason
    quoting a Dockerfile's undecodable byte or a newline must not break the patch or the terminal)."""
    return f"# {printable(text)}\n"


def render(plan: FixPlan) -> str:
    out: list[str] = []
    for fix in plan.fixes:
        if fix.status != "planned" or not fix.changed:
            continue
        out.append(_comment(f"{_subject(fix)}: {fix.title}{_saving(fix)}"))
        if fix.hint:
            out.append(_comment(f"fix: {fix.hint}"))
        if fix.reason:
            out.append(_comment(f"note: {fix.reason}"))
        for command in fix.commands:
            out.append(_comment(f"ran: {command}"))
        out.extend(unified_diff(change) for change in fix.changes)
    others = [f for f in plan.fixes if f.status != "planned" or not f.changed]
    notes = [_comment(f"not audited: {u.service}: {u.error}") for u in plan.unaudited]
    notes += [_comment(f"warning: {w}") for w in plan.warnings]
    if others or notes:
        out.append("\n" if out else "")
        for fix in others:
            label = "already fixed" if fix.status == "planned" else fix.status
            out.append(_comment(f"{label}: {_subject(fix)}: {fix.reason or fix.title}"))
        out.extend(notes)
    changed = plan.changed_files
    verb = "wrote" if plan.written else "would change"
    summary = f"{verb} {len(changed)} file(s)" + (f": {', '.join(changed)}" if changed else "")
    refused = len(plan.refused)
    if refused:
        summary += f"; {refused} fix(es) could not be made"
    out.append(_comment(summary))
    return "".join(out)

"""``deadweight optimize --report FILE.md``: the results report, to paste into the pull request that lands the fix.

Written for a reviewer who did not run the tool, in the order they ask: how much smaller (one line), the
sizes and build times side by side, what was changed and why (the audit's evidence, the bytes each edit saved
measured on the rebuilt image), the proof (each check with the command to rerun it), the files touched, and what
it is worth a month. Figures come from the model (``model/verification.py``, ``model/results.py``); every
user-provided string is escaped (``md_escape``/``md_code``) so a name cannot split a table cell or open a link.
"""

from __future__ import annotations

from deadweight.model.audit import CostComparison
from deadweight.model.cost import CostModel
from deadweight.model.results import finding_of, fleet_cost, fleet_totals, service_cost, unproven, verified
from deadweight.model.verification import (
    BuildRecord,
    EditOutcome,
    ServiceVerification,
    VerifyReport,
)
from deadweight.reports.formatting import human_seconds, md_code, md_escape, md_table
from deadweight.units import human_bytes, money, percent

__all__ = ["render"]

MAX_INLINE_COMMAND = 160  # longer commands go in a fenced block under the table
MAX_EVIDENCE = 3  # per edit: the strongest reasons, not every import line
STATUS_MARK = {"pass": "✅ pass", "fail": "❌ fail", "error": "⚠️ could not run", "skip": "➖ skipped"}


def render(report: VerifyReport) -> str:
    """The whole results report as GitHub-flavoured Markdown."""
    services = sorted(report.services, key=lambda s: s.service)
    parts = [
        _summary(report),
        _fleet_table(report, services) if len(services) > 1 else "",
        *(_service_section(report, s, heading=len(services) > 1) for s in services),
        _files(report),
        _cost(report),
        _warnings(report),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def _usd(amount: float) -> str:
    return md_escape(money(amount))


def _change(before: int | None, after: int | None) -> str:
    if before is None or after is None:
        return "n/a"
    if before == after:
        return "same"
    diff = after - before
    return f"{human_bytes(diff)} ({'-' if diff < 0 else '+'}{percent(abs(diff), before)})"


def _summary(report: VerifyReport) -> str:
    totals = fleet_totals(report)
    lines = [f"# deadweight optimize: {md_code(report.root)}", ""]
    if not totals.compared:
        lines.append("No service could be built before and after: nothing was measured.")
    else:
        subject = (
            md_escape(report.services[0].service)
            if totals.services == 1
            else f"The fleet ({totals.compared} of {totals.services} services built)"
            if totals.compared != totals.services
            else f"The fleet ({totals.services} services)"
        )
        verb = "smaller" if totals.measured_savings_bytes >= 0 else "larger"
        lines.append(
            f"{subject}: **{human_bytes(totals.before_bytes)} → {human_bytes(totals.after_bytes)}**, "
            f"**{percent(abs(totals.measured_savings_bytes), totals.before_bytes)} {verb}**, measured on the "
            "rebuilt images."
        )
        if totals.services > 1:
            lines.append("")
            lines.append(
                f"With layers shared by several images counted once: {human_bytes(totals.unique_before_bytes)} → "
                f"{human_bytes(totals.unique_after_bytes)} "
                f"({percent(totals.unique_saved_bytes, totals.unique_before_bytes)} smaller)."
            )
    lines.append("")
    lines.append(_verdict(report))
    return "\n".join(lines)


def _verdict(report: VerifyReport) -> str:
    checks = [c for s in report.services for c in s.checks]
    ran = [c for c in checks if c.status != "skip"]
    failed = [c for c in checks if c.failed]
    errors = [s for s in report.services if s.error]
    dropped = [e for s in report.services for e in s.edits if e.status == "dropped"]
    parts = []
    if verified(report):
        images = "images" if len(report.services) > 1 else "image"
        parts.append(f"**Verified**: all {len(ran)} checks passed in the rebuilt {images}.")
    else:
        what = []
        if failed:
            what.append(f"{len(failed)} of {len(ran)} checks failed or could not run")
        if unproven(report):
            what.append(f"no check ran for {', '.join(md_escape(name) for name in unproven(report))}")
        if errors:
            what.append(f"{len(errors)} service{'s' if len(errors) != 1 else ''} could not be verified")
        parts.append(f"**Not verified**: {'; '.join(what)}.")
    if dropped:
        parts.append(
            f"{len(dropped)} edit{'s' if len(dropped) != 1 else ''} broke a check and "
            f"{'were' if len(dropped) != 1 else 'was'} dropped (see below)."
        )
    if report.written:
        parts.append("The kept edits were written.")
    elif report.files:
        parts.append("Dry run: nothing was written (`--write` writes the kept edits).")
    return " ".join(parts)


def _fleet_table(report: VerifyReport, services: list[ServiceVerification]) -> str:
    lines = ["## Services", ""]
    rows = []
    for s in services:
        c = s.comparison
        kept = sum(1 for e in s.edits if e.status == "kept")
        dropped = sum(1 for e in s.edits if e.status == "dropped")
        edits = f"{kept} kept" + (f", {dropped} dropped" if dropped else "")
        if c is None:
            rows.append(
                [
                    md_escape(s.service),
                    "n/a",
                    "n/a",
                    "n/a",
                    "n/a",
                    "n/a",
                    edits,
                    "error: " + md_escape(s.error or "not built"),
                ]
            )
            continue
        checks = "passed" if s.passed else "**failed**"
        rows.append(
            [
                md_escape(s.service),
                human_bytes(c.before.size_bytes),
                human_bytes(c.after.size_bytes),
                human_bytes(c.saved_bytes),
                percent(c.saved_bytes, c.before.size_bytes),
                f"{human_bytes(c.before.compressed_bytes)} → {human_bytes(c.after.compressed_bytes)}",
                edits,
                checks,
            ]
        )
    totals = fleet_totals(report)
    compressed = f"{human_bytes(totals.compressed_before_bytes)} → {human_bytes(totals.compressed_after_bytes)}"
    rows.append(
        [
            "**Total**",
            f"**{human_bytes(totals.before_bytes)}**",
            f"**{human_bytes(totals.after_bytes)}**",
            f"**{human_bytes(totals.measured_savings_bytes)}**",
            f"**{percent(totals.measured_savings_bytes, totals.before_bytes)}**",
            compressed,
            "",
            "",
        ]
    )
    rows.append(
        [
            "Shared layers once",
            human_bytes(totals.unique_before_bytes),
            human_bytes(totals.unique_after_bytes),
            human_bytes(totals.unique_saved_bytes),
            percent(totals.unique_saved_bytes, totals.unique_before_bytes),
            "",
            "",
            "",
        ]
    )
    lines += md_table(
        ["Service", "Before", "After", "Saved", "Smaller", "Compressed", "Edits", "Checks"], rows, "lrrrrrll"
    )
    return "\n".join(lines)


def _service_section(report: VerifyReport, service: ServiceVerification, *, heading: bool) -> str:
    level = "###" if heading else "##"
    parts = []
    if heading:
        parts.append(f"## {md_escape(service.service)}")
    if service.error:
        parts.append(f"Could not be verified: {md_escape(service.error)}")
    parts.append(_sizes(service, level))
    parts.append(_edits(report, service, level))
    parts.append(_checks(service, level))
    return "\n\n".join(p for p in parts if p)


def _build_time(build: BuildRecord | None, cold: bool) -> str:
    if build is None:
        return "n/a"
    if build.builder == "given":
        return "given"
    return human_seconds(build.cold_seconds if cold else build.warm_seconds)


def _sizes(service: ServiceVerification, level: str) -> str:
    c = service.comparison
    if c is None:
        return ""
    before, after = c.before, c.after
    rows = [
        [
            "Total size",
            human_bytes(before.size_bytes),
            human_bytes(after.size_bytes),
            _change(before.size_bytes, after.size_bytes),
        ],
        [
            "Largest layer",
            human_bytes(before.largest_layer_bytes),
            human_bytes(after.largest_layer_bytes),
            _change(before.largest_layer_bytes, after.largest_layer_bytes),
        ],
        [
            "Compressed (registry, pull)",
            human_bytes(before.compressed_bytes),
            human_bytes(after.compressed_bytes),
            _change(before.compressed_bytes, after.compressed_bytes),
        ],
        ["Layers", str(len(before.layers)), str(len(after.layers)), ""],
        ["Build time, cold", _build_time(service.before_build, True), _build_time(service.after_build, True), ""],
        ["Build time, warm", _build_time(service.before_build, False), _build_time(service.after_build, False), ""],
        [
            "Dead weight (audit)",
            human_bytes(before.dead_weight_bytes),
            human_bytes(after.dead_weight_bytes),
            _change(before.dead_weight_bytes, after.dead_weight_bytes),
        ],
    ]
    lines = [f"{level} Size comparison", ""]
    lines += md_table(["", "Before", "After", "Change"], rows, "lrrr")
    lines += ["", f"Before: {md_code(before.ref)}; after: {md_code(after.ref)}."]
    removed = [d for d in c.distributions if d.change == "removed"]
    if removed:
        names = ", ".join(f"{md_code(d.name)} ({human_bytes(d.before_bytes)})" for d in removed[:10])
        more = f" and {len(removed) - 10} more" if len(removed) > 10 else ""
        lines += ["", f"Distributions that left: {names}{more}."]
    return "\n".join(lines)


def _edit_line(report: VerifyReport, edit: EditOutcome) -> list[str]:
    fix = edit.fix
    subject = fix.package or fix.path
    about = f" {md_code(subject)}" if subject else ""
    what = md_escape((fix.hint or fix.title).rstrip(". "))
    files = sorted({c.path for c in fix.changes if c.before != c.after})
    where = f" ({', '.join(md_code(f) for f in files)})" if files else ""
    if edit.status == "kept":
        measured = (
            "Saved **" + human_bytes(edit.measured_savings_bytes) + "** measured on the rebuilt image"
            if edit.measured_savings_bytes is not None
            else "Saving not measured"
        )
        estimate = human_bytes(fix.savings_bytes)
        head = f"- **{fix.rule}**{about}{where}: {what}. {measured} (the audit estimated {estimate})."
    elif edit.status == "dropped":
        broke = f" (broke: {', '.join(md_escape(b) for b in edit.broke)})" if edit.broke else ""
        reason = md_escape(edit.reason or "it failed a check")
        head = f"- **{fix.rule}**{about}{where}: **dropped**{broke}: {reason}."
    else:
        reason = md_escape(edit.reason or "the service could not be built")
        head = f"- **{fix.rule}**{about}{where}: not built: {reason}."
    lines = [head]
    finding = finding_of(report, fix)
    if finding and finding.evidence:
        lines.append(f"  - Why: {md_escape(fix.title)}.")
        for evidence in finding.evidence[:MAX_EVIDENCE]:
            where_seen = f" ({md_code(evidence.location)})" if evidence.location else ""
            lines.append(f"  - Evidence ({md_escape(evidence.kind)}): {md_escape(evidence.detail)}{where_seen}")
        if len(finding.evidence) > MAX_EVIDENCE:
            lines.append(f"  - …and {len(finding.evidence) - MAX_EVIDENCE} more")
    return lines


def _edits(report: VerifyReport, service: ServiceVerification, level: str) -> str:
    if not service.edits:
        return f"{level} What was changed\n\nNothing: no edit was planned for this service."
    lines = [f"{level} What was changed", ""]
    order = {"kept": 0, "dropped": 1, "not-built": 2}
    for edit in sorted(service.edits, key=lambda e: (order[e.status], -(e.measured_savings_bytes or 0), e.fix.rule)):
        lines += _edit_line(report, edit)
    return "\n".join(lines)


def _checks(service: ServiceVerification, level: str) -> str:
    if not service.checks:
        return ""
    lines = [f"{level} Verification", ""]
    rows = []
    for check in service.checks:
        rows.append(
            [
                md_escape(check.check),
                md_escape(check.name),
                STATUS_MARK[check.status],
                md_escape(check.image),
                md_escape(check.detail),
                _rerun_cell(check.command),
            ]
        )
    lines += md_table(["Check", "What", "Result", "Image", "Detail", "Rerun it"], rows)
    long = [c for c in service.checks if c.command and _rerun_cell(c.command) == "below"]
    if long:
        # a multi-line command (an inline script) keeps its lines only in a fenced block: folded into a table
        # cell it would no longer run
        lines += ["", "Rerun by hand:", "", "```sh"]
        for check in long:
            lines += [f"# {check.name}", _fenced(check.command)]
        lines += ["```"]
    after = service.after_build.cold_seconds if service.after_build else None
    share = f" ({percent(service.verify_seconds, after)} of the after build)" if after else ""
    lines += [
        "",
        f"Checks took {human_seconds(service.verify_seconds)}{share}"
        + (f"; bisecting the edits took {service.bisect_builds} extra builds." if service.bisect_builds else "."),
    ]
    failed = [c for c in service.checks if c.failed and c.output]
    for check in failed:
        lines += [
            "",
            f"<details><summary>{md_escape(check.name)}: output</summary>",
            "",
            "```text",
            _fenced(check.output),
            "```",
            "",
            "</details>",
        ]
    return "\n".join(lines)


def _rerun_cell(command: str) -> str:
    """The command in the table when it is one short line, else ``below`` (listed in a fenced block)."""
    if not command:
        return ""
    if "\n" in command or len(command) > MAX_INLINE_COMMAND:
        return "below"
    return md_code(command)


def _fenced(text: str) -> str:
    """Output inside a ``` fence: a line of backticks in it must not close the fence."""
    return text.rstrip("\n").replace("```", "`\u200b``")


def _files(report: VerifyReport) -> str:
    if not report.files:
        return "## Files modified\n\nNone."
    state = "written" if report.written else "not written (dry run; `--write` writes them)"
    lines = ["## Files modified", "", f"{len(report.files)} file{'s' if len(report.files) != 1 else ''}, {state}:", ""]
    lines += [f"- {md_code(path)}" for path in report.files]
    return "\n".join(lines)


def _cost_rows(model: CostModel, cost: CostComparison) -> list[list[str]]:
    return [
        [
            f"Registry storage ({_usd(model.storage_per_gb_month)} per GB-month)",
            _usd(cost.before.storage),
            _usd(cost.after.storage),
            _usd(cost.saved_storage),
        ],
        [
            f"Transfer ({_usd(model.transfer_per_gb)} per GB × {model.pulls_per_month} pulls a month)",
            _usd(cost.before.transfer),
            _usd(cost.after.transfer),
            _usd(cost.saved_transfer),
        ],
        [
            "**Total per month**",
            f"**{_usd(cost.before.total)}**",
            f"**{_usd(cost.after.total)}**",
            f"**{_usd(cost.saved_total)}**",
        ],
    ]


def _cost(report: VerifyReport) -> str:
    cost = fleet_cost(report)
    if cost is None:
        return (
            "## Cost savings\n\nNot computed: the compressed size of some image could not be measured "
            "(costs are computed on compressed sizes only)."
        )
    model = report.audit.cost
    lines = [
        "## Cost savings",
        "",
        f"About **{_usd(cost.saved_total)} a month** ({_usd(cost.saved_total * 12)} a year), on the measured "
        "compressed sizes (what a registry stores and a pull transfers):",
        "",
    ]
    lines += md_table(["", "Before", "After", "Saved per month"], _cost_rows(model, cost), "lrrr")
    if len(report.services) > 1:
        per = [
            [md_escape(s.service), _usd(c.before.total), _usd(c.after.total), _usd(c.saved_total)]
            for s in sorted(report.services, key=lambda s: s.service)
            if (c := service_cost(report, s))
        ]
        if per:
            lines += ["", *md_table(["Service", "Before", "After", "Saved per month"], per, "lrrr")]
        lines += [
            "",
            "Each image is counted on its own compressed size, so a layer several images share counts "
            "once per image: read storage as an upper bound.",
        ]
    origin = "the defaults" if model == CostModel() else "configured"
    lines += [
        "",
        f"Prices are {origin}: set `storage-per-gb-month`, `transfer-per-gb` and `pulls-per-month` under "
        "`[tool.deadweight.cost]`.",
    ]
    return "\n".join(lines)


def _warnings(report: VerifyReport) -> str:
    if not report.warnings:
        return ""
    return "## Warnings\n\n" + "\n".join(f"- {md_escape(w)}" for w in report.warnings)

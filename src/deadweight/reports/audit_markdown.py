"""``deadweight audit --format markdown``: a report to paste into a pull request or a wiki page.

Written for a reader who did not run the tool: a one-sentence summary first (fleet X GB -> Y GB), then
where the weight is, why (evidence), what each kind of fix is worth, what to do first, and what it costs in
money under a stated cost model. Every user-provided string (service names, paths, messages) is escaped: a
pipe in a service name must not split a table cell, a bracket must not become a link.
"""

from __future__ import annotations

from deadweight.model.audit import AuditReport, ServiceResult
from deadweight.model.cost import CostModel
from deadweight.model.finding import Confidence, Finding
from deadweight.reports.formatting import md_code, md_escape, md_table, memory_summary
from deadweight.rules import rule_help_uri, rule_title
from deadweight.units import human_bytes, money, percent

MAX_ACTIONS = 30  # a PR comment with 300 one-liners is not a priority list


def render(report: AuditReport) -> str:
    """The whole report as GitHub-flavoured Markdown."""
    services = report.ranked_services
    parts = [
        _summary(report),
        _services_section(report, services),
        _memory_section(services),
        _root_causes(services),
        _savings_section(report),
        _actions(report),
        _cost_section(report),
    ]
    return "\n\n".join(p for p in parts if p) + "\n"


def _usd(amount: float) -> str:
    """Dollars with the sign escaped: GitHub reads ``$...$`` as inline math."""
    return md_escape(money(amount))


def _rule_link(rule: str) -> str:
    return f"[{rule}]({rule_help_uri(rule)})"


def _saving(finding: Finding) -> str:
    return ("~" if finding.estimated else "") + human_bytes(finding.savings_bytes)


def _summary(report: AuditReport) -> str:
    size, after = report.totals.size_bytes, report.after_bytes
    measured = report.measured_services
    lines = [f"# deadweight audit: {md_code(report.root)}", ""]
    n = len(report.services)
    plural_n = f"{n} service{'s' if n != 1 else ''}"
    of = f"{len(measured)} of {n} services measured" if len(measured) != n else plural_n
    if report.nothing_audited is not None:
        lines.append(f"**Nothing audited** ({plural_n}): {md_escape(report.nothing_audited)}.")
    elif report.totals.dead_weight_bytes == 0:
        lines.append(f"No dead weight found: the fleet ({of}) is **{human_bytes(size)}**.")
    elif size:
        lines.append(
            f"The fleet ({of}) is **{human_bytes(size)}**; after the fixes below it would be "
            f"**{human_bytes(after)}**, **{percent(report.reduction_bytes, size)} smaller**."
        )
    else:
        lines.append(
            f"No image size could be measured ({of}); the fixes below save an estimated "
            f"**{human_bytes(report.totals.dead_weight_bytes)}**."
        )
    unmeasured_dead = report.unmeasured_dead_weight_bytes
    if unmeasured_dead and size:
        lines.append(
            f"Services of unknown size add an estimated {human_bytes(unmeasured_dead)} of dead weight "
            "that is not in these totals."
        )
    failed = report.failed_services
    if failed:
        names = ", ".join(md_escape(s.name) for s in sorted(failed, key=lambda s: s.name))
        lines.append("")
        plural = "s" if len(failed) != 1 else ""
        lines.append(f"> **{len(failed)} service{plural} could not be audited:** {names}.")
    for warning in sorted(report.warnings):
        lines.append("")
        lines.append(f"> Warning: {md_escape(warning)}")
    lines.append("")
    lines.append(
        "Sizes are in decimal units (1 GB = 10^9 bytes), as `docker images` shows them; "
        "savings marked ~ are estimated, not measured on the image."
    )
    return "\n".join(lines)


def _services_section(report: AuditReport, services: list[ServiceResult]) -> str:
    rows = []
    for s in services:
        image = md_code(s.image) if s.image else f"_{md_escape(s.mode)}_"
        if s.error:
            rows.append([md_escape(s.name), image, "–", "–", "–", f"**error:** {md_escape(s.error)}"])
            continue
        if s.not_audited is not None:
            rows.append([md_escape(s.name), image, "–", "–", "–", f"**not audited:** {md_escape(s.not_audited)}"])
            continue
        top = s.top_cause
        if top is None and s.unresolved:
            cause = f"**not checked:** {md_escape(', '.join(s.unresolved))} could not be resolved"
        else:
            cause = (
                "no findings" if top is None
                else f"{_rule_link(top.rule)} {md_escape(rule_title(top.rule, top.title))}"
            )
        rows.append([
            md_escape(s.name), image, human_bytes(s.size_bytes), human_bytes(s.dead_weight_bytes),
            percent(s.dead_weight_bytes, s.size_bytes), cause,
        ])
    lines = ["## Services", ""]
    lines += md_table(["Service", "Image", "Size", "Dead weight", "% dead", "Top cause"], rows, "llrrrl")
    skipped = _skipped_lines(report)
    if skipped:
        lines += ["", *skipped]
    return "\n".join(lines)


def _memory_section(services: list[ServiceResult]) -> str:
    """``--run``: every service's observed peak against its limit, finding or not."""
    rows = [[md_escape(s.name), md_escape(memory_summary(s.memory)), md_escape(s.memory.evidence or "")]
            for s in services if s.memory is not None]
    if not rows:
        return ""
    return "\n".join(["## Observed memory", "", *md_table(["Service", "Observed", "How"], rows, "lll")])


def _skipped_lines(report: AuditReport) -> list[str]:
    return [
        f"- Skipped {', '.join(g.rules)} for {', '.join(md_escape(n) for n in g.services)}: {md_escape(g.reason)}"
        for g in report.skipped_groups
    ]


def _root_causes(services: list[ServiceResult]) -> str:
    sections = []
    for s in services:
        if not s.findings:
            continue
        head = [f"### {md_escape(s.name)}", ""]
        facts = [md_code(s.image) if s.image else f"{md_escape(s.mode)} mode"]
        facts.append(f"{human_bytes(s.size_bytes)}, {human_bytes(s.dead_weight_bytes)} dead "
                     f"({percent(s.dead_weight_bytes, s.size_bytes)})")
        head.append(" · ".join(facts))
        head.append("")
        for f in s.ordered_findings:
            head.append(_finding_item(f))
        sections.append("\n".join(head))
    if not sections:
        return ""
    return "## Root causes\n\n" + "\n\n".join(sections)


def _finding_item(f: Finding) -> str:
    subject = f.package or f.path
    line = f"- **{_rule_link(f.rule)} {md_escape(f.title)}**"
    if subject:
        line += f" ({md_code(subject)})"
    line += f": saves **{_saving(f)}**, {f.severity} severity"
    if f.confidence is not Confidence.HIGH:
        line += f", {f.confidence.value} confidence"
    lines = [line]
    for e in f.evidence:
        where = f"{md_code(e.location)}: " if e.location else ""
        lines.append(f"  - {md_escape(e.kind)}: {where}{md_escape(e.detail)}")
    if f.fix:
        lines.append(f"  - **Fix:** {md_escape(f.fix)}")
    return "\n".join(lines)


def _savings_section(report: AuditReport) -> str:
    """Per rule: bytes its findings save (claims shared inside a service counted once), then the fleet."""
    if not report.rule_savings:
        return ""
    table = [
        [_rule_link(r.rule), md_escape(rule_title(r.rule, r.title)), str(r.findings), str(r.services),
         ("~" if r.estimated else "") + human_bytes(r.savings_bytes)]
        for r in report.rule_savings
    ]
    total, after = report.totals.size_bytes, report.after_bytes
    lines = ["## Savings by optimization", ""]
    lines += md_table(["Rule", "Optimization", "Findings", "Services", "Saves"], table, "llrrr")
    if report.rule_savings_overlap:
        lines += [
            "",
            "Rows overlap (a pip cache that is also shadowed by a later layer counts under both rules); "
            "the totals count every byte once.",
        ]
    lines.append("")
    lines += md_table(
        ["", "Fleet"],
        [
            ["Current size", human_bytes(total)],
            ["Dead weight (all fixes)", human_bytes(report.totals.dead_weight_bytes)],
            ["After fixes", human_bytes(after)],
            ["Smaller by", percent(report.reduction_bytes, total)],
            ["Unique layer bytes (shared layers once)", human_bytes(report.totals.unique_layer_bytes)],
        ],
        "lr",
    )
    return "\n".join(lines)


def _actions(report: AuditReport) -> str:
    ranked = report.ranked_findings
    if not ranked:
        return ""
    lines = ["## Action list", "", "Biggest savings first.", ""]
    for i, item in enumerate(ranked[:MAX_ACTIONS], start=1):
        f = item.finding
        subject = f.package or f.path
        what = md_escape(f.fix) if f.fix else md_escape(f.title)
        about = f" ({md_code(subject)})" if subject else ""
        lines.append(f"{i}. **{md_escape(item.service)}**{about}: {what} ({f.rule}, saves {_saving(f)})")
    if len(ranked) > MAX_ACTIONS:
        rest = ranked[MAX_ACTIONS:]
        lines.append("")
        lines.append(
            f"…and {len(rest)} smaller action{'s' if len(rest) != 1 else ''} "
            f"({human_bytes(sum(item.finding.savings_bytes for item in rest))} together), listed under Root causes."
        )
    return "\n".join(lines)


def _cost_section(report: AuditReport) -> str:
    model = report.cost
    if not report.totals.size_bytes:
        return ""
    fleet = report.fleet_cost
    now, after = fleet.before, fleet.after
    saved_month = fleet.saved_total
    origin = "the defaults" if model == CostModel() else "configured"
    lines = [
        "## Cost",
        "",
        f"The fixes save about **{_usd(saved_month)} a month** ({_usd(saved_month * 12)} a year) "
        "under this cost model:",
        "",
    ]
    lines += md_table(
        ["", "Current", "After fixes", "Saved per month"],
        [
            [
                f"Registry storage ({_usd(model.storage_per_gb_month)} per GB-month)",
                _usd(now.storage), _usd(after.storage), _usd(fleet.saved_storage),
            ],
            [
                f"Transfer ({_usd(model.transfer_per_gb)} per GB × {model.pulls_per_month} pulls a month)",
                _usd(now.transfer), _usd(after.transfer), _usd(fleet.saved_transfer),
            ],
            ["**Total per month**", f"**{_usd(now.total)}**", f"**{_usd(after.total)}**",
             f"**{_usd(saved_month)}**"],
        ],
        "lrrr",
    )
    defaults = CostModel()
    default_note = "" if model == defaults else (
        f" (defaults: {_usd(defaults.storage_per_gb_month)}, {_usd(defaults.transfer_per_gb)}, "
        f"{defaults.pulls_per_month} pulls)"
    )
    lines += [
        "",
        f"Prices are {origin}: storage {_usd(model.storage_per_gb_month)} per GB-month, transfer "
        f"{_usd(model.transfer_per_gb)} per GB, each image pulled {model.pulls_per_month} times a month"
        f"{default_note}. Set `storage-per-gb-month`, `transfer-per-gb` and `pulls-per-month` "
        "under `[tool.deadweight.cost]`.",
        "Costs use uncompressed image sizes (decimal GB); registries store and send compressed layers and "
        "store shared layers once, so read these as an upper bound.",
    ]
    return "\n".join(lines)

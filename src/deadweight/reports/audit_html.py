"""``deadweight audit --format html``: one self-contained page to look at where the bytes go.

The page is plain HTML first: the summary, the services table, a treemap per fleet and per service (boxes laid
out here, positioned in percent, so they need no script) and each service's findings table all render with
JavaScript off. A small inline script adds what needs it: sorting a table by clicking its header, filtering
the findings, highlighting a finding's box when its row is selected (and the row when its box is), and a
``#sort=savings:asc&filter=torch`` fragment that does the same clicks on load (bookmarkable views; the browser
test drives the page with it).

No request leaves the page: no CDN, no font, no image; a Content-Security-Policy of ``default-src 'none'``
with the script allowed by its hash makes that a browser guarantee (rule links are plain anchors a reader
follows). Every string from the audited project (service names, paths, package names, evidence) is escaped:
images are hostile input. Identical reports render to identical bytes (no clock, no random ids).

Figures are the model's: sizes, dead weight, after-fix sizes, costs, savings. The treemap boxes of a service
are its bytes kept after the fixes (``after_bytes``) and, per finding, the bytes it frees that no bigger
finding already counts: the model's ``ServiceResult.finding_shares``, so overlapping
findings (a pip cache also shadowed by a later layer) share their bytes once and the boxes add up to the
service's ``dead_weight_bytes``. The audit model carries no per-distribution or per-path sizes, so the
treemap shows findings against the rest, and the layers (``ServiceResult.layers``) when an image was read.
"""

from __future__ import annotations

from deadweight._version import __version__
from deadweight.model.audit import AuditReport, ServiceResult
from deadweight.model.finding import Finding
from deadweight.reports.html_page import Box, attr, e, page, thead, treemap
from deadweight.rules import rule_help_uri, rule_title
from deadweight.units import human_bytes, money, percent

# the fleet treemap is 3:1, a service's 6:1: its coordinate space is (ratio x 100) x 100 and its element gets the
# same CSS aspect-ratio, so percent positions keep areas proportional to bytes at any width
FLEET_RATIO = 3
SERVICE_RATIO = 6

# the class of a rule, by its family (the first digit of its id): what a box is colored by
RULE_CLASSES = {
    "1": "gpu",
    "2": "unused",
    "3": "build",
    "4": "context",
    "5": "pins",
    "6": "base",
    "7": "memory",
    "8": "clutter",
}
CLASS_LABELS = {
    "kept": "kept after the fixes",
    "gpu": "GPU / accelerator stack (DW1xx)",
    "unused": "unused dependencies (DW2xx)",
    "build": "toolchain, caches, shadowed bytes (DW3xx)",
    "context": "build context clutter (DW4xx)",
    "pins": "pins (DW5xx)",
    "base": "base image (DW6xx)",
    "memory": "memory (DW7xx)",
    "clutter": "tests, docs, headers (DW8xx)",
    "other": "other rules",
    "layer": "image layer",
}


def rule_class(rule: str) -> str:
    digits = rule[2:3] if rule.upper().startswith("DW") else ""
    return RULE_CLASSES.get(digits, "other")


def render(report: AuditReport) -> str:
    """The whole report as one HTML document (UTF-8, self-contained)."""
    services = report.ranked_services
    index = {id(s): i for i, s in enumerate(services)}
    body = [
        _header(report),
        _services_table(report, services, index),
        _fleet_treemap(report, services, index),
        _controls(),
        *(_service_section(report, s, index[id(s)]) for s in services),
        _cost_section(report),
        _notes(report),
        f'<footer>deadweight {e(__version__)} · sizes in decimal units (1 GB = 10<sup>9</sup> bytes) · '
        "savings marked ~ are estimated, not measured on an image</footer>",
    ]
    return page(f"deadweight audit: {report.root}", body)


# ------------------------------------------------------------------------------------------- helpers


def _saving(finding: Finding) -> str:
    return ("~" if finding.estimated else "") + human_bytes(finding.savings_bytes)


def _rule_link(rule: str) -> str:
    return f'<a class="rule" href="{e(rule_help_uri(rule))}">{e(rule)}</a>'


# ------------------------------------------------------------------------------------------- sections


def _header(report: AuditReport) -> str:
    size, dead = report.totals.size_bytes, report.totals.dead_weight_bytes
    n = len(report.services)
    measured = len(report.measured_services)
    cost = report.fleet_cost
    items = [
        ("services", str(n) if measured == n else f"{n} ({measured} measured)", n, "services"),
        ("fleet size", human_bytes(size), size, "size"),
        ("dead weight", human_bytes(dead), dead, "dead"),
        ("after the fixes", human_bytes(report.after_bytes), report.after_bytes, "after"),
        ("smaller by", percent(report.reduction_bytes, size), report.reduction_bytes, "reduction"),
        ("unique layer bytes", human_bytes(report.totals.unique_layer_bytes), report.totals.unique_layer_bytes,
         "unique"),
        ("monthly cost", f"{money(cost.before.total)} → {money(cost.after.total)}", None, "cost"),
        ("saved a month", money(cost.saved_total), None, "saved"),
    ]
    cells = "".join(
        f'<div class="stat" id="total-{key}"{attr("data-value", raw)}>'
        f"<dt>{e(label)}</dt><dd>{e(value)}</dd></div>"
        for label, value, raw, key in items
    )
    if dead == 0:
        sentence = f"No dead weight found: the fleet is {e(human_bytes(size))}."
    elif size:
        sentence = (
            f"The fleet is <strong>{e(human_bytes(size))}</strong>; after the fixes below it would be "
            f"<strong>{e(human_bytes(report.after_bytes))}</strong>, "
            f"<strong>{e(percent(report.reduction_bytes, size))} smaller</strong>."
        )
    else:
        sentence = (
            "No image size could be measured; the fixes below save an estimated "
            f"<strong>{e(human_bytes(dead))}</strong>."
        )
    extra = []
    if report.unmeasured_dead_weight_bytes and size:
        extra.append(
            f"<p>Services of unknown size add an estimated {e(human_bytes(report.unmeasured_dead_weight_bytes))} "
            "of dead weight that is not in these totals.</p>"
        )
    if report.failed_services:
        names = ", ".join(e(s.name) for s in sorted(report.failed_services, key=lambda s: s.name))
        extra.append(f'<p class="error">Could not be audited: {names}.</p>')
    extra += [f'<p class="warning">Warning: {e(w)}</p>' for w in sorted(report.warnings)]
    offline = " (offline)" if report.offline else ""
    return (
        f'<header>\n<h1>deadweight audit: <code>{e(report.root)}</code>{offline}</h1>\n'
        f'<p class="summary">{sentence}</p>\n<dl class="totals">{cells}</dl>\n{"".join(extra)}\n</header>'
    )


def _services_table(report: AuditReport, services: list[ServiceResult], index: dict[int, int]) -> str:
    rows = []
    for s in services:
        i = index[id(s)]
        image = f"<code>{e(s.image)}</code>" if s.image else f"<em>{e(s.mode)}</em>"
        name = f'<a href="#svc-{i}">{e(s.name)}</a>'
        if s.error:
            rows.append(
                f'<tr class="failed"><td data-sort="{e(s.name)}">{name}</td><td>{image}</td>'
                f'<td data-sort="-1">–</td><td data-sort="-1">–</td><td data-sort="-1">–</td>'
                f'<td data-sort="-1">–</td><td class="error">error: {e(s.error)}</td></tr>'
            )
            continue
        top = s.top_cause
        cause = ("no findings" if top is None
                 else f"{_rule_link(top.rule)} {e(rule_title(top.rule, top.title))}")
        cost = report.service_cost(s)
        saved = "–" if cost is None else money(cost.saved_total)
        fraction = s.dead_fraction
        rows.append(
            f'<tr><td data-sort="{e(s.name)}">{name}</td><td>{image}</td>'
            f'<td class="num" data-sort="{s.size_bytes if s.size_bytes is not None else -1}">'
            f"{e(human_bytes(s.size_bytes))}</td>"
            f'<td class="num" data-sort="{s.dead_weight_bytes}">{"~" if s.all_estimated else ""}'
            f"{e(human_bytes(s.dead_weight_bytes))}</td>"
            f'<td class="num" data-sort="{-1 if fraction is None else round(fraction, 6)}">'
            f"{e(percent(s.dead_weight_bytes, s.size_bytes))}</td>"
            f'<td class="num" data-sort="{-1 if cost is None else round(cost.saved_total, 4)}">{e(saved)}</td>'
            f"<td>{cause}</td></tr>"
        )
    head = thead([("service", "Service", False), ("image", "Image", False), ("size", "Size", True),
                   ("dead", "Dead weight", True), ("share", "% dead", True), ("saved", "Saved / month", True),
                   ("cause", "Top cause", False)])
    skipped = "".join(
        f"<li>Skipped {e(', '.join(g.rules))} for {e(', '.join(g.services))}: {e(g.reason)}</li>"
        for g in report.skipped_groups
    )
    return (
        '<section id="services">\n<h2>Services</h2>\n'
        f'<table class="sortable" id="services-table">{head}<tbody>{"".join(rows)}</tbody></table>\n'
        + (f'<ul class="skipped">{skipped}</ul>\n' if skipped else "")
        + "</section>"
    )


def _controls() -> str:
    severities = "".join(f'<option value="{s}">{s}</option>' for s in ("high", "medium", "low", "info"))
    return (
        '<div class="controls" id="controls" hidden>'
        '<label>Filter findings <input type="search" id="filter" placeholder="rule, package, path, text…">'
        "</label> "
        f'<label>Severity <select id="severity"><option value="">any</option>{severities}</select></label> '
        '<span id="shown" aria-live="polite"></span></div>'
    )


def _service_section(report: AuditReport, s: ServiceResult, i: int) -> str:
    image = f"<code>{e(s.image)}</code>" if s.image else f"{e(s.mode)} mode (estimated from the project)"
    facts = (
        f"{image} · {e(human_bytes(s.size_bytes))}, {'~' if s.all_estimated else ''}"
        f"{e(human_bytes(s.dead_weight_bytes))} dead ({e(percent(s.dead_weight_bytes, s.size_bytes))})"
    )
    parts = [f'<section class="service" id="svc-{i}">', f"<h2>{e(s.name)}</h2>", f'<p class="facts">{facts}</p>']
    if s.error:
        parts.append(f'<p class="error">Could not be audited: {e(s.error)}</p>')
    parts += [f'<p class="warning">Warning: {e(w)}</p>' for w in s.warnings]
    service_map = _service_treemap(s, i)
    if service_map:
        parts.append(service_map)
    if s.layers:
        parts.append(_layer_treemap(s, i))
    if s.findings:
        parts.append(_findings_table(s, i))
    elif not s.error:
        parts.append('<p class="clean">No findings.</p>')
    parts.append("</section>")
    return "\n".join(parts)


def _findings_table(s: ServiceResult, i: int) -> str:
    rows = []
    for j, f in enumerate(s.ordered_findings):
        subject = "".join(
            f'<code class="{kind}">{e(text)}</code>' for kind, text in (("package", f.package), ("path", f.path))
            if text
        ) or "–"
        evidence = "".join(
            f'<li><span class="kind">{e(ev.kind)}</span> '
            + (f'<code class="where">{e(ev.location)}</code>: ' if ev.location else "")
            + f"{e(ev.detail)}</li>"
            for ev in f.evidence
        )
        estimated = "estimated" if f.estimated else "measured"
        rows.append(
            f'<tr id="f-{i}-{j}" data-finding="f-{i}-{j}" data-severity="{e(f.severity)}" '
            f'class="sev-{e(f.severity)} cls-{rule_class(f.rule)}">'
            f'<td data-sort="{e(f.rule)}">{_rule_link(f.rule)}</td>'
            f'<td data-sort="{int(f.severity)}">{e(f.severity)}</td>'
            f'<td data-sort="{e(f.title)}">{e(f.title)}</td>'
            f'<td data-sort="{e(f.package or f.path or "")}">{subject}</td>'
            f'<td class="num" data-sort="{f.savings_bytes}">{e(_saving(f))}</td>'
            f'<td data-sort="{estimated}">{estimated}</td>'
            f'<td data-sort="{f.confidence.rank}">{e(f.confidence.value)}</td>'
            f'<td><ul class="evidence">{evidence}</ul></td>'
            f'<td class="fix">{e(f.fix) if f.fix else "–"}</td></tr>'
        )
    head = thead([("rule", "Rule", False), ("severity", "Severity", True), ("title", "Finding", False),
                   ("subject", "Package / path", False), ("savings", "Saves", True), ("estimated", "Measured", False),
                   ("confidence", "Confidence", True), ("evidence", "Evidence", False), ("fix", "Fix", False)])
    return (
        f'<table class="sortable findings" id="findings-{i}" data-service="{i}">{head}'
        f'<tbody>{"".join(rows)}</tbody></table>'
    )


def _cost_section(report: AuditReport) -> str:
    c = report.cost
    fleet = report.fleet_cost
    rows = [
        ("storage", fleet.before.storage, fleet.after.storage, fleet.saved_storage),
        ("transfer", fleet.before.transfer, fleet.after.transfer, fleet.saved_transfer),
        ("total", fleet.before.total, fleet.after.total, fleet.saved_total),
    ]
    body = "".join(
        f"<tr><th scope=\"row\">{label}</th><td class=\"num\">{e(money(a))}</td><td class=\"num\">{e(money(b))}"
        f"</td><td class=\"num\">{e(money(d))}</td></tr>"
        for label, a, b, d in rows
    )
    return (
        '<section id="cost">\n<h2>Monthly cost</h2>\n'
        f"<p>Storage at {e(money(c.storage_per_gb_month))} per GB-month, {c.pulls_per_month} pulls a month at "
        f"{e(money(c.transfer_per_gb))} per GB. The dead weight alone costs "
        f"{e(money(report.dead_weight_cost.total))} a month.</p>\n"
        '<table id="cost-table"><thead><tr><th></th><th>now</th><th>after the fixes</th><th>saved</th></tr></thead>'
        f"<tbody>{body}</tbody></table>\n</section>"
    )


def _notes(report: AuditReport) -> str:
    if not report.rule_savings_overlap:
        return ""
    return (
        '<p class="note">Some bytes count under several rules (a cache also shadowed by a later layer): '
        "each finding's savings counts them, the totals and the treemap boxes count them once.</p>"
    )


# ------------------------------------------------------------------------------------------- treemaps


def _service_boxes(s: ServiceResult, i: int) -> list[Box]:
    boxes = [
        Box(share, f.package or f.rule, f"{f.rule} {f.title}: frees {_saving(f)}", rule_class(f.rule),
            finding=f"f-{i}-{j}")
        for j, (f, share) in enumerate(s.finding_shares)
        if share > 0
    ]
    kept = s.after_bytes
    if kept:
        boxes.append(Box(kept, "kept", f"{human_bytes(kept)} kept after the fixes", "kept"))
    return sorted(boxes, key=lambda b: -b.value)  # stable: findings keep their order among equal values


def _service_treemap(s: ServiceResult, i: int) -> str:
    boxes = _service_boxes(s, i)
    if not boxes:
        return ""
    caption = f"Where {s.name}'s bytes go: findings (colored by class) and what the fixes keep"
    return treemap(boxes, f"treemap-{i}", caption, SERVICE_RATIO)


def _layer_treemap(s: ServiceResult, i: int) -> str:
    boxes = sorted(
        (Box(size, f"layer {n + 1}", f"layer {n + 1} {digest}: {human_bytes(size)}", "layer")
         for n, (digest, size) in enumerate(s.layers) if size > 0),
        key=lambda b: -b.value,
    )
    if not boxes:
        return ""
    return treemap(boxes, f"layers-{i}", f"{s.name} by layer", SERVICE_RATIO)


def _fleet_treemap(report: AuditReport, services: list[ServiceResult], index: dict[int, int]) -> str:
    measured = [s for s in services if s.size_bytes and not s.error]
    if not measured:
        return ""
    boxes = [
        Box(s.size_bytes or 0, s.name, f"{s.name}: {human_bytes(s.size_bytes)}, "
            f"{human_bytes(s.dead_weight_bytes)} dead", "service", href=f"#svc-{index[id(s)]}",
            children=tuple(_service_boxes(s, index[id(s)])))
        for s in measured
    ]
    boxes.sort(key=lambda b: -b.value)
    left_out = len(services) - len(measured)
    note = f" ({left_out} service{'s' if left_out != 1 else ''} of unknown size not shown)" if left_out else ""
    legend = "".join(
        f'<li><span class="swatch cls-{key}"></span>{e(label)}</li>' for key, label in CLASS_LABELS.items()
        if key != "layer"
    )
    return (
        '<section id="fleet">\n<h2>Where the bytes go</h2>\n'
        + treemap(boxes, "treemap-fleet", f"The fleet by service, each by finding and kept bytes{note}",
                   FLEET_RATIO)
        + f'\n<ul class="legend">{legend}</ul>\n</section>'
    )

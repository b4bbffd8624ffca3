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

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from deadweight._version import __version__
from deadweight.model.audit import AuditReport, ServiceResult
from deadweight.model.finding import Finding
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
        f'<footer>deadweight {_e(__version__)} · sizes in decimal units (1 GB = 10<sup>9</sup> bytes) · '
        "savings marked ~ are estimated, not measured on an image</footer>",
    ]
    script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{script_hash}'; img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    return "".join([
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        '<meta name="color-scheme" content="light dark">\n',
        f"<title>deadweight audit: {_e(report.root)}</title>\n",
        f"<style>{_CSS}</style>\n</head>\n<body>\n",
        "\n".join(p for p in body if p),
        f"\n<script>{_SCRIPT}</script>\n</body>\n</html>\n",
    ])


# ------------------------------------------------------------------------------------------- helpers


def _e(text: object) -> str:
    """Escape for element content and double-quoted attributes alike."""
    return escape(str(text), quote=True)


def _attr(name: str, value: object) -> str:
    """`` name="value"`` (escaped), or nothing when ``value`` is None."""
    return "" if value is None else f' {name}="{_e(value)}"'


def _saving(finding: Finding) -> str:
    return ("~" if finding.estimated else "") + human_bytes(finding.savings_bytes)


def _rule_link(rule: str) -> str:
    return f'<a class="rule" href="{_e(rule_help_uri(rule))}">{_e(rule)}</a>'


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
        f'<div class="stat" id="total-{key}"{_attr("data-value", raw)}>'
        f"<dt>{_e(label)}</dt><dd>{_e(value)}</dd></div>"
        for label, value, raw, key in items
    )
    if dead == 0:
        sentence = f"No dead weight found: the fleet is {_e(human_bytes(size))}."
    elif size:
        sentence = (
            f"The fleet is <strong>{_e(human_bytes(size))}</strong>; after the fixes below it would be "
            f"<strong>{_e(human_bytes(report.after_bytes))}</strong>, "
            f"<strong>{_e(percent(report.reduction_bytes, size))} smaller</strong>."
        )
    else:
        sentence = (
            "No image size could be measured; the fixes below save an estimated "
            f"<strong>{_e(human_bytes(dead))}</strong>."
        )
    extra = []
    if report.unmeasured_dead_weight_bytes and size:
        extra.append(
            f"<p>Services of unknown size add an estimated {_e(human_bytes(report.unmeasured_dead_weight_bytes))} "
            "of dead weight that is not in these totals.</p>"
        )
    if report.failed_services:
        names = ", ".join(_e(s.name) for s in sorted(report.failed_services, key=lambda s: s.name))
        extra.append(f'<p class="error">Could not be audited: {names}.</p>')
    extra += [f'<p class="warning">Warning: {_e(w)}</p>' for w in sorted(report.warnings)]
    offline = " (offline)" if report.offline else ""
    return (
        f'<header>\n<h1>deadweight audit: <code>{_e(report.root)}</code>{offline}</h1>\n'
        f'<p class="summary">{sentence}</p>\n<dl class="totals">{cells}</dl>\n{"".join(extra)}\n</header>'
    )


def _services_table(report: AuditReport, services: list[ServiceResult], index: dict[int, int]) -> str:
    rows = []
    for s in services:
        i = index[id(s)]
        image = f"<code>{_e(s.image)}</code>" if s.image else f"<em>{_e(s.mode)}</em>"
        name = f'<a href="#svc-{i}">{_e(s.name)}</a>'
        if s.error:
            rows.append(
                f'<tr class="failed"><td data-sort="{_e(s.name)}">{name}</td><td>{image}</td>'
                f'<td data-sort="-1">–</td><td data-sort="-1">–</td><td data-sort="-1">–</td>'
                f'<td data-sort="-1">–</td><td class="error">error: {_e(s.error)}</td></tr>'
            )
            continue
        top = s.top_cause
        cause = ("no findings" if top is None
                 else f"{_rule_link(top.rule)} {_e(rule_title(top.rule, top.title))}")
        cost = report.service_cost(s)
        saved = "–" if cost is None else money(cost.saved_total)
        fraction = s.dead_fraction
        rows.append(
            f'<tr><td data-sort="{_e(s.name)}">{name}</td><td>{image}</td>'
            f'<td class="num" data-sort="{s.size_bytes if s.size_bytes is not None else -1}">'
            f"{_e(human_bytes(s.size_bytes))}</td>"
            f'<td class="num" data-sort="{s.dead_weight_bytes}">{"~" if s.all_estimated else ""}'
            f"{_e(human_bytes(s.dead_weight_bytes))}</td>"
            f'<td class="num" data-sort="{-1 if fraction is None else round(fraction, 6)}">'
            f"{_e(percent(s.dead_weight_bytes, s.size_bytes))}</td>"
            f'<td class="num" data-sort="{-1 if cost is None else round(cost.saved_total, 4)}">{_e(saved)}</td>'
            f"<td>{cause}</td></tr>"
        )
    head = _thead([("service", "Service", False), ("image", "Image", False), ("size", "Size", True),
                   ("dead", "Dead weight", True), ("share", "% dead", True), ("saved", "Saved / month", True),
                   ("cause", "Top cause", False)])
    skipped = "".join(
        f"<li>Skipped {_e(', '.join(g.rules))} for {_e(', '.join(g.services))}: {_e(g.reason)}</li>"
        for g in report.skipped_groups
    )
    return (
        '<section id="services">\n<h2>Services</h2>\n'
        f'<table class="sortable" id="services-table">{head}<tbody>{"".join(rows)}</tbody></table>\n'
        + (f'<ul class="skipped">{skipped}</ul>\n' if skipped else "")
        + "</section>"
    )


def _thead(columns: Sequence[tuple[str, str, bool]]) -> str:
    cells = "".join(
        f'<th scope="col" data-key="{key}"{_attr("data-num", 1 if numeric else None)} '
        f'aria-sort="none"><button type="button">{_e(label)}</button></th>'
        for key, label, numeric in columns
    )
    return f"<thead><tr>{cells}</tr></thead>"


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
    image = f"<code>{_e(s.image)}</code>" if s.image else f"{_e(s.mode)} mode (estimated from the project)"
    facts = (
        f"{image} · {_e(human_bytes(s.size_bytes))}, {'~' if s.all_estimated else ''}"
        f"{_e(human_bytes(s.dead_weight_bytes))} dead ({_e(percent(s.dead_weight_bytes, s.size_bytes))})"
    )
    parts = [f'<section class="service" id="svc-{i}">', f"<h2>{_e(s.name)}</h2>", f'<p class="facts">{facts}</p>']
    if s.error:
        parts.append(f'<p class="error">Could not be audited: {_e(s.error)}</p>')
    parts += [f'<p class="warning">Warning: {_e(w)}</p>' for w in s.warnings]
    treemap = _service_treemap(s, i)
    if treemap:
        parts.append(treemap)
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
            f'<code class="{kind}">{_e(text)}</code>' for kind, text in (("package", f.package), ("path", f.path))
            if text
        ) or "–"
        evidence = "".join(
            f'<li><span class="kind">{_e(e.kind)}</span> '
            + (f'<code class="where">{_e(e.location)}</code>: ' if e.location else "")
            + f"{_e(e.detail)}</li>"
            for e in f.evidence
        )
        estimated = "estimated" if f.estimated else "measured"
        rows.append(
            f'<tr id="f-{i}-{j}" data-finding="f-{i}-{j}" data-severity="{_e(f.severity)}" '
            f'class="sev-{_e(f.severity)} cls-{rule_class(f.rule)}">'
            f'<td data-sort="{_e(f.rule)}">{_rule_link(f.rule)}</td>'
            f'<td data-sort="{int(f.severity)}">{_e(f.severity)}</td>'
            f'<td data-sort="{_e(f.title)}">{_e(f.title)}</td>'
            f'<td data-sort="{_e(f.package or f.path or "")}">{subject}</td>'
            f'<td class="num" data-sort="{f.savings_bytes}">{_e(_saving(f))}</td>'
            f'<td data-sort="{estimated}">{estimated}</td>'
            f'<td data-sort="{f.confidence.rank}">{_e(f.confidence.value)}</td>'
            f'<td><ul class="evidence">{evidence}</ul></td>'
            f'<td class="fix">{_e(f.fix) if f.fix else "–"}</td></tr>'
        )
    head = _thead([("rule", "Rule", False), ("severity", "Severity", True), ("title", "Finding", False),
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
        f"<tr><th scope=\"row\">{label}</th><td class=\"num\">{_e(money(a))}</td><td class=\"num\">{_e(money(b))}"
        f"</td><td class=\"num\">{_e(money(d))}</td></tr>"
        for label, a, b, d in rows
    )
    return (
        '<section id="cost">\n<h2>Monthly cost</h2>\n'
        f"<p>Storage at {_e(money(c.storage_per_gb_month))} per GB-month, {c.pulls_per_month} pulls a month at "
        f"{_e(money(c.transfer_per_gb))} per GB. The dead weight alone costs "
        f"{_e(money(report.dead_weight_cost.total))} a month.</p>\n"
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


@dataclass(frozen=True, slots=True)
class Box:
    """One box of a treemap: its value in bytes, what it is, and its children (laid out inside it)."""

    value: int
    label: str  # user text: escaped when written
    title: str  # tooltip: escaped when written
    cls: str  # kept, gpu, unused, ..., layer
    finding: str | None = None  # the finding row it belongs to (f-<service>-<n>)
    href: str | None = None  # where clicking it leads (a service section)
    children: tuple[Box, ...] = ()


Rect = tuple[float, float, float, float]  # x, y, w, h in treemap units


def squarify(values: Sequence[int], rect: Rect) -> list[Rect]:
    """The squarified treemap layout (Bruls, Huizing, van Wijk): one rectangle per value, in the order given
    (biggest first gives the squarest boxes), their areas proportional to the values, tiling ``rect``."""
    x, y, w, h = rect
    total = sum(values)
    if total <= 0 or w <= 0 or h <= 0:
        return [(x, y, 0.0, 0.0) for _ in values]
    scale = w * h / total
    areas = [v * scale for v in values]
    out: list[Rect] = []
    start = 0
    while start < len(areas):
        side = min(w, h)
        end = start + 1
        while end < len(areas) and _worst(areas[start:end + 1], side) <= _worst(areas[start:end], side):
            end += 1
        row = areas[start:end]
        row_sum = sum(row)
        if w >= h:  # a column along the left edge
            cw = row_sum / h if h else 0.0
            yy = y
            for a in row:
                rh = a / cw if cw else 0.0
                out.append((x, yy, cw, rh))
                yy += rh
            x, w = x + cw, w - cw
        else:  # a row along the top edge
            rh = row_sum / w if w else 0.0
            xx = x
            for a in row:
                rw = a / rh if rh else 0.0
                out.append((xx, y, rw, rh))
                xx += rw
            y, h = y + rh, h - rh
        start = end
    return out


def _worst(row: Sequence[float], side: float) -> float:
    s = sum(row)
    smallest, biggest = min(row), max(row)
    if s <= 0 or smallest <= 0:
        return float("inf")
    return max(biggest * side * side / (s * s), s * s / (side * side * smallest))


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
    return _treemap(boxes, f"treemap-{i}", caption, SERVICE_RATIO)


def _layer_treemap(s: ServiceResult, i: int) -> str:
    boxes = sorted(
        (Box(size, f"layer {n + 1}", f"layer {n + 1} {digest}: {human_bytes(size)}", "layer")
         for n, (digest, size) in enumerate(s.layers) if size > 0),
        key=lambda b: -b.value,
    )
    if not boxes:
        return ""
    return _treemap(boxes, f"layers-{i}", f"{s.name} by layer", SERVICE_RATIO)


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
        f'<li><span class="swatch cls-{key}"></span>{_e(label)}</li>' for key, label in CLASS_LABELS.items()
        if key != "layer"
    )
    return (
        '<section id="fleet">\n<h2>Where the bytes go</h2>\n'
        + _treemap(boxes, "treemap-fleet", f"The fleet by service, each by finding and kept bytes{note}",
                   FLEET_RATIO)
        + f'\n<ul class="legend">{legend}</ul>\n</section>'
    )


def _pct(value: float, whole: float) -> str:
    return f"{round(100 * value / whole, 4):g}%" if whole else "0%"


def _treemap(boxes: Sequence[Box], element_id: str, caption: str, ratio: int) -> str:
    """A treemap ``<figure>`` (``caption`` is plain text, escaped here): boxes positioned in percent of the map
    (children in percent of their parent), so the browser lays it out without a script and areas stay
    proportional at any width."""
    total = sum(b.value for b in boxes)
    inner = _boxes(boxes, (0.0, 0.0, 100.0 * ratio, 100.0), depth=0)
    return (
        f'<figure class="treemap-figure"><div class="treemap" id="{element_id}" data-bytes="{total}" '
        f'style="aspect-ratio:{ratio}/1" '
        f'role="img" aria-label="{_e(caption)}">{inner}</div><figcaption>{_e(caption)}</figcaption></figure>'
    )


def _boxes(boxes: Sequence[Box], rect: Rect, depth: int) -> str:
    _, _, w, h = rect
    out = []
    for box, (bx, by, bw, bh) in zip(boxes, squarify([b.value for b in boxes], rect), strict=True):
        style = (
            f"left:{_pct(bx - rect[0], w)};top:{_pct(by - rect[1], h)};width:{_pct(bw, w)};height:{_pct(bh, h)}"
        )
        attrs = [f'class="box cls-{box.cls} depth-{depth}"', f'style="{style}"', f'data-bytes="{box.value}"',
                 f'title="{_e(box.title)}"']
        if box.finding:
            attrs.append(f'data-finding="{box.finding}"')
        text = f"{_e(box.label)} <small>{_e(human_bytes(box.value))}</small>"
        label = f'<a class="label" href="{box.href}">{text}</a>' if box.href else f'<span class="label">{text}</span>'
        children = ""
        if box.children:
            # children share the parent's box: coordinates relative to it, in the parent's own aspect ratio
            children = _boxes(box.children, (0.0, 0.0, bw, bh), depth + 1)
        out.append(f"<div {' '.join(attrs)}>{label}{children}</div>")
    return "".join(out)


# ------------------------------------------------------------------------------------------- style, script

_CSS = """
:root{--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--head:#f6f8fa;--sel:#ffd33d;
--kept:#c9d1d9;--gpu:#cf222e;--unused:#bf8700;--build:#8250df;--context:#0969da;--pins:#57606a;
--base:#1a7f37;--memory:#bc4c00;--clutter:#e85aad;--other:#6e7781;--layer:#54aeff;--service:transparent}
@media (prefers-color-scheme: dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#8d96a0;--line:#30363d;
--head:#161b22;--kept:#30363d;--gpu:#f85149;--unused:#d29922;--build:#a371f7;--context:#4493f8;
--pins:#8d96a0;--base:#3fb950;--memory:#db6d28;--clutter:#f778ba;--layer:#1f6feb}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1400px;padding:1rem 1.5rem;background:var(--bg);color:var(--fg);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif}
h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .5rem}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
a{color:var(--context)}
.totals{display:flex;flex-wrap:wrap;gap:.5rem;margin:.8rem 0;padding:0}
.stat{border:1px solid var(--line);border-radius:6px;padding:.4rem .8rem;min-width:9rem}
.stat dt{color:var(--muted);font-size:.8rem}.stat dd{margin:0;font-size:1.15rem;font-weight:600}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
th,td{border-bottom:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
thead th{background:var(--head);position:sticky;top:0}
th button{all:unset;cursor:pointer;font-weight:600}
th[aria-sort=ascending] button::after{content:" ▲"}th[aria-sort=descending] button::after{content:" ▼"}
td.num{text-align:right;white-space:nowrap}
code.package,code.path{display:block}
.evidence{margin:0;padding-left:1rem}.evidence .kind{color:var(--muted)}
.error{color:var(--gpu)}.warning{color:var(--unused)}.note,.facts,figcaption,footer{color:var(--muted)}
tr.selected td{background:color-mix(in srgb,var(--sel) 35%,transparent)}
tr[hidden]{display:none}
.controls{position:sticky;top:0;z-index:2;background:var(--bg);padding:.5rem 0;border-bottom:1px solid var(--line)}
.controls input{min-width:18rem}
.treemap-figure{margin:.5rem 0}
.treemap{position:relative;width:100%;outline:1px solid var(--line);overflow:hidden}
.box{position:absolute;overflow:hidden;box-shadow:inset 0 0 0 1px var(--bg);cursor:default}
.box>.label{position:relative;display:block;padding:1px 3px;font-size:11px;white-space:nowrap;color:#fff;
text-shadow:0 0 2px #000;pointer-events:auto}
.box.cls-kept>.label{color:var(--fg);text-shadow:none}
.box.depth-0.cls-service::after{content:"";position:absolute;inset:0;border:2px solid var(--fg);pointer-events:none}
.box.depth-1>.label{position:absolute;left:0;bottom:0}
.box.depth-0.cls-service>.label{color:var(--fg);text-shadow:none;font-weight:600;z-index:2}
.box.selected{outline:3px solid var(--sel);outline-offset:-3px;z-index:1}
.box[data-finding]{cursor:pointer}
.cls-kept{background:var(--kept)}.cls-gpu{background:var(--gpu)}.cls-unused{background:var(--unused)}
.cls-build{background:var(--build)}.cls-context{background:var(--context)}.cls-pins{background:var(--pins)}
.cls-base{background:var(--base)}.cls-memory{background:var(--memory)}.cls-clutter{background:var(--clutter)}
.cls-other{background:var(--other)}.cls-layer{background:var(--layer)}.cls-service{background:var(--service)}
tr.cls-gpu,tr.cls-unused,tr.cls-build,tr.cls-context,tr.cls-pins,tr.cls-base,tr.cls-memory,tr.cls-clutter,
tr.cls-other{background:none}
.legend{display:flex;flex-wrap:wrap;gap:.3rem 1rem;list-style:none;padding:0;font-size:12px}
.swatch{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em;border:1px solid var(--line)}
footer{margin:2rem 0 1rem;font-size:12px}
"""

# The script: sorting, filtering, selection, and the #fragment that replays them. It never writes markup from
# data (only classes, attributes, hidden flags and textContent), so no user text is ever parsed as HTML.
_SCRIPT = """
(function(){
"use strict";
function cellValue(row,col,numeric){
  var cell=row.cells[col];if(!cell){return numeric?-Infinity:"";}
  var v=cell.hasAttribute("data-sort")?cell.getAttribute("data-sort"):cell.textContent;
  return numeric?parseFloat(v):v.toLowerCase();
}
function sortBy(th){
  var table=th.closest("table"),tbody=table.tBodies[0],col=th.cellIndex,numeric=th.hasAttribute("data-num");
  var dir=th.getAttribute("aria-sort")==="ascending"?"descending":"ascending";
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(c){c.setAttribute("aria-sort","none");});
  th.setAttribute("aria-sort",dir);
  var rows=Array.prototype.slice.call(tbody.rows);
  rows.forEach(function(r,i){if(!r.hasAttribute("data-i")){r.setAttribute("data-i",String(i));}});
  rows.sort(function(a,b){
    var x=cellValue(a,col,numeric),y=cellValue(b,col,numeric),c=x<y?-1:(x>y?1:0);
    if(dir==="descending"){c=-c;}
    return c||(parseInt(a.getAttribute("data-i"),10)-parseInt(b.getAttribute("data-i"),10));
  });
  rows.forEach(function(r){tbody.appendChild(r);});
}
function applyFilter(){
  var text=document.getElementById("filter").value.trim().toLowerCase();
  var sev=document.getElementById("severity").value,shown=0,all=0;
  document.querySelectorAll("table.findings tbody tr").forEach(function(r){
    var ok=(!text||r.textContent.toLowerCase().indexOf(text)>=0)&&(!sev||r.getAttribute("data-severity")===sev);
    r.hidden=!ok;all+=1;if(ok){shown+=1;}
  });
  document.getElementById("shown").textContent=shown+" of "+all+" findings shown";
}
function select(id){
  document.querySelectorAll(".selected").forEach(function(e){e.classList.remove("selected");});
  if(!id){return;}
  document.querySelectorAll('[data-finding="'+id+'"]').forEach(function(e){e.classList.add("selected");});
}
document.querySelectorAll("table.sortable thead th").forEach(function(th){
  th.querySelector("button").addEventListener("click",function(){sortBy(th);});
});
document.querySelectorAll("[data-finding]").forEach(function(e){
  e.addEventListener("click",function(ev){
    if(ev.target.closest("a")){return;}
    ev.stopPropagation();select(e.getAttribute("data-finding"));
  });
});
var controls=document.getElementById("controls");controls.hidden=false;
document.getElementById("filter").addEventListener("input",applyFilter);
document.getElementById("severity").addEventListener("change",applyFilter);
function replay(){
  var params={};
  location.hash.replace(/^#/,"").split("&").forEach(function(p){
    var i=p.indexOf("=");if(p){params[decodeURIComponent(i<0?p:p.slice(0,i))]=i<0?"":decodeURIComponent(p.slice(i+1));}
  });
  if(params.sort){
    var parts=params.sort.split(":"),want=parts[1]==="desc"?"descending":"ascending";
    document.querySelectorAll('table.sortable thead th[data-key="'+parts[0].replace(/[^a-z]/g,"")+'"]')
      .forEach(function(th){
        for(var n=0;n<2&&th.getAttribute("aria-sort")!==want;n++){th.querySelector("button").click();}
      });
  }
  if("filter" in params){document.getElementById("filter").value=params.filter;}
  if("severity" in params){document.getElementById("severity").value=params.severity;}
  applyFilter();
  if(params.select){
    var target=document.querySelector('[data-finding="'+params.select.replace(/[^a-z0-9-]/g,"")+'"]');
    if(target){target.click();}
  }
  if("measure" in params){
    document.querySelectorAll(".treemap, .box").forEach(function(e){
      var r=e.getBoundingClientRect();e.setAttribute("data-px",r.width.toFixed(2)+"x"+r.height.toFixed(2));
    });
  }
}
window.addEventListener("hashchange",replay);
replay();
})();
"""

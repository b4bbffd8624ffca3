"""The HTML audit report, read back with the standard library's HTML parser: structure, figures from the model,
escaping of hostile strings, self-containment, determinism and the treemap layout."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import replace

import pytest

from deadweight.model.audit import AuditReport, ServiceResult
from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.reports import audit_html, html_page
from deadweight.rules import rule_help_uri
from deadweight.units import human_bytes, money
from tests.support.htmldom import Node, parse
from tests.unit.reports.audit_sample import sample_report


@pytest.fixture(scope="module")
def report() -> AuditReport:
    return sample_report()


@pytest.fixture(scope="module")
def page(report: AuditReport) -> str:
    return audit_html.render(report)


@pytest.fixture(scope="module")
def dom(page: str) -> Node:
    return parse(page)[0]


def service_index(report: AuditReport, name: str) -> int:
    return [s.name for s in report.ranked_services].index(name)


def service(report: AuditReport, name: str) -> ServiceResult:
    (s,) = [s for s in report.services if s.name == name]
    return s


# ---------------------------------------------------------------------------------------------- document


def test_same_report_same_bytes(report: AuditReport, page: str) -> None:
    assert audit_html.render(sample_report()) == page
    assert page.startswith("<!DOCTYPE html>\n")
    assert page.endswith("</html>\n")


def test_self_contained_and_the_csp_allows_exactly_its_script(page: str, dom: Node) -> None:
    (script,) = dom.find_all("script")
    assert "src" not in script.attrs
    assert not dom.find_all("link") and not dom.find_all("img") and not dom.find_all("iframe")
    (csp,) = [m for m in dom.find_all("meta") if m.attrs.get("http-equiv") == "Content-Security-Policy"]
    policy = csp.attrs["content"]
    assert "default-src 'none'" in policy and "img-src 'none'" in policy
    digest = base64.b64encode(hashlib.sha256(script.text_content().encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy
    # the only URLs in the page are the rule docs, as plain links (nothing is fetched at view time)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    hrefs = {a.attrs["href"] for a in dom.find_all("a") if a.attrs.get("href", "").startswith("http")}
    assert hrefs and all(h.startswith("https://github.com/deadweight/deadweight/blob/main/docs/rules/") for h in hrefs)
    assert urls <= hrefs | {"https://download.pytorch.org/whl/cpu"}  # the latter: a fix hint's text


def test_summary_figures_are_the_models(report: AuditReport, dom: Node) -> None:
    def stat(key: str) -> Node:
        return dom.by_id(f"total-{key}")

    assert stat("size").attrs["data-value"] == str(report.totals.size_bytes)
    assert human_bytes(report.totals.size_bytes) in stat("size").text_content()
    assert stat("dead").attrs["data-value"] == str(report.totals.dead_weight_bytes)
    assert stat("after").attrs["data-value"] == str(report.after_bytes)
    assert "5 (3 measured)" in stat("services").text_content()
    cost = report.fleet_cost
    assert stat("cost").text_content().endswith(f"{money(cost.before.total)} → {money(cost.after.total)}")
    assert money(cost.saved_total) in stat("saved").text_content()
    header = dom.find_all("header")[0].text_content()
    assert "Could not be audited: batch." in header
    assert "Warning: compose.yaml: service 'cron' has no build or image; skipped" in header


def test_services_table_in_rank_order_with_the_failed_one_last(report: AuditReport, dom: Node) -> None:
    rows = dom.by_id("services-table").find_all("tbody")[0].find_all("tr")
    names = [r.find_all("td")[0].text_content() for r in rows]
    assert names == [s.name for s in report.ranked_services] == ["api", "worker", "ml", "web|admin", "batch"]
    api = rows[0].find_all("td")
    assert [c.attrs.get("data-sort") for c in api[2:4]] == ["5610000000", str(service(report, "api").dead_weight_bytes)]
    assert "failed" in rows[-1].classes
    assert "error: registry:127.0.0.1:5000/batch:2: manifest unknown" in rows[-1].text_content()
    assert {a.attrs["href"] for a in dom.by_id("services-table").find_all("a") if a.attrs["href"].startswith("#")} \
        == {f"#svc-{i}" for i in range(5)}


# ---------------------------------------------------------------------------------------------- findings


def test_findings_table_per_service_with_every_column(report: AuditReport, dom: Node) -> None:
    i = service_index(report, "api")
    table = dom.by_id(f"findings-{i}")
    heads = [th.attrs["data-key"] for th in table.find_all("th")]
    assert heads == ["rule", "severity", "title", "subject", "savings", "estimated", "confidence", "evidence", "fix"]
    rows = table.find_all("tbody")[0].find_all("tr")
    expected = service(report, "api").ordered_findings
    assert [r.find_all("td")[0].text_content() for r in rows] == [f.rule for f in expected]
    for row, finding in zip(rows, expected, strict=True):
        cells = row.find_all("td")
        assert cells[0].find_all("a")[0].attrs["href"] == rule_help_uri(finding.rule)
        assert cells[4].attrs["data-sort"] == str(finding.savings_bytes)
        assert cells[5].text_content() == ("estimated" if finding.estimated else "measured")
        assert cells[6].text_content() == finding.confidence.value
        assert len(cells[7].find_all("li")) == len(finding.evidence)
        assert cells[8].text_content() == finding.fix
    # the estimated, low-confidence finding of worker says so
    (dw304,) = [r for r in dom.by_id(f"findings-{service_index(report, 'worker')}").find_all("tr")
                if r.find_all("td") and r.find_all("td")[0].text_content() == "DW304"]
    assert [c.text_content() for c in dw304.find_all("td")[4:7]] == ["~45.0 MB", "estimated", "low"]


def test_sortable_headers_are_buttons_and_numeric_ones_are_marked(dom: Node) -> None:
    for table in dom.find_all("table"):
        if "sortable" not in table.classes:
            continue
        for th in table.find_all("th"):
            assert th.attrs["aria-sort"] == "none" and th.find_all("button")
    numeric = {th.attrs["data-key"] for th in dom.find_all("th") if "data-num" in th.attrs}
    assert numeric == {"size", "dead", "share", "saved", "severity", "savings", "confidence"}


def test_controls_are_hidden_until_the_script_shows_them(dom: Node) -> None:
    assert "hidden" in dom.by_id("controls").attrs


# ---------------------------------------------------------------------------------------------- escaping

HOSTILE = '<script>document.body.dataset.pwned="1"</script>'
HOSTILE_ATTR = '"><img src=x onerror="document.body.dataset.pwned=2">'


def hostile_report() -> AuditReport:
    base = sample_report()
    api = service(base, "api")
    evil = Finding(
        rule="DW401", title=f"clutter {HOSTILE}", service=api.name, severity=Severity.LOW,
        package=HOSTILE_ATTR, path=f"/app/{HOSTILE}", savings_bytes=1_000_000,
        evidence=(Evidence("context", f"detail {HOSTILE}", f"Dockerfile{HOSTILE_ATTR}:3"),),
        fix=f"ignore {HOSTILE}",
    )
    evil_service = replace(api, name=f"api{HOSTILE}", image=f"evil:{HOSTILE_ATTR}", findings=(*api.findings, evil),
                           warnings=(f"warn {HOSTILE}",))
    return replace(base, root=f"/srv/{HOSTILE}", services=(evil_service, *base.services[1:]),
                   warnings=(f"w {HOSTILE_ATTR}",))


def test_hostile_strings_are_text_never_markup() -> None:
    page = audit_html.render(hostile_report())
    dom, tags = parse(page)
    assert tags.count("script") == 1 and "img" not in tags
    text = dom.text_content()
    assert HOSTILE in text and HOSTILE_ATTR in text
    assert page.count("<script>") == 1
    assert "&amp;lt;" not in page and "&amp;#x27;" not in page  # escaped once: a reader sees the text as it is
    labels = [n.attrs["aria-label"] for n in dom.find_all("div") if "treemap" in n.classes]
    assert any(HOSTILE in label for label in labels)
    # in attributes too (the treemap tooltips carry finding titles)
    titles = [n.attrs["title"] for n in dom.find_all("div") if "box" in n.classes]
    assert any(HOSTILE in t for t in titles)


# ---------------------------------------------------------------------------------------------- treemap


def test_squarify_tiles_the_rectangle_with_areas_in_proportion() -> None:
    values = [600, 300, 50, 30, 15, 5]
    rects = html_page.squarify(values, (0.0, 0.0, 300.0, 100.0))
    total = sum(values)
    for value, (x, y, w, h) in zip(values, rects, strict=True):
        assert w * h == pytest.approx(value / total * 300 * 100)
        assert x >= -1e-9 and x + w <= 300 + 1e-9 and y >= -1e-9 and y + h <= 100 + 1e-9
    for a, (ax, ay, aw, ah) in enumerate(rects):  # no two boxes overlap
        for bx, by, bw, bh in rects[a + 1:]:
            overlap_w = min(ax + aw, bx + bw) - max(ax, bx)
            overlap_h = min(ay + ah, by + bh) - max(ay, by)
            assert overlap_w <= 1e-9 or overlap_h <= 1e-9
    assert html_page.squarify([0, 0], (0.0, 0.0, 10.0, 10.0)) == [(0.0, 0.0, 0.0, 0.0)] * 2


def test_finding_shares_count_overlapping_bytes_once(report: AuditReport) -> None:
    api = service(report, "api")
    assert [f for f, _ in api.finding_shares] == api.ordered_findings
    shares = {f.rule: share for f, share in api.finding_shares}
    # DW302's pip cache claims the 95 MB DW303 shadows: DW303 adds nothing of its own
    assert shares == {"DW101": 4_490_000_000, "DW302": 180_000_000, "DW303": 0, "DW201": 70_000_000, "DW501": 0}
    assert sum(shares.values()) == api.dead_weight_bytes


def _pct(style: str, prop: str) -> float:
    match = re.search(rf"(?:^|;){prop}:([0-9.e-]+)%", style)
    assert match, (prop, style)
    return float(match.group(1)) / 100


def test_service_treemap_boxes_are_its_kept_bytes_and_finding_shares(report: AuditReport, dom: Node) -> None:
    i = service_index(report, "api")
    api = service(report, "api")
    treemap = dom.by_id(f"treemap-{i}")
    boxes = [n for n in treemap.iter() if "box" in n.classes]
    assert sum(int(b.attrs["data-bytes"]) for b in boxes) == int(treemap.attrs["data-bytes"]) == api.size_bytes
    kept = [b for b in boxes if "cls-kept" in b.classes]
    assert [int(b.attrs["data-bytes"]) for b in kept] == [api.after_bytes]
    findings = {b.attrs["data-finding"]: int(b.attrs["data-bytes"]) for b in boxes if "data-finding" in b.attrs}
    rows = {r.attrs["id"]: r.find_all("td")[0].text_content() for r in dom.by_id(f"findings-{i}").find_all("tr")
            if "id" in r.attrs}
    assert {rows[k]: v for k, v in findings.items()} == {"DW101": 4_490_000_000, "DW302": 180_000_000,
                                                          "DW201": 70_000_000}
    # positions in percent: each box's area share equals its byte share (the map's aspect ratio cancels out)
    for box in boxes:
        style = box.attrs["style"]
        area = _pct(style, "width") * _pct(style, "height")
        assert area == pytest.approx(int(box.attrs["data-bytes"]) / api.size_bytes, rel=1e-3, abs=1e-5)
    colors = {rows[b.attrs["data-finding"]]: (b.classes & {"cls-gpu", "cls-build", "cls-unused"}) for b in boxes
              if "data-finding" in b.attrs}
    assert colors == {"DW101": {"cls-gpu"}, "DW302": {"cls-build"}, "DW201": {"cls-unused"}}


def test_fleet_treemap_nests_services_and_leaves_out_the_unmeasured(report: AuditReport, dom: Node) -> None:
    fleet = dom.by_id("treemap-fleet")
    top = [n for n in fleet.children if "box" in n.classes]
    assert [n.find_all("a")[0].text_content().rsplit(" ", 2)[0] for n in top] == ["api", "worker", "web|admin"]
    assert int(fleet.attrs["data-bytes"]) == report.totals.size_bytes
    assert "2 services of unknown size not shown" in dom.find_all("figcaption")[0].text_content()
    for box in top:
        children = [c for c in box.children if "box" in c.classes]
        assert sum(int(c.attrs["data-bytes"]) for c in children) == int(box.attrs["data-bytes"])


def test_layer_treemap_when_the_image_was_read(report: AuditReport, dom: Node) -> None:
    i = service_index(report, "worker")
    layers = [n for n in dom.by_id(f"layers-{i}").iter() if "box" in n.classes]
    assert sorted(int(b.attrs["data-bytes"]) for b in layers) == sorted(size for _, size in
                                                                         service(report, "worker").layers)
    assert not dom.find_all(id=f"layers-{service_index(report, 'ml')}")

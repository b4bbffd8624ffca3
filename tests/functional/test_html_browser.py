"""The HTML audit report in a real browser: Debian's chromium, headless, on the example fleet's static audit.

``--dump-dom`` prints the DOM after the page's script ran; the report's ``#sort=…&filter=…&select=…&measure``
fragment replays clicks on load (it calls ``click()`` on the header buttons, so the click handlers are what is
tested) and ``measure`` writes each treemap box's rendered size (``getBoundingClientRect``) into ``data-px``.
A net log of the browser shows that no request leaves the page (checked against a control page that does make
requests). A screenshot is written to ``$DEADWEIGHT_TEST_ARTIFACTS`` (default ``build/test-artifacts``).

Needs only chromium (no lab): without it the tests are skipped, except in CI (CI=true), where a missing browser
is a failure (scripts/lab installs it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.browser import browse, page_requests, require_chromium
from tests.support.htmldom import Node, parse

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
HOSTILE_SERVICE = "<script>document.body.dataset.pwned='2'</script>"
HOSTILE_FILE = '<img src=x onerror="document.body.dataset.pwned=1">.csv'


@pytest.fixture(scope="module")
def chromium() -> str:
    return require_chromium()


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="dw-html-") as d:
        yield Path(d)


def deadweight(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {**env, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}
    return subprocess.run([sys.executable, "-m", "deadweight", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def expected_codes(doc: dict[str, object]) -> tuple[int, ...]:
    """The exit codes an audit with this JSON report may have: 3 when a service could not be checked (an
    example's psycopg2 is an sdist the static estimate cannot size: "not checked" is never clean), else 0 or 1
    by the fail level."""
    services = doc["services"]
    assert isinstance(services, list)
    return (3,) if any(s["error"] or s.get("unresolved") for s in services) else (0, 1)


@pytest.fixture(scope="module")
def example_report(workdir: Path, examples_env: dict[str, str]) -> tuple[Path, dict[str, object]]:
    """The example fleet's static audit as HTML and as JSON (the same model, to compare figures)."""
    out = workdir / "report.html"
    proc = deadweight(examples_env, "audit", str(EXAMPLES), "--offline", "--format", "html", "-o", str(out))
    again = workdir / "again.html"
    deadweight(examples_env, "audit", str(EXAMPLES), "--offline", "--format", "html", "-o", str(again))
    assert out.read_bytes() == again.read_bytes()  # deterministic through the CLI too
    js = deadweight(examples_env, "audit", str(EXAMPLES), "--offline", "--format", "json")
    doc = json.loads(js.stdout)
    assert proc.returncode in expected_codes(doc) and js.returncode == proc.returncode, proc.stderr
    return out, doc


def services_by_name(doc: dict[str, object]) -> dict[str, dict[str, object]]:
    services = doc["services"]
    assert isinstance(services, list)
    return {s["name"]: s for s in services}


def finding_tables(dom: Node) -> list[Node]:
    return [t for t in dom.find_all("table") if "findings" in t.classes]


def body_rows(table: Node) -> list[Node]:
    return table.find_all("tbody")[0].find_all("tr")


def px(node: Node) -> tuple[float, float]:
    w, h = node.attrs["data-px"].split("x")
    return float(w), float(h)


# ---------------------------------------------------------------------------------------------- tests


def test_rows_totals_and_services_after_the_script_ran(chromium: str, example_report: tuple[Path, dict]) -> None:
    page, doc = example_report
    started = time.monotonic()
    dom, _ = parse(browse(chromium, page))
    print(f"\nexample fleet report ({page.stat().st_size} bytes): loaded and rendered in "
          f"{time.monotonic() - started:.2f}s (browser start included)")
    services = services_by_name(doc)
    assert "hidden" not in dom.by_id("controls").attrs  # the script ran
    found = sum(len(s["findings"]) for s in services.values())
    assert dom.by_id("shown").text_content() == f"{found} of {found} findings shown"
    rows = body_rows(dom.by_id("services-table"))
    assert sorted(r.find_all("td")[0].text_content() for r in rows) == sorted(services)
    totals = doc["totals"]
    assert isinstance(totals, dict)
    for key, field in (("size", "size_bytes"), ("dead", "dead_weight_bytes"), ("after", "after_bytes")):
        assert int(dom.by_id(f"total-{key}").attrs["data-value"]) == totals[field]
    for table in finding_tables(dom):
        section = next(s for s in dom.find_all("section") if table in s.iter())
        name = section.find_all("h2")[0].text_content()
        assert len(body_rows(table)) == len(services[name]["findings"])


def test_treemap_boxes_are_sized_by_bytes_in_the_browser(chromium: str, example_report: tuple[Path, dict]) -> None:
    page, doc = example_report
    dom, _ = parse(browse(chromium, page, fragment="measure"))
    services = services_by_name(doc)
    fleet = dom.by_id("treemap-fleet")
    fw, fh = px(fleet)
    assert fw > 1000 and fh == pytest.approx(fw / 3, abs=1)
    total = int(fleet.attrs["data-bytes"])
    assert total == sum(s["size_bytes"] for s in services.values() if s["size_bytes"])
    top = [n for n in fleet.children if "box" in n.classes]
    assert len(top) == len(services)

    def check(box: Node, whole_bytes: int, whole_px: float) -> None:
        w, h = px(box)
        expected = int(box.attrs["data-bytes"]) / whole_bytes * whole_px
        assert w * h == pytest.approx(expected, rel=0.01, abs=w + h + 1), box.attrs

    for box in top:
        name = box.find_all("a")[0].text_content().rsplit(" ", 2)[0]
        assert int(box.attrs["data-bytes"]) == services[name]["size_bytes"]
        check(box, total, fw * fh)
        bw, bh = px(box)
        kids = [c for c in box.children if "box" in c.classes]
        for kid in kids:
            check(kid, int(box.attrs["data-bytes"]), bw * bh)
        kept = [int(k.attrs["data-bytes"]) for k in kids if "cls-kept" in k.classes]
        assert kept == ([services[name]["after_bytes"]] if services[name]["after_bytes"] else [])
    # torch-cpu-api's CUDA torch is the one red box of its service, as big as its dead weight
    torch = next(b for b in top if b.find_all("a")[0].text_content().startswith("torch-cpu-api "))
    (gpu,) = [c for c in torch.children if "cls-gpu" in c.classes]
    assert int(gpu.attrs["data-bytes"]) == services["torch-cpu-api"]["dead_weight_bytes"]


def _savings(table: Node) -> list[int]:
    return [int(r.find_all("td")[4].attrs["data-sort"]) for r in body_rows(table)]


def test_clicking_a_header_sorts_and_a_second_click_reverses(chromium: str, example_report: tuple[Path, dict]) -> None:
    page, _ = example_report
    default = finding_tables(parse(browse(chromium, page))[0])
    ascending = finding_tables(parse(browse(chromium, page, fragment="sort=savings:asc"))[0])
    descending = finding_tables(parse(browse(chromium, page, fragment="sort=savings:desc"))[0])
    changed = False
    for d, a, z in zip(default, ascending, descending, strict=True):
        assert _savings(a) == sorted(_savings(d))
        assert _savings(z) == sorted(_savings(d), reverse=True)
        head = {th.attrs["data-key"]: th.attrs["aria-sort"] for th in a.find_all("th")}
        assert head["savings"] == "ascending" and head["rule"] == "none"
        assert {th.attrs["data-key"]: th.attrs["aria-sort"] for th in z.find_all("th")}["savings"] == "descending"
        changed |= [r.attrs["id"] for r in body_rows(a)] != [r.attrs["id"] for r in body_rows(d)]
    assert changed
    dom = parse(browse(chromium, page, fragment="sort=service:asc"))[0]
    names = [r.find_all("td")[0].text_content() for r in body_rows(dom.by_id("services-table"))]
    assert names == sorted(names)


def test_filter_and_selection(chromium: str, example_report: tuple[Path, dict]) -> None:
    page, doc = example_report
    dom = parse(browse(chromium, page, fragment="filter=scipy&select=f-1-0"))[0]
    rows = [r for t in finding_tables(dom) for r in body_rows(t)]
    visible = [r for r in rows if "hidden" not in r.attrs]
    assert [r.find_all("td")[3].text_content() for r in visible] == ["scipy"]
    assert dom.by_id("shown").text_content() == f"1 of {len(rows)} findings shown"
    selected = [n for n in dom.iter() if "selected" in n.classes]
    assert {n.tag for n in selected} == {"tr", "div"}  # the row, its box in the fleet map and in its service's
    assert all(n.attrs["data-finding"] == "f-1-0" for n in selected) and len(selected) == 3
    dom = parse(browse(chromium, page, fragment="severity=high"))[0]
    visible = [r for t in finding_tables(dom) for r in body_rows(t) if "hidden" not in r.attrs]
    assert {r.attrs["data-severity"] for r in visible} == {"high"}
    assert len(visible) == sum(1 for s in doc["services"] for f in s["findings"] if f["severity"] == "high")


def test_with_javascript_off_the_page_is_all_there(chromium: str, example_report: tuple[Path, dict],
                                                   workdir: Path) -> None:
    """The page's script blocked (its CSP hash no longer matches: the browser refuses to run it, as it would
    refuse an injected one; headless chromium's --dump-dom needs JavaScript itself, so no switch turns it off)."""
    page, doc = example_report
    blocked = workdir / "blocked.html"
    text = page.read_text()
    assert text.count("script-src 'sha256-") == 1
    blocked.write_text(text.replace("script-src 'sha256-", "script-src 'sha256-x"))
    dom = parse(browse(chromium, blocked))[0]
    assert dom.by_id("shown").text_content() == ""  # the script did not run
    assert "hidden" in dom.by_id("controls").attrs
    assert sum(len(body_rows(t)) for t in finding_tables(dom)) == sum(len(s["findings"]) for s in doc["services"])
    assert len([n for n in dom.by_id("treemap-fleet").iter() if "box" in n.classes]) > len(doc["services"])


def test_no_request_leaves_the_page(chromium: str, example_report: tuple[Path, dict], workdir: Path) -> None:
    page, _ = example_report
    log = workdir / "net.json"
    browse(chromium, page, f"--log-net-log={log}", fragment="select=f-0-0&measure")
    assert page_requests(log) == []
    # the control: the same page made to fetch two things (and without its CSP) shows both in the net log
    control = workdir / "control.html"
    text = page.read_text()
    csp_start = text.index('<meta http-equiv="Content-Security-Policy"')
    text = text[:csp_start] + text[text.index(">", csp_start) + 1:]
    control.write_text(text.replace("<body>", '<body><img src="http://127.0.0.1:9/x.png">'
                                              '<script src="https://cdn.invalid/x.js"></script>', 1))
    browse(chromium, control, f"--log-net-log={log}")
    assert sorted(page_requests(log)) == ["http://127.0.0.1:9/x.png", "https://cdn.invalid/x.js"]


def test_hostile_names_are_shown_as_text_and_never_run(chromium: str, workdir: Path,
                                                       examples_env: dict[str, str]) -> None:
    project = workdir / "hostile"
    shutil.copytree(EXAMPLES / "legacy-api", project / "svc")
    (project / "svc" / "data" / HOSTILE_FILE).write_text("x" * 50_000)  # the biggest data file: named as e.g.
    (project / "docker-compose.yml").write_text(f'services:\n  "{HOSTILE_SERVICE}":\n    build: ./svc\n')
    page = workdir / "hostile.html"
    proc = deadweight(examples_env, "audit", str(project), "--offline", "--format", "html", "-o", str(page))
    js = deadweight(examples_env, "audit", str(project), "--offline", "--format", "json")
    assert proc.returncode in expected_codes(json.loads(js.stdout)), proc.stderr
    dom, tags = parse(browse(chromium, page, fragment="measure"))
    (body,) = dom.find_all("body")
    assert "data-pwned" not in body.attrs
    assert tags.count("script") == 1 and "img" not in tags
    text = dom.text_content()
    assert HOSTILE_SERVICE in text and HOSTILE_FILE in text


def test_screenshot(chromium: str, example_report: tuple[Path, dict]) -> None:
    page, _ = example_report
    artifacts = Path(os.environ.get("DEADWEIGHT_TEST_ARTIFACTS") or REPO / "build" / "test-artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "audit-html-examples.png"
    shot.unlink(missing_ok=True)
    browse(chromium, page, f"--screenshot={shot}", fragment="select=f-0-0")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"\nscreenshot: {shot}")

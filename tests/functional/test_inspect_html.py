"""``deadweight inspect --format html`` on the tiny OCI example: the page read back with html.parser (figures
against inspect's JSON of the same image) and in headless chromium (boxes' rendered areas proportional to bytes,
zoom, sorting, no request leaving the page, the page complete with its script blocked, a screenshot)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tests.support.browser import browse, page_requests, require_chromium
from tests.support.htmldom import Node, parse

REPO = Path(__file__).resolve().parents[2]
TINY = f"oci:{REPO / 'examples' / 'tiny-image'}"


def deadweight(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "deadweight", *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("inspect-html") / "tiny.html"
    deadweight("inspect", TINY, "--format", "html", "--breakdown", "-o", str(out))
    assert deadweight("inspect", TINY, "--format", "html", "--breakdown") == out.read_text()  # deterministic
    doc = json.loads(deadweight("inspect", TINY, "--format", "json", "--breakdown", "--top", "50"))
    return out, doc


def boxes(node: Node) -> list[Node]:
    return [c for c in node.children if "box" in c.classes]


def px(node: Node) -> tuple[float, float]:
    w, h = node.attrs["data-px"].split("x")
    return float(w), float(h)


def test_figures_are_inspects(page: tuple[Path, dict[str, Any]]) -> None:
    path, doc = page
    dom, tags = parse(path.read_text())
    assert tags.count("script") == 1 and "img" not in tags
    assert int(dom.by_id("total-size").attrs["data-value"]) == doc["size_bytes"]
    assert int(dom.by_id("total-shadowed").attrs["data-value"]) == doc["shadowed_bytes"]
    assert int(dom.by_id("total-files").attrs["data-value"]) == doc["file_count"]
    rows = dom.by_id("layers-table").find_all("tbody")[0].find_all("tr")
    assert len(rows) == len(doc["layers"])
    layer_map = dom.by_id("treemap-layers")
    assert int(layer_map.attrs["data-bytes"]) == doc["size_bytes"]
    layers = {b.find_all("a")[0].text_content().split(" ")[1]: b for b in boxes(layer_map)}
    by_index = {str(layer["index"]): layer for layer in doc["layers"] if layer["size_bytes"]}
    assert set(layers) == set(by_index)  # every non-empty layer, no empty one
    for index, box in layers.items():
        assert int(box.attrs["data-bytes"]) == by_index[index]["size_bytes"]
        hidden = [c for c in boxes(box) if "cls-shadowed" in c.classes]
        assert sum(int(c.attrs["data-bytes"]) for c in hidden) == by_index[index]["shadowed_bytes"]

    def check(box: Node) -> None:  # every box holds exactly its children's bytes
        kids = boxes(box)
        if kids:
            assert sum(int(k.attrs["data-bytes"]) for k in kids) == int(box.attrs["data-bytes"]), box.attrs
            for kid in kids:
                check(kid)

    for box in boxes(layer_map):
        check(box)
    # the largest files are leaves of the path map at their size, under their own path
    leaves = {
        b.attrs["title"].rsplit(": ", 1)[0]: int(b.attrs["data-bytes"])
        for b in layer_map.iter()
        if "box" in b.classes and not boxes(b) and "cls-file" in b.classes
    }
    for entry in doc["largest_paths"]:
        assert leaves["/" + entry["path"].lstrip("/")] == entry["size_bytes"]
    classes = dom.by_id("treemap-classes")
    assert int(classes.attrs["data-bytes"]) == sum(doc["breakdown"].values()) == doc["size_bytes"]


def test_without_breakdown_no_class_map(tmp_path: Path) -> None:
    dom, _ = parse(deadweight("inspect", TINY, "--format", "html"))
    assert not [n for n in dom.iter() if n.attrs.get("id") == "treemap-classes"]
    assert dom.by_id("treemap-layers")


def test_environments_by_distribution() -> None:
    dom, _ = parse(deadweight("inspect", TINY, "--format", "html", "--packages"))
    doc = json.loads(deadweight("inspect", TINY, "--format", "json", "--packages"))
    envs = doc["python"]["environments"]
    envs_map = dom.by_id("treemap-envs")
    assert int(envs_map.attrs["data-bytes"]) == sum(env["size_bytes"] for env in envs) > 0
    by_path = {b.attrs["title"].rsplit(": ", 1)[0]: b for b in boxes(envs_map)}
    for env in envs:
        box = by_path[env["path"]]
        assert int(box.attrs["data-bytes"]) == env["size_bytes"]
        dists = {k.attrs["title"].rsplit(": ", 1)[0]: int(k.attrs["data-bytes"]) for k in boxes(box)}
        expected = {f"{d['display_name']} {d['version']}": d["size_bytes"] for d in env["distributions"]}
        if env["orphan_bytes"]:
            expected["files no distribution owns"] = env["orphan_bytes"]
        assert dists == expected


def test_in_the_browser_boxes_zoom_and_sort(page: tuple[Path, dict[str, Any]]) -> None:
    chromium = require_chromium()
    path, doc = page
    dom, _ = parse(browse(chromium, path, fragment="measure"))
    layer_map = dom.by_id("treemap-layers")
    mw, mh = px(layer_map)
    assert mw > 1000 and mh == pytest.approx(mw / 3, abs=1)

    def check(box: Node, whole_bytes: int, whole_px: float) -> None:
        w, h = px(box)
        expected = int(box.attrs["data-bytes"]) / whole_bytes * whole_px
        assert w * h == pytest.approx(expected, rel=0.01, abs=w + h + 1), box.attrs
        for kid in boxes(box):
            check(kid, int(box.attrs["data-bytes"]), w * h)

    for box in boxes(layer_map):
        check(box, int(layer_map.attrs["data-bytes"]), mw * mh)
    # zoom into the deepest directory with children: it fills the map, its children keep their shares
    deepest = max(
        (n for n in layer_map.iter() if n.attrs.get("id", "").startswith("treemap-layers-")),
        key=lambda n: n.attrs["id"].count("-"),
    )
    zoomed, _ = parse(browse(chromium, path, fragment=f"zoom={deepest.attrs['id']}&measure"))
    target = zoomed.by_id(deepest.attrs["id"])
    assert "zoomed" in target.classes
    assert px(target) == pytest.approx(px(zoomed.by_id("treemap-layers")), abs=1)
    for kid in boxes(target):
        check(kid, int(target.attrs["data-bytes"]), px(target)[0] * px(target)[1])
    out, _ = parse(browse(chromium, path, fragment="zoom=&measure"))
    assert not [n for n in out.iter() if "zoomed" in n.classes]
    # the layers table sorts by size, biggest first
    dom, _ = parse(browse(chromium, path, fragment="sort=size:desc"))
    sizes = [
        int(r.find_all("td")[1].attrs["data-sort"])
        for r in dom.by_id("layers-table").find_all("tbody")[0].find_all("tr")
    ]
    assert sizes == sorted((layer["size_bytes"] for layer in doc["layers"]), reverse=True)


def test_in_the_browser_nothing_leaves_and_no_script_is_needed(
    page: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    chromium = require_chromium()
    path, _ = page
    log = tmp_path / "net.json"
    browse(chromium, path, f"--log-net-log={log}", fragment="zoom=treemap-layers-0&measure")
    assert page_requests(log) == []
    blocked = tmp_path / "blocked.html"
    text = path.read_text()
    blocked.write_text(text.replace("script-src 'sha256-", "script-src 'sha256-x"))
    shown, _ = parse(browse(chromium, blocked, fragment="zoom=treemap-layers-0"))
    every, _ = parse(text)
    assert not [n for n in shown.iter() if "zoomed" in n.classes]  # the script did not run
    count = len([n for n in every.iter() if "box" in n.classes])
    assert len([n for n in shown.iter() if "box" in n.classes]) == count > 10
    artifacts = Path(os.environ.get("DEADWEIGHT_TEST_ARTIFACTS") or REPO / "build" / "test-artifacts")
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "inspect-html-tiny.png"
    browse(chromium, path, f"--screenshot={shot}")
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

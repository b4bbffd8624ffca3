"""The parts every deadweight HTML page shares: the page itself (a Content-Security-Policy of
``default-src 'none'`` with the one inline script allowed by its hash, the style), escaping, sortable table
heads, and the treemap (laid out here with the squarified algorithm, boxes positioned in percent of their
parent, so the map needs no script and areas stay proportional to bytes at any width).

One place for them: ``audit_html`` and ``inspect_html`` differ only in the sections they write. The script adds
what needs one: sorting a table by its header, filtering findings (when the page has the controls), selecting
a finding's row and boxes, zooming a treemap into a box (a click on a box, or its label's ``#zoom=ID`` link:
the box and each box around it fill their parent; "whole map" zooms out), and the
``#sort=…&filter=…&select=…&zoom=…&measure`` fragment that replays those on load (bookmarkable views; the
browser tests drive the pages with it). Identical input renders to identical bytes (no clock, no random ids).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from deadweight.units import human_bytes


def e(text: object) -> str:
    """Escape for element content and double-quoted attributes alike."""
    return escape(str(text), quote=True)


def attr(name: str, value: object) -> str:
    """`` name="value"`` (escaped), or nothing when ``value`` is None."""
    return "" if value is None else f' {name}="{e(value)}"'


def page(title: str, body: Sequence[str]) -> str:
    """A whole HTML document (UTF-8, self-contained): ``title`` is plain text, ``body`` the sections' markup."""
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode()).digest()).decode()
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; "
        f"script-src 'sha256-{script_hash}'; img-src 'none'; base-uri 'none'; form-action 'none'"
    )
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            '<meta name="color-scheme" content="light dark">\n',
            f"<title>{e(title)}</title>\n",
            f"<style>{CSS}</style>\n</head>\n<body>\n",
            "\n".join(p for p in body if p),
            f"\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        ]
    )


def thead(columns: Sequence[tuple[str, str, bool]]) -> str:
    """A sortable table's head: (key, label, numeric) per column; the script sorts by ``data-sort`` values."""
    cells = "".join(
        f'<th scope="col" data-key="{key}"{attr("data-num", 1 if numeric else None)} '
        f'aria-sort="none"><button type="button">{e(label)}</button></th>'
        for key, label, numeric in columns
    )
    return f"<thead><tr>{cells}</tr></thead>"


# ------------------------------------------------------------------------------------------- treemaps


@dataclass(frozen=True, slots=True)
class Box:
    """One box of a treemap: its value in bytes, what it is, and its children (laid out inside it)."""

    value: int
    label: str  # user text: escaped when written
    title: str  # tooltip: escaped when written
    cls: str  # what colors it: kept, gpu, unused, ..., layer, dir, file
    finding: str | None = None  # the finding row it belongs to (f-<service>-<n>)
    href: str | None = None  # where clicking its label leads (a service section); else a box with children zooms
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
        while end < len(areas) and _worst(areas[start : end + 1], side) <= _worst(areas[start:end], side):
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


def _pct(value: float, whole: float) -> str:
    return f"{round(100 * value / whole, 4):g}%" if whole else "0%"


def treemap(boxes: Sequence[Box], element_id: str, caption: str, ratio: int) -> str:
    """A treemap ``<figure>`` (``caption`` is plain text, escaped here) whose coordinate space is
    (``ratio`` x 100) x 100, its element the same CSS aspect-ratio: boxes positioned in percent of the map
    (children in percent of their parent), so the browser lays it out without a script and areas stay
    proportional at any width. A box with children and no ``href`` gets the id ``<element_id>-<i>-<j>...`` (its
    place in the tree) and a label that zooms into it."""
    total = sum(b.value for b in boxes)
    inner = _boxes(boxes, (0.0, 0.0, 100.0 * ratio, 100.0), 0, element_id)
    zoomable = any(b.children and not b.href for b in boxes)
    out = ' <a class="zoom-out" href="#zoom=">whole map</a>' if zoomable else ""
    return (
        f'<figure class="treemap-figure"><div class="treemap" id="{element_id}" data-bytes="{total}" '
        f'style="aspect-ratio:{ratio}/1" '
        f'role="img" aria-label="{e(caption)}">{inner}</div><figcaption>{e(caption)}{out}</figcaption></figure>'
    )


def _boxes(boxes: Sequence[Box], rect: Rect, depth: int, prefix: str) -> str:
    _, _, w, h = rect
    out = []
    for n, (box, (bx, by, bw, bh)) in enumerate(zip(boxes, squarify([b.value for b in boxes], rect), strict=True)):
        style = f"left:{_pct(bx - rect[0], w)};top:{_pct(by - rect[1], h)};width:{_pct(bw, w)};height:{_pct(bh, h)}"
        box_id = f"{prefix}-{n}"
        attrs = [
            f'class="box cls-{box.cls} depth-{depth}"',
            f'style="{style}"',
            f'data-bytes="{box.value}"',
            f'title="{e(box.title)}"',
        ]
        zoomable = bool(box.children) and not box.href
        if zoomable:
            attrs.insert(0, f'id="{box_id}"')
        if box.finding:
            attrs.append(f'data-finding="{box.finding}"')
        text = f"{e(box.label)} <small>{e(human_bytes(box.value))}</small>"
        href = box.href or (f"#zoom={box_id}" if zoomable else None)
        label = f'<a class="label" href="{href}">{text}</a>' if href else f'<span class="label">{text}</span>'
        children = ""
        if box.children:
            # children share the parent's box: coordinates relative to it, in the parent's own aspect ratio
            children = _boxes(box.children, (0.0, 0.0, bw, bh), depth + 1, box_id)
        out.append(f"<div {' '.join(attrs)}>{label}{children}</div>")
    return "".join(out)


# ------------------------------------------------------------------------------------------- style, script

CSS = """
:root{--bg:#fff;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--head:#f6f8fa;--sel:#ffd33d;
--kept:#c9d1d9;--gpu:#cf222e;--unused:#bf8700;--build:#8250df;--context:#0969da;--pins:#57606a;
--base:#1a7f37;--memory:#bc4c00;--clutter:#e85aad;--other:#6e7781;--layer:#54aeff;--service:transparent;
--dir:#8c959f;--file:#54aeff;--folded:#afb8c1;--shadowed:#cf222e}
@media (prefers-color-scheme: dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#8d96a0;--line:#30363d;
--head:#161b22;--kept:#30363d;--gpu:#f85149;--unused:#d29922;--build:#a371f7;--context:#4493f8;
--pins:#8d96a0;--base:#3fb950;--memory:#db6d28;--clutter:#f778ba;--layer:#1f6feb;--dir:#484f58;--file:#1f6feb;
--folded:#6e7681;--shadowed:#f85149}}
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
.box .box>.label{position:absolute;left:0;bottom:0}
.box.depth-0.cls-service>.label{color:var(--fg);text-shadow:none;font-weight:600;z-index:2}
.box.selected{outline:3px solid var(--sel);outline-offset:-3px;z-index:1}
.box.zoomed{left:0!important;top:0!important;width:100%!important;height:100%!important;z-index:3}
.box.zoomed.cls-service,.box.zoomed.cls-layer-group{background:var(--bg)}
.box.zoomed>.label{position:relative}
.zoom-out{font-size:12px;margin-left:.5rem}
.box[data-finding]{cursor:pointer}
.cls-kept{background:var(--kept)}.cls-gpu{background:var(--gpu)}.cls-unused{background:var(--unused)}
.cls-build{background:var(--build)}.cls-context{background:var(--context)}.cls-pins{background:var(--pins)}
.cls-base{background:var(--base)}.cls-memory{background:var(--memory)}.cls-clutter{background:var(--clutter)}
.cls-other{background:var(--other)}.cls-layer{background:var(--layer)}.cls-service{background:var(--service)}
.cls-layer-group{background:var(--service)}.cls-dir{background:var(--dir)}.cls-file{background:var(--file)}
.cls-folded{background:var(--folded)}.cls-shadowed{background:var(--shadowed)}
.cls-bd-gpu{background:var(--gpu)}.cls-bd-ml{background:var(--memory)}.cls-bd-scientific{background:var(--unused)}
.cls-bd-other_python{background:var(--context)}.cls-bd-toolchain{background:var(--build)}
.cls-bd-other_os{background:var(--pins)}.cls-bd-caches{background:var(--clutter)}.cls-bd-tests_docs{background:var(--base)}
.cls-bd-application{background:var(--layer)}.cls-bd-shadowed{background:var(--shadowed)}.cls-bd-other{background:var(--other)}
.box.depth-0.cls-layer-group::after{content:"";position:absolute;inset:0;border:2px solid var(--fg);pointer-events:none}
.box.depth-0.cls-layer-group>.label{color:var(--fg);text-shadow:none;font-weight:600;z-index:2}
tr.cls-gpu,tr.cls-unused,tr.cls-build,tr.cls-context,tr.cls-pins,tr.cls-base,tr.cls-memory,tr.cls-clutter,
tr.cls-other{background:none}
.legend{display:flex;flex-wrap:wrap;gap:.3rem 1rem;list-style:none;padding:0;font-size:12px}
.swatch{display:inline-block;width:.9em;height:.9em;margin-right:.3em;vertical-align:-.1em;border:1px solid var(--line)}
footer{margin:2rem 0 1rem;font-size:12px}
"""

# The script: sorting, filtering, selection, zoom, and the #fragment that replays them. It never writes markup from
# data (only classes, attributes, hidden flags and textContent), so no user text is ever parsed as HTML.
SCRIPT = """
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
  if(!document.getElementById("filter")){return;}
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
function zoom(id){
  document.querySelectorAll(".zoomed").forEach(function(e){e.classList.remove("zoomed");});
  var box=id?document.getElementById(id):null;
  // the box and each box around it fill their parent: the box fills its map (stretched alike in each
  // direction, so areas stay proportional)
  for(var e=box;e&&e.classList.contains("box");e=e.parentElement){e.classList.add("zoomed");}
}
document.querySelectorAll(".treemap").forEach(function(t){
  // a click on a box zooms one level in: into the outermost box around it with an id not zoomed yet
  t.addEventListener("click",function(ev){
    if(ev.target.closest("a")){return;}
    var chain=[];
    for(var b=ev.target.closest(".box");b&&t.contains(b);b=b.parentElement.closest(".box")){chain.unshift(b);}
    for(var i=0;i<chain.length;i++){
      if(chain[i].id&&!chain[i].classList.contains("zoomed")){location.hash="zoom="+chain[i].id;return;}
    }
  });
});
var controls=document.getElementById("controls");
if(controls){
  controls.hidden=false;
  document.getElementById("filter").addEventListener("input",applyFilter);
  document.getElementById("severity").addEventListener("change",applyFilter);
}
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
  if(controls&&"filter" in params){document.getElementById("filter").value=params.filter;}
  if(controls&&"severity" in params){document.getElementById("severity").value=params.severity;}
  applyFilter();
  zoom("zoom" in params?params.zoom.replace(/[^a-z0-9-]/g,""):"");
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

"""``deadweight inspect --format html``: one self-contained page of where an image's bytes are.

The same page as ``audit --format html`` (``html_page``: CSP, style, script, treemaps), with inspect's
sections: the totals, the layers table (sortable), a treemap by layer → path (each layer's visible files by
directory, and what it stores that later layers hide, red), a treemap by class when the inventory was read with
``--breakdown`` (the classes add up to the image size), one by Python environment → distribution when the
inventory was read (``--packages``, ``--breakdown``, ``--project``), and the largest files. The path tree is the model's
``ImageAnalysis.layer_tree``: bounded in boxes (small entries folded together) so a 5.6 GB image opens as fast
as a small one; a directory's label zooms into it (``#zoom=ID``).
"""

from __future__ import annotations

from collections.abc import Sequence

from deadweight.model.analysis import ImageAnalysis
from deadweight.model.inspect import InspectResult
from deadweight.model.sizetree import SizeNode
from deadweight.reports.html_page import Box, attr, e, page, thead, treemap
from deadweight.units import human_bytes, percent

MAX_BOXES = 2000  # boxes of the layer → path treemap: thousands of files open in well under a second
RATIO = 3

CLASS_LABELS = {
    "gpu": "GPU / accelerator libraries",
    "ml": "ML frameworks",
    "scientific": "scientific Python",
    "other_python": "other Python packages",
    "toolchain": "compilers and headers",
    "other_os": "other OS packages",
    "caches": "caches",
    "tests_docs": "tests and docs",
    "application": "the application",
    "shadowed": "hidden by later layers",
    "other": "other",
}


def render(result: InspectResult, *, top: int = 10, breakdown: bool = False) -> str:
    """The whole page; ``breakdown``: show the class treemap (the inventory was read for it)."""
    a = result.analysis
    body = [
        _header(a),
        _layers_table(a),
        _layer_map(a),
        _class_map(result) if breakdown else "",
        _env_map(result),
        _largest(a, top),
        "<footer>deadweight · sizes in decimal units (1 GB = 10<sup>9</sup> bytes) as <code>docker image "
        "inspect</code> counts them</footer>",
    ]
    return page(f"deadweight inspect: {a.ref}", body)


def _header(a: ImageAnalysis) -> str:
    items = [
        ("size", "image size", human_bytes(a.size_bytes), a.size_bytes),
        ("compressed", "compressed", human_bytes(a.compressed_bytes), a.compressed_bytes),
        ("visible", "visible bytes", human_bytes(a.visible_bytes), a.visible_bytes),
        ("shadowed", "hidden by later layers", human_bytes(a.shadowed_bytes), a.shadowed_bytes),
        ("layers", "layers", str(len(a.layers)), len(a.layers)),
        ("files", "files", str(a.file_count), a.file_count),
        ("efficiency", "efficiency (dive)", f"{a.efficiency * 100:.1f}%", None),
    ]
    cells = "".join(
        f'<div class="stat" id="total-{key}"{attr("data-value", raw)}><dt>{e(label)}</dt><dd>{e(value)}</dd></div>'
        for key, label, value, raw in items
    )
    return f'<header>\n<h1>deadweight inspect: <code>{e(a.ref)}</code></h1>\n<dl class="totals">{cells}</dl>\n</header>'


def _layers_table(a: ImageAnalysis) -> str:
    rows = []
    for layer in a.layers:
        compressed = layer.compressed_bytes
        rows.append(
            f'<tr id="layer-{layer.index}"><td class="num" data-sort="{layer.index}">{layer.index}</td>'
            f'<td class="num" data-sort="{layer.size_bytes}">{e(human_bytes(layer.size_bytes))}</td>'
            f'<td class="num" data-sort="{-1 if compressed is None else compressed}">{e(human_bytes(compressed))}'
            f"</td>"
            f'<td class="num" data-sort="{layer.shadowed_bytes}">{e(human_bytes(layer.shadowed_bytes))}</td>'
            f'<td class="num" data-sort="{layer.files_added}">{layer.files_added}</td>'
            f'<td class="num" data-sort="{layer.files_modified}">{layer.files_modified}</td>'
            f'<td class="num" data-sort="{layer.files_deleted}">{layer.files_deleted}</td>'
            f"<td><code>{e(layer.created_by) or '–'}</code></td></tr>"
        )
    head = thead(
        [
            ("index", "#", True),
            ("size", "Size", True),
            ("compressed", "Compressed", True),
            ("shadowed", "Hidden later", True),
            ("added", "Added", True),
            ("modified", "Modified", True),
            ("deleted", "Deleted", True),
            ("created", "Created by", False),
        ]
    )
    return (
        '<section id="layers">\n<h2>Layers</h2>\n'
        f'<table class="sortable" id="layers-table">{head}<tbody>{"".join(rows)}</tbody></table>\n</section>'
    )


def _node_box(node: SizeNode, cls: str | None = None) -> Box:
    """A size-tree node as a box: colored by its kind, or all of a hidden subtree as ``shadowed``."""
    own = cls or ("layer-group" if node.kind == "layer" else node.kind)
    below = "shadowed" if node.kind == "shadowed" else cls
    where = f"/{node.path}" if node.path and node.kind != "layer" else node.name
    title = f"{where}: {human_bytes(node.size_bytes)}"
    if node.folded:
        title = f"{node.name} of the directory above: {human_bytes(node.size_bytes)}"
    return Box(
        node.size_bytes,
        node.name,
        title,
        own,
        children=tuple(_node_box(c, below) for c in node.children if c.size_bytes),
    )


def _layer_map(a: ImageAnalysis) -> str:
    boxes = sorted((_node_box(n) for n in a.layer_tree(MAX_BOXES) if n.size_bytes), key=lambda b: -b.value)
    if not boxes:
        return ""
    legend = "".join(
        f'<li><span class="swatch cls-{key}"></span>{e(label)}</li>'
        for key, label in (
            ("dir", "directory"),
            ("file", "file"),
            ("folded", "smaller entries together"),
            ("shadowed", "hidden by later layers (still shipped)"),
        )
    )
    return (
        '<section id="by-layer">\n<h2>Where the bytes are, by layer and path</h2>\n'
        + treemap(boxes, "treemap-layers", "The image by layer, each by path", RATIO)
        + f'\n<ul class="legend">{legend}</ul>\n</section>'
    )


def _class_map(result: InspectResult) -> str:
    inventory = result.inventory
    if inventory is None or not inventory.breakdown:
        return ""
    boxes = sorted(
        (
            Box(
                size,
                CLASS_LABELS.get(key, key),
                f"{CLASS_LABELS.get(key, key)}: {human_bytes(size)}",
                f"bd-{key}" if key in CLASS_LABELS else "bd-other",
            )
            for key, size in inventory.ordered_breakdown().items()
            if size > 0
        ),
        key=lambda b: -b.value,
    )
    rows = "".join(
        f'<tr><td><span class="swatch cls-bd-{e(key) if key in CLASS_LABELS else "other"}"></span>'
        f"{e(CLASS_LABELS.get(key, key))}</td>"
        f'<td class="num" data-sort="{size}">{e(human_bytes(size))}</td>'
        f'<td class="num" data-sort="{size}">{e(percent(size, inventory.breakdown_bytes))}</td></tr>'
        for key, size in inventory.ordered_breakdown().items()
    )
    head = thead([("class", "Class", False), ("bytes", "Bytes", True), ("share", "Share", True)])
    return (
        '<section id="by-class">\n<h2>By class</h2>\n'
        + treemap(boxes, "treemap-classes", "The image by class of bytes", RATIO)
        + f'\n<table class="sortable" id="classes-table">{head}<tbody>{rows}</tbody></table>\n</section>'
    )


DIST_CLASSES = {"gpu": "bd-gpu", "ml": "bd-ml", "scientific": "bd-scientific"}  # the rest: other Python


def _env_map(result: InspectResult) -> str:
    """Python environment → distribution, each distribution colored by its class (as in the breakdown)."""
    inventory = result.inventory
    if inventory is None or not inventory.environments:
        return ""
    envs = {env.path: env for env in inventory.environments}
    boxes = []
    for node in inventory.environment_tree(MAX_BOXES // 2):
        if not node.size_bytes:
            continue
        env = envs[node.path]
        kids = []
        for child in node.children:
            dist = env.find(child.path) if child.kind == "file" else None
            if dist is not None:
                label, title = dist.display_name, f"{dist.display_name} {dist.version}: {human_bytes(dist.size_bytes)}"
                cls = DIST_CLASSES.get(dist.dist_class.value, "bd-other_python")
            else:  # the files no distribution owns, or the smaller distributions folded together
                label, title, cls = child.name, f"{child.name}: {human_bytes(child.size_bytes)}", "folded"
            kids.append(Box(child.size_bytes, label, title, cls))
        where = "/" + env.path.lstrip("/")
        boxes.append(
            Box(
                node.size_bytes,
                f"{where} ({env.kind})",
                f"{where}: {human_bytes(node.size_bytes)}",
                "layer-group",
                children=tuple(kids),
            )
        )
    if not boxes:
        return ""
    boxes.sort(key=lambda b: -b.value)
    legend = "".join(
        f'<li><span class="swatch cls-{key}"></span>{e(label)}</li>'
        for key, label in (
            ("bd-gpu", "GPU / accelerator"),
            ("bd-ml", "ML framework"),
            ("bd-scientific", "scientific"),
            ("bd-other_python", "other Python"),
            ("folded", "files no distribution owns, smaller distributions together"),
        )
    )
    return (
        '<section id="by-distribution">\n<h2>Python environments by distribution</h2>\n'
        + treemap(boxes, "treemap-envs", "Each Python environment by distribution", RATIO)
        + f'\n<ul class="legend">{legend}</ul>\n</section>'
    )


def _largest(a: ImageAnalysis, top: int) -> str:
    files: Sequence[tuple[str, int]] = [(p.path, p.size_bytes) for p in a.largest_files(top)]
    if not files:
        return ""
    rows = "".join(
        f'<tr><td data-sort="{e(path)}"><code>/{e(path)}</code></td>'
        f'<td class="num" data-sort="{size}">{e(human_bytes(size))}</td></tr>'
        for path, size in files
    )
    head = thead([("path", "Path", False), ("size", "Size", True)])
    return (
        f'<section id="largest">\n<h2>Largest files</h2>\n'
        f'<table class="sortable" id="largest-table">{head}<tbody>{rows}</tbody></table>\n</section>'
    )

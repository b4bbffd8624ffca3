"""``deadweight inspect --format ncdu``: the image's merged tree in ncdu's JSON export format, to browse with
``ncdu -f FILE`` or ``gdu -f FILE``.

The format (ncdu's "JSON export", major version 1, minor 2): ``[1, 2, {metadata}, ROOT]`` where a directory is
an array whose first element is its own info object and the rest its children, and a file is an object with
``name``, ``asize`` (apparent size) and ``dsize`` (disk usage). Both sizes are the tree's own sizes (what
``docker image inspect`` counts: file sizes, symlink target lengths, hard links once), so the total ncdu shows
is the bytes a container sees (``visible_bytes``); bytes hidden by later layers are not in the merged tree.
Symlinks and other non-regular entries are marked ``notreg``; directories the tree does not list explicitly
are made from the paths. No timestamp in the metadata: the same image gives the same bytes.
"""

from __future__ import annotations

import json
from typing import Any

from deadweight._version import __version__
from deadweight.model.analysis import ImageAnalysis
from deadweight.model.image import EntryKind
from deadweight.safetext import json_surrogates

MAJOR, MINOR = 1, 2


def render(analysis: ImageAnalysis) -> str:
    # a directory is a dict of its children by name; a file is a dict holding its info under the key None
    root: dict[Any, Any] = {}
    for node in analysis.tree.nodes():
        if node.kind in (EntryKind.WHITEOUT, EntryKind.OPAQUE):
            continue
        parts = [p for p in node.path.split("/") if p]
        parent: dict[Any, Any] | None = root
        for part in parts[:-1]:
            assert parent is not None
            parent = parent.setdefault(part, {})
            if None in parent:  # a file where a directory should be: the merged tree never has one
                parent = None
                break
        if parent is None or not parts:
            continue
        name = parts[-1]
        if node.kind is EntryKind.DIR:
            parent.setdefault(name, {})
            continue
        entry: dict[str, Any] = {"name": name, "asize": node.size, "dsize": node.size}
        if node.kind not in (EntryKind.FILE, EntryKind.HARDLINK):
            entry["notreg"] = True
        parent[name] = {None: entry}
    doc = [MAJOR, MINOR, {"progname": "deadweight", "progver": __version__}, _directory("/", root)]
    return json_surrogates(json.dumps(doc, ensure_ascii=False, separators=(",", ":"))) + "\n"


def _directory(name: str, children: dict[Any, Any]) -> list[Any]:
    out: list[Any] = [{"name": name}]
    for child_name in sorted(k for k in children if k is not None):
        child = children[child_name]
        if None in child:
            out.append(child[None])
        else:
            out.append(_directory(child_name, child))
    return out

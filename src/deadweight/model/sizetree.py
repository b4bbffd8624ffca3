"""A size tree bounded in nodes: where an image's bytes are, by directory, small enough to draw.

A 5.6 GB image holds a hundred thousand files; a treemap of every one is unreadable and slow to open. So the
tree is grown from its roots biggest first: the biggest node not yet opened is replaced by its children, as
long as the tree stays within ``max_nodes``. What is not opened stays one node (a directory with its total), and
when opening a directory would go over the limit, its biggest children are kept and the rest folded into one
node (``folded`` says how many entries). A chain of directories that each hold only the next is one node
(``usr/lib/python3.11``). Every node's bytes are the sum of its children's, so the tree adds up
to the same total however it is cut. Ties break by name: the same input gives the same tree.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SizeNode:
    """One node: ``kind`` is ``dir`` (children, or not opened), ``file``, ``folded`` (``folded`` smaller entries
    of its directory together) or what the caller made a root (``layer``); ``path`` is the image path without
    a leading ``/`` ("" for a root or folded entries)."""

    name: str
    size_bytes: int
    kind: str
    path: str = ""
    children: tuple[SizeNode, ...] = ()
    folded: int = 0


@dataclass(slots=True)
class _Dir:
    size: int = 0
    dirs: dict[str, _Dir] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)


def _trie(files: Iterable[tuple[str, int]]) -> _Dir:
    root = _Dir()
    for path, size in files:
        parts = [p for p in path.split("/") if p]
        if not parts:
            continue
        node = root
        node.size += size
        for part in parts[:-1]:
            node = node.dirs.setdefault(part, _Dir())
            node.size += size
        node.files[parts[-1]] = node.files.get(parts[-1], 0) + size
    return root


@dataclass(slots=True)
class _Open:
    """A node while the tree grows: its trie directory (None for a file), and its children once opened."""

    name: str
    path: str
    size: int
    trie: _Dir | None
    kind: str
    children: list[_Open] | None = None
    folded: int = 0


def bounded_trees(roots: Iterable[tuple[str, str, Iterable[tuple[str, int]]]], max_nodes: int) -> list[SizeNode]:
    """One tree per ``(name, kind, files)`` root (``files`` as ``(path, bytes)``), together at most
    ``max_nodes`` nodes (roots included, at least one node per root), opened biggest first. Roots keep their
    order; children are biggest first, then by name."""
    tops = []
    for name, kind, files in roots:
        trie = _trie(files)
        tops.append(_Open(name, "", trie.size, trie, kind))
    used = len(tops)
    heap = [(-top.size, n, top) for n, top in enumerate(tops) if top.size]
    heapq.heapify(heap)
    counter = len(tops)
    while heap:
        _, _, node = heapq.heappop(heap)
        assert node.trie is not None
        kids = _children(node)
        if not kids:
            continue
        room = max_nodes - used
        if (room < 2 and len(kids) > 1) or room < 1:
            continue  # stays one node; a smaller one may still fit
        if len(kids) > room:
            keep, rest = kids[: room - 1], kids[room - 1 :]
            kids = [
                *keep,
                _Open(f"{len(rest)} smaller entries", "", sum(k.size for k in rest), None, "folded", folded=len(rest)),
            ]
        node.children = kids
        used += len(kids)
        for kid in kids:
            if kid.trie is not None and kid.size:
                counter += 1
                heapq.heappush(heap, (-kid.size, counter, kid))
    return [_freeze(top) for top in tops]


def _children(node: _Open) -> list[_Open]:
    trie = node.trie
    assert trie is not None
    prefix = f"{node.path}/" if node.path else ""
    kids = []
    for name, first in trie.dirs.items():
        label, d = name, first
        while len(d.dirs) == 1 and not d.files:  # a chain of lone directories is one node: usr/lib/python3
            ((sub, d),) = d.dirs.items()
            label = f"{label}/{sub}"
        kids.append(_Open(label, prefix + label, d.size, d, "dir"))
    kids += [_Open(name, prefix + name, size, None, "file") for name, size in trie.files.items()]
    kids.sort(key=lambda k: (-k.size, k.name))
    return kids


def _freeze(node: _Open) -> SizeNode:
    children = tuple(_freeze(k) for k in node.children) if node.children else ()
    return SizeNode(node.name, node.size, node.kind, node.path, children, node.folded)


def count_nodes(trees: Iterable[SizeNode]) -> int:
    """Nodes in these trees, every level counted."""
    return sum(1 + count_nodes(t.children) for t in trees)

"""dive's image efficiency score, computed the way dive 0.13 computes it (``filetree/efficiency.go``).

Why mirror a tool rather than define a cleaner metric: people compare the number with what dive and
its CI mode print, so it has to be the same number. The cleaner accounting (every byte either visible
or shadowed) is :mod:`deadweight.inventory.filetree`'s job.

The algorithm, per layer bottom first, over that layer's *own* tree (the paths of its tar, with the
directories the paths imply):

* visit every leaf node (a node with no children in this layer), children sorted by name, deepest
  first; a node is keyed by its path, a whiteout ``d/.wh.x`` by the path it deletes, ``d/x``;
* a node's size is its tar header size (so directories, symlinks and hard links weigh 0); a whiteout
  weighs the size of the subtree it deletes in the stack of the layers below when that is a directory,
  and **0 when it is a file** (dive's quirk: deleting a 100 MB file costs nothing in the score);
* per path: cumulative size (sum over the layers it appears in) and minimum size;
  ``score = sum(minimum) / sum(cumulative)``, 1.0 when nothing was seen;
* inefficient paths are those seen in two or more layers, with their cumulative bytes; dive's "wasted
  bytes" is the sum of those cumulative bytes.

Other dive behaviours mirrored on purpose (they change the number only in unusual images):

* the stack a whiteout is sized against is dive's, not overlayfs's: opaque directory markers
  (``.wh..wh..opq``) are ignored entirely, a directory replaced by a file keeps its children, and a
  directory a layer mentions only implicitly (``a/b`` without an ``a/`` entry) is re-stamped in the
  stack as an empty non-directory, so a later whiteout of it weighs 0;
* for the first layer, whiteouts are sized against that layer's own tree;
* a whiteout whose target is not in the stack makes dive's visitor fail: the path is still entered in
  the table with a minimum of -1 and nothing else (unless a later layer adds to it), and the rest of
  that layer's leaves are not visited.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from deadweight.model.analysis import InefficientPath
from deadweight.model.image import EntryKind, LayerEntry

_WHITEOUT_PREFIX = ".wh."
_DOUBLE_WHITEOUT_PREFIX = ".wh..wh."


@dataclass(frozen=True, slots=True)
class Efficiency:
    score: float  # 0..1, 1.0 = nothing duplicated or deleted
    wasted_bytes: int  # dive's WastedBytes: sum of cumulative bytes of the inefficient paths
    inefficient: tuple[InefficientPath, ...]  # largest cumulative bytes first, then by path


class _DiveStack:
    """dive's stacked tree of the layers seen so far: path -> size and is-directory, children kept."""

    __slots__ = ("children", "nodes")

    def __init__(self) -> None:
        self.nodes: dict[str, int] = {}  # path -> size * 2 + is_dir
        self.children: dict[str, set[str]] = {}

    def add(self, path: str, payload: int) -> None:
        """dive's ``AddPath``: create missing ancestors with an empty payload, set this node's payload.

        Iterative: a layer may name a file thousands of directories deep with none of them listed.
        """
        missing = [path]
        parent = path.rpartition("/")[0]
        while parent and parent not in self.nodes:
            missing.append(parent)
            parent = parent.rpartition("/")[0]
        for node in reversed(missing):  # top down, as the recursive form did
            self.nodes[node] = payload if node is path else 0
            self.children.setdefault(node.rpartition("/")[0], set()).add(node)

    def remove(self, path: str) -> None:
        """dive's ``RemovePath``: the node and its whole subtree; a missing path is ignored."""
        if path not in self.nodes:
            return
        self.children.get(path.rpartition("/")[0], set()).discard(path)
        stack = [path]
        while stack:
            current = stack.pop()
            del self.nodes[current]
            stack.extend(self.children.pop(current, ()))

    def subtree_size(self, path: str) -> int:
        total = 0
        stack = [path]
        while stack:
            current = stack.pop()
            total += self.nodes[current] >> 1
            stack.extend(self.children.get(current, ()))
        return total


@dataclass(slots=True)
class _LayerTree:
    """One layer's own tree as dive builds it (``AddPath`` per tar header, in tar order)."""

    payload: dict[str, int]  # tree path (whiteouts keep their ``.wh.`` name) -> size * 2 + is_dir
    whiteouts: dict[str, str]  # tree path of a whiteout node -> the path it deletes
    has_children: set[str]


def _layer_tree(entries: Iterable[LayerEntry]) -> _LayerTree:
    payload: dict[str, int] = {}
    whiteouts: dict[str, str] = {}
    has_children: set[str] = set()

    def ensure(path: str) -> None:
        while path and path not in payload:
            payload[path] = 0  # an implicit node: dive's empty FileInfo, not even a directory
            parent = path.rpartition("/")[0]
            if parent:
                has_children.add(parent)
            path = parent

    for entry in entries:
        path = entry.path
        if not path:
            continue
        if entry.kind is EntryKind.OPAQUE:
            ensure(path)  # dive creates the directory, then refuses the marker itself
            continue
        parent, _, base = path.rpartition("/")
        if entry.kind is EntryKind.OTHER and base.startswith(_DOUBLE_WHITEOUT_PREFIX):
            ensure(parent)
            continue
        if entry.kind is EntryKind.WHITEOUT:
            node = f"{parent}/{_WHITEOUT_PREFIX}{base}" if parent else _WHITEOUT_PREFIX + base
            whiteouts[node] = path
            value = 0
        else:
            node = path
            value = entry.size * 2 + (entry.kind is EntryKind.DIR)
        ensure(parent)
        if parent:
            has_children.add(parent)
        payload[node] = value
    return _LayerTree(payload, whiteouts, has_children)


def _postorder_key(path: str) -> list[tuple[int, str]]:
    """dive visits children sorted by name, a directory after its children."""
    return [*((0, name) for name in path.split("/")), (1, "")]


class EfficiencyCalculator:
    """Feed layers bottom first with :meth:`add_layer`; :meth:`result` gives the score."""

    def __init__(self) -> None:
        self._stack = _DiveStack()
        self._single: dict[str, int] = {}  # path seen once -> its size (cumulative == minimum)
        self._multi: dict[str, list[int]] = {}  # path -> [cumulative, minimum, occurrences]
        self._layers = 0

    def add_layer(self, entries: Sequence[LayerEntry]) -> None:
        tree = _layer_tree(entries)
        first = self._layers == 0
        self._layers += 1
        if first:
            self._stack_layer(tree)  # dive sizes layer 0's whiteouts against layer 0 itself
        leaves = [node for node in tree.payload if node not in tree.has_children]
        if tree.whiteouts:
            leaves.sort(key=_postorder_key)  # order matters only when a visit can fail
        for node in leaves:
            deleted = tree.whiteouts.get(node)
            if deleted is None:
                self._record(node, tree.payload[node] >> 1)
                continue
            previous = self._stack.nodes.get(deleted)
            if previous is None:
                self._touch(deleted)
                break
            self._record(deleted, self._stack.subtree_size(deleted) if previous & 1 else 0)
        if not first:
            self._stack_layer(tree)

    def _stack_layer(self, tree: _LayerTree) -> None:
        nodes = list(tree.payload)
        if tree.whiteouts:
            nodes.sort(key=_postorder_key)
        for node in nodes:
            deleted = tree.whiteouts.get(node)
            if deleted is not None:
                self._stack.remove(deleted)
            else:
                self._stack.add(node, tree.payload[node])

    def _record(self, path: str, size: int) -> None:
        data = self._multi.get(path)
        if data is not None:
            data[0] += size
            if data[1] < 0 or size < data[1]:
                data[1] = size
            data[2] += 1
            return
        first = self._single.pop(path, None)
        if first is None:
            self._single[path] = size
        else:
            self._multi[path] = [first + size, min(first, size), 2]

    def _touch(self, path: str) -> None:
        """The entry dive creates before its visitor fails: no size, minimum -1."""
        if path not in self._single and path not in self._multi:
            self._multi[path] = [0, -1, 0]

    def result(self) -> Efficiency:
        single = sum(self._single.values())
        minimum = single + sum(data[1] for data in self._multi.values())
        cumulative = single + sum(data[0] for data in self._multi.values())
        score = 1.0 if cumulative == 0 else minimum / cumulative
        inefficient = sorted(
            (InefficientPath(path, data[0], data[2]) for path, data in self._multi.items() if data[2] >= 2),
            key=lambda item: (-item.cumulative_bytes, item.path),
        )
        return Efficiency(score, sum(item.cumulative_bytes for item in inefficient), tuple(inefficient))


def efficiency(layers: Iterable[Sequence[LayerEntry]]) -> Efficiency:
    """dive's efficiency of an image given each layer's entries, bottom layer first."""
    calculator = EfficiencyCalculator()
    for entries in layers:
        calculator.add_layer(entries)
    return calculator.result()

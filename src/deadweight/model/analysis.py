"""The result of reading an image once: layers with their history, the merged tree, byte accounting.

Produced by :func:`deadweight.pipeline.analyze.analyze_image`; rendered by ``reports/inspect_*``; the input of
the inventory and of the rules. Pure data plus cheap derived views (largest files, shadowed paths).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from deadweight.model.image import EntryKind, ImageConfig
from deadweight.model.sizetree import SizeNode, bounded_trees
from deadweight.model.tree import TreeView

HIDDEN = "hidden by later layers"


@dataclass(frozen=True, slots=True)
class LayerSummary:
    """One layer: identity, what it weighs, the build step that made it and what it changed."""

    index: int
    digest: str | None  # blob digest as stored (compressed for registries and OCI)
    diff_id: str | None  # sha256 of the uncompressed tar
    size_bytes: int  # as Docker counts a layer: file sizes + symlink target lengths, hard links once
    compressed_bytes: int | None  # stored blob size, when the source knows it
    created_by: str  # the history entry aligned with this layer ("" when the image has no history)
    files_added: int = 0
    files_modified: int = 0
    files_deleted: int = 0
    shadowed_bytes: int = 0  # bytes this layer stores that later layers hide


@dataclass(frozen=True, slots=True)
class PathSize:
    path: str
    size_bytes: int


@dataclass(frozen=True, slots=True)
class ShadowedPath:
    """Bytes stored at ``path`` by some layers and hidden by later ones, summed over versions."""

    path: str
    size_bytes: int
    layers: tuple[int, ...]  # layers storing the hidden versions
    hidden_by: tuple[int, ...]  # layers that hid them


@dataclass(frozen=True, slots=True)
class InefficientPath:
    """A path that appears in two or more layers (dive's "inefficiency")."""

    path: str
    cumulative_bytes: int  # summed over every layer it appears in
    occurrences: int  # number of layers (nodes) it appears in


@dataclass(frozen=True)
class ImageAnalysis:
    """Everything one streaming pass over an image yields, before any package-level inventory."""

    ref: str
    image_config: ImageConfig  # the image's own config (Cmd, Env, history...), not the tool's Config
    layers: tuple[LayerSummary, ...]
    tree: TreeView
    size_bytes: int  # sum of layer sizes: what `docker image inspect` reports as Size on overlay2
    visible_bytes: int  # bytes a container can see (size_bytes - shadowed_bytes)
    shadowed_bytes: int  # bytes stored in layers but hidden by later layers
    efficiency: float  # dive's score, 0..1
    wasted_bytes: int  # dive's wasted bytes (cumulative size of paths seen in two or more layers)
    inefficient_paths: tuple[InefficientPath, ...] = field(default=())

    @property
    def compressed_bytes(self) -> int | None:
        """Sum of stored layer sizes, or ``None`` when a source did not know one."""
        sizes = [layer.compressed_bytes for layer in self.layers]
        if any(size is None for size in sizes):
            return None
        return sum(size for size in sizes if size is not None)

    @property
    def file_count(self) -> int:
        """Visible non-directories (files, symlinks, devices...) of the final tree."""
        return sum(1 for node in self.tree.nodes() if node.kind is not EntryKind.DIR)

    @property
    def weighty_inefficient_paths(self) -> tuple[InefficientPath, ...]:
        """The inefficient paths that hold bytes (dive also lists empty ones), in the same order."""
        return tuple(item for item in self.inefficient_paths if item.cumulative_bytes)

    def largest_files(self, n: int) -> list[PathSize]:
        """The ``n`` largest visible non-directories, largest first, ties by path."""
        candidates = (
            (node.size, node.path)
            for node in self.tree.nodes()
            if node.kind is not EntryKind.DIR and node.size
        )
        best = heapq.nsmallest(n, candidates, key=lambda item: (-item[0], item[1]))
        return [PathSize(path, size) for size, path in best]

    def largest_dirs(self, n: int) -> list[PathSize]:
        """The ``n`` directories with the most visible bytes below them (root excluded), largest first.

        Nested directories all appear (``usr`` and ``usr/lib``), which is what a user drilling down wants.
        """
        sizes = self.tree.dir_sizes()
        best = heapq.nsmallest(
            n, ((size, path) for path, size in sizes.items() if path and size), key=lambda i: (-i[0], i[1])
        )
        return [PathSize(path, size) for size, path in best]

    def top_shadowed(self, n: int) -> list[ShadowedPath]:
        """Paths with the most shadowed bytes (all hidden versions of a path summed), largest first."""
        grouped: dict[str, tuple[int, set[int], set[int]]] = {}
        for item in self.tree.shadowed:
            size, layers, hidden_by = grouped.get(item.path, (0, set(), set()))
            layers.add(item.layer)
            hidden_by.add(item.hidden_by)
            grouped[item.path] = (size + item.size, layers, hidden_by)
        best = heapq.nsmallest(n, grouped.items(), key=lambda kv: (-kv[1][0], kv[0]))
        return [
            ShadowedPath(path, size, tuple(sorted(layers)), tuple(sorted(hidden)))
            for path, (size, layers, hidden) in best
        ]

    def layer_tree(self, max_nodes: int = 2000) -> tuple[SizeNode, ...]:
        """The image's bytes by layer, then by path: one ``layer`` node per non-empty layer (named ``layer N``,
        its ``path`` the layer's index), holding the tree of the visible files it put there and, as a
        ``shadowed`` node named ``hidden by later layers``, the tree of the bytes it stores that later layers
        hide. Together at most about ``max_nodes`` nodes (``sizetree.bounded_trees``); the layers' bytes add up
        to ``size_bytes`` (a remainder the tree does not place, if any, is a ``folded`` node of its layer)."""
        visible: dict[int, list[tuple[str, int]]] = {}
        for path, size, index in self.tree.files():
            if size:
                visible.setdefault(index, []).append((path, size))
        hidden: dict[int, list[tuple[str, int]]] = {}
        for item in self.tree.shadowed:
            if item.size:
                hidden.setdefault(item.layer, []).append((item.path, item.size))
        layers = [summary for summary in self.layers if summary.size_bytes]
        roots: list[tuple[str, str, list[tuple[str, int]]]] = []
        for layer in layers:
            roots.append((f"layer {layer.index}", "layer", visible.get(layer.index, [])))
            roots.append((HIDDEN, "shadowed", hidden.get(layer.index, [])))
        trees = bounded_trees(roots, max(max_nodes - len(layers), 2 * len(layers)))
        out = []
        for n, layer in enumerate(layers):
            seen, shadow = trees[2 * n], trees[2 * n + 1]
            children = list(seen.children)
            if seen.size_bytes and not seen.children:  # not opened: the layer's visible files as one node
                children.append(SizeNode("files", seen.size_bytes, "dir"))
            if shadow.size_bytes:
                children.append(shadow)
            rest = layer.size_bytes - seen.size_bytes - shadow.size_bytes
            if rest > 0:
                children.append(SizeNode("bytes not in the tree", rest, "folded"))
            children.sort(key=lambda c: -c.size_bytes)
            out.append(SizeNode(f"layer {layer.index}", sum(c.size_bytes for c in children), "layer",
                                str(layer.index), tuple(children)))
        return tuple(out)

"""Derived views of ImageAnalysis that the inspect reports show."""

from __future__ import annotations

from deadweight.inventory.filetree import LayerScan, build_tree
from deadweight.model.analysis import ImageAnalysis, InefficientPath
from deadweight.model.image import EntryKind, ImageConfig, LayerEntry, Platform


def _analysis(inefficient: tuple[InefficientPath, ...] = ()) -> ImageAnalysis:
    entries = [
        LayerEntry("app", EntryKind.DIR),
        LayerEntry("app/main.py", EntryKind.FILE, 120),
        LayerEntry("app/empty", EntryKind.FILE, 0),
        LayerEntry("app/link", EntryKind.SYMLINK, link_target="main.py"),
        LayerEntry("app/sub", EntryKind.DIR),
    ]
    tree = build_tree([LayerScan(0, entries, {}, 127)])
    return ImageAnalysis(
        ref="test:image",
        image_config=ImageConfig(digest=None, platform=Platform("linux", "amd64"), diff_ids=()),
        layers=(),
        tree=tree,
        size_bytes=127,
        visible_bytes=127,
        shadowed_bytes=0,
        efficiency=1.0,
        wasted_bytes=0,
        inefficient_paths=inefficient,
    )


def test_file_count_counts_every_non_directory_even_empty_ones() -> None:
    assert _analysis().file_count == 3  # main.py, empty, link; not app/ or app/sub/


def test_weighty_inefficient_paths_drop_the_empty_ones_and_keep_order() -> None:
    paths = (InefficientPath("b", 50, 2), InefficientPath("a", 0, 3), InefficientPath("c", 10, 2))
    assert _analysis(paths).weighty_inefficient_paths == (paths[0], paths[2])

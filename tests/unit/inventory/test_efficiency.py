"""dive's efficiency score on cases small enough to compute by hand."""

from __future__ import annotations

import pytest

from deadweight.inventory.efficiency import InefficientPath, efficiency
from deadweight.model.image import EntryKind, LayerEntry


def F(path: str, size: int = 0) -> LayerEntry:
    return LayerEntry(path, EntryKind.FILE, size)


def D(path: str) -> LayerEntry:
    return LayerEntry(path, EntryKind.DIR)


def W(path: str) -> LayerEntry:
    return LayerEntry(path, EntryKind.WHITEOUT)


def test_no_layers_or_no_bytes_score_one() -> None:
    assert efficiency([]).score == 1.0
    result = efficiency([[F("nothing", 0)], [], []])  # dive's scratch-image test
    assert result.score == 1.0
    assert result.inefficient == ()


def test_distinct_files_are_efficient() -> None:
    result = efficiency([[D("a"), F("a/x", 10)], [F("a/y", 20)]])
    assert result.score == 1.0
    assert result.wasted_bytes == 0


def test_rewritten_file_halves_its_share() -> None:
    result = efficiency([[F("f", 100), F("g", 100)], [F("f", 100)]])
    # minimum 100 + 100, cumulative 200 + 100
    assert result.score == pytest.approx(200 / 300)
    assert result.inefficient == (InefficientPath("f", 200, 2),)
    assert result.wasted_bytes == 200


def test_three_versions_keep_the_smallest_as_minimum() -> None:
    result = efficiency([[F("f", 50)], [F("f", 10)], [F("f", 40)]])
    assert result.score == pytest.approx(10 / 100)
    assert result.inefficient == (InefficientPath("f", 100, 3),)


def test_deleted_file_weighs_zero_but_drops_the_minimum() -> None:
    # dive sizes a whiteout of a *file* at 0: cumulative stays 100, minimum becomes 0
    result = efficiency([[F("f", 100), F("g", 100)], [W("f")]])
    assert result.score == pytest.approx(100 / 200)
    assert result.inefficient == (InefficientPath("f", 100, 2),)


def test_deleted_directory_weighs_its_subtree_in_the_stack_below() -> None:
    layers = [
        [D("d"), F("d/a", 10), F("d/b", 30)],
        [F("x", 60), W("d")],  # d (a directory below) weighs 0 + 10 + 30 = 40
        [D("d")],  # an empty directory again: a leaf of size 0
    ]
    result = efficiency(layers)
    # d/a 10/10, d/b 30/30, x 60/60, d: cumulative 40 + 0, minimum 0
    assert result.score == pytest.approx(100 / 140)
    assert result.inefficient == (InefficientPath("d", 40, 2),)


def test_ported_from_dive_efficiency_test() -> None:
    """dive's own TestEfficency: directories only implied by paths are not directories in its stack."""
    layers = [
        [F("etc/nginx/nginx.conf", 2000), F("etc/nginx/public", 3000)],
        [F("etc/nginx/nginx.conf", 5000), F("etc/athing", 10000)],
        [W("etc/nginx")],
    ]
    result = efficiency(layers)
    assert result.score == 0.75
    assert [item.path for item in result.inefficient] == ["etc/nginx/nginx.conf"]
    assert result.inefficient[0].cumulative_bytes == 7000


def test_only_leaves_count() -> None:
    # a directory entry with children in its layer is not a leaf; an empty one is (size 0)
    result = efficiency([[D("d"), F("d/f", 5)], [D("d")], [D("d")]])
    assert result.score == 1.0
    assert result.inefficient == (InefficientPath("d", 0, 2),)


def test_links_weigh_zero_as_tar_headers_say() -> None:
    layers = [
        [LayerEntry("l", EntryKind.SYMLINK, 0, "target"), F("t", 9)],
        [LayerEntry("l", EntryKind.SYMLINK, 0, "other")],
    ]
    result = efficiency(layers)
    assert result.score == 1.0
    assert result.inefficient == (InefficientPath("l", 0, 2),)


def test_opaque_markers_are_ignored_like_dive() -> None:
    result = efficiency([[D("d"), F("d/a", 10)], [D("d"), LayerEntry("d", EntryKind.OPAQUE)]])
    assert result.score == 1.0


def test_whiteout_of_missing_path_stops_the_layer_like_dive() -> None:
    # ".wh.missing" sorts before "z": dive's visitor fails on it and never visits z; the failed entry
    # stays in the table with a minimum of -1
    result = efficiency([[F("a", 10)], [F("z", 5), W("missing")]])
    assert result.score == pytest.approx((10 - 1) / 10)
    assert result.inefficient == ()


def test_inefficient_paths_sorted_by_bytes_then_path() -> None:
    result = efficiency([[F("b", 5), F("a", 5), F("c", 1)], [F("b", 5), F("a", 5), F("c", 100)]])
    assert [item.path for item in result.inefficient] == ["c", "a", "b"]

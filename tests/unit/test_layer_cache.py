"""The layer cache: a warm analysis reads no layer yet equals the streamed one, bases are stacked once per run."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from deadweight.cache import MAX_STACKS, LayerCache
from deadweight.inventory.filetree import FileTree
from deadweight.model.analysis import ImageAnalysis
from deadweight.pipeline.analyze import STACK_MIN_ENTRIES, analyze_image
from deadweight.sources.base import OpenedLayer, SourceOptions
from deadweight.sources.docker_archive import DockerArchiveSource
from tests.imagebuilder import F, ImageSpec, write_docker_archive

#: A base big enough to be remembered as a stack, a whiteout and a replaced file on top of it.
BASE = [
    [F("usr", kind="dir"), F("usr/lib", kind="dir")]
    + [F(f"usr/lib/f{i:04d}", b"x" * (i % 7)) for i in range(STACK_MIN_ENTRIES)],
    [F("etc", kind="dir"), F("etc/os-release", b"ID=test\n"), F("etc/motd", b"hello")],
]
SERVICE_A = [[F("app", kind="dir"), F("app/a.py", b"import os\n"), F("usr/lib/f0001", b"changed")]]
SERVICE_B = [[F("etc/motd", kind="whiteout"), F("srv", kind="dir"), F("srv/b.py", b"print(1)\n")]]


def _want(path: str) -> bool:
    return path.endswith((".py", "os-release"))


class _NoStream(DockerArchiveSource):
    """The same image, but reading a layer fails: a warm analysis must not need to."""

    def iter_layers(self, *, verify: bool = False) -> Iterator[OpenedLayer]:
        raise AssertionError("a layer was read although every layer is cached")


def _archive(tmp_path: Path, name: str, layers: list[list[F]]) -> Path:
    path = tmp_path / f"{name}.tar"
    write_docker_archive(ImageSpec(layers=layers, workdir="/app"), path)
    return path


def _analyze(path: Path, cache: LayerCache | None, *, warm: bool = False, efficiency: bool = True) -> ImageAnalysis:
    kind = _NoStream if warm else DockerArchiveSource
    with kind(str(path), SourceOptions()) as source:
        return analyze_image(source, want=_want, verify=True, cache=cache, capture_key="k", efficiency=efficiency)


def _summary(analysis: ImageAnalysis) -> tuple[object, ...]:
    tree = analysis.tree
    return (
        sorted((n.path, n.kind, n.size, n.layer, n.link_target) for n in tree.nodes()),
        sorted((s.path, s.size, s.layer, s.hidden_by) for s in tree.shadowed),
        {path: tree.read(path) for path in ("app/a.py", "srv/b.py", "etc/os-release", "etc/motd")},
        analysis.layers,
        (analysis.size_bytes, analysis.visible_bytes, analysis.shadowed_bytes),
    )


def test_warm_analysis_reads_no_layer_and_equals_the_streamed_one(tmp_path: Path) -> None:
    image = _archive(tmp_path, "a", BASE + SERVICE_A)
    streamed = _analyze(image, None)
    cache = LayerCache(tmp_path / "cache" / "layers.sqlite")
    cold = _analyze(image, cache)
    warm = _analyze(image, LayerCache(cache.path), warm=True)
    assert _summary(cold) == _summary(streamed) == _summary(warm)
    assert (warm.efficiency, warm.wasted_bytes, warm.inefficient_paths) == (
        streamed.efficiency,
        streamed.wasted_bytes,
        streamed.inefficient_paths,
    )
    assert warm.tree.read("app/a.py") == b"import os\n"  # captured contents come back too


def test_without_efficiency_the_score_is_not_computed(tmp_path: Path) -> None:
    image = _archive(tmp_path, "a", BASE + SERVICE_A)
    cache = LayerCache(tmp_path / "layers.sqlite")
    with_score = _analyze(image, cache)
    without = _analyze(image, cache, warm=True, efficiency=False)
    assert with_score.efficiency < 1.0  # f0001 is in two layers
    assert math.isnan(without.efficiency)
    assert (without.wasted_bytes, without.inefficient_paths) == (0, ())
    assert _summary(without) == _summary(with_score)


def test_a_base_is_stacked_once_and_shared_without_being_changed(tmp_path: Path) -> None:
    image_a = _archive(tmp_path, "a", BASE + SERVICE_A)
    image_b = _archive(tmp_path, "b", BASE + SERVICE_B)
    expected_a, expected_b = _analyze(image_a, None), _analyze(image_b, None)
    cache = LayerCache(tmp_path / "layers.sqlite")
    _analyze(image_a, cache)
    _analyze(image_b, cache)  # every layer of both images is now on disk

    run = LayerCache(cache.path)  # a new run: nothing stacked yet
    first = _analyze(image_a, run, warm=True, efficiency=False)
    base_ids = first.image_config.diff_ids[:1]
    depth, stack = run.stacked("k", first.image_config.diff_ids)
    assert depth == 1 and stack is not None  # the big first layer; the small ones on top are not kept
    assert run.stacked("k", base_ids)[0] == 1
    assert run.stacked("other capture", first.image_config.diff_ids) == (0, None)
    paths_before = len(stack)
    with sqlite3.connect(cache.path) as db:  # B can now only be built from the stack, not from the rows
        db.execute("DELETE FROM layers WHERE diff_id = ?", (base_ids[0],))

    second = _analyze(image_b, run, warm=True, efficiency=False)  # built on a copy of the stack
    again = _analyze(image_a, run, warm=True, efficiency=False)
    assert len(stack) == paths_before
    assert _summary(first) == _summary(again) == _summary(expected_a)
    assert _summary(second) == _summary(expected_b)
    assert second.tree.get("etc/motd") is None and first.tree.get("etc/motd") is not None


def test_stacks_are_bounded_least_recently_used_first(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path / "layers.sqlite")
    for i in range(MAX_STACKS):
        cache.remember_stack("k", [f"sha256:{i}"], FileTree())
    assert cache.stacked("k", ["sha256:0", "sha256:x"])[0] == 1  # used: now the most recent
    cache.remember_stack("k", ["sha256:new"], FileTree())
    assert cache.stacked("k", ["sha256:1"]) == (0, None)  # the least recently used went
    assert cache.stacked("k", ["sha256:0"])[0] == 1
    cache.close()
    assert cache.stacked("k", ["sha256:0"]) == (0, None)


def test_a_damaged_row_is_a_miss_not_an_error(tmp_path: Path) -> None:
    image = _archive(tmp_path, "a", BASE + SERVICE_A)
    cache = LayerCache(tmp_path / "layers.sqlite")
    analysis = _analyze(image, cache)
    diff_id = analysis.image_config.diff_ids[-1]
    assert cache.get(diff_id, "k") is not None
    cache.close()
    with sqlite3.connect(cache.path) as db:
        db.execute("UPDATE layers SET data = ? WHERE diff_id = ?", (b"not zlib", diff_id))
    assert LayerCache(cache.path).get(diff_id, "k") is None
    with pytest.raises(AssertionError, match="layer was read"):
        _analyze(image, LayerCache(cache.path), warm=True)  # so the image would be streamed again

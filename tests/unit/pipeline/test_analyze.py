"""analyze_image: placing layers a stream hands out in any order, and refusing images that don't add up."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from deadweight.errors import SourceError
from deadweight.model.image import HistoryEntry, ImageConfig, LayerDescriptor, Platform
from deadweight.pipeline.analyze import analyze_image
from deadweight.sources.base import ByteStream, ImageSource, OpenedLayer, SourceOptions
from deadweight.sources.docker_archive import DockerArchiveSource, iter_archive_stream
from tests.imagebuilder import F, ImageSpec, layer_tar, sha256, write_docker_archive

LAYERS = [
    [F("etc", kind="dir"), F("etc/big", b"x" * 700)],
    [F("etc", kind="dir"), F("etc/big", kind="whiteout"), F("etc/small", b"y" * 20)],
    [F("bin", kind="dir"), F("bin/tool", b"z" * 30)],
]
TARS = [layer_tar(files) for files in LAYERS]
DIFF_IDS = [sha256(t) for t in TARS]


class _Stream:
    def __init__(self, data: bytes) -> None:
        self._buf = io.BytesIO(data)

    def read(self, n: int = -1, /) -> bytes:
        return self._buf.read(n)

    def skip(self, n: int, /) -> None:
        if len(self._buf.read(n)) != n:
            raise SourceError("short")


class _Opened(OpenedLayer):
    def __init__(self, data: bytes, diff_id: str | None) -> None:
        self.descriptor = LayerDescriptor(index=-1, digest=None, diff_id=None)
        self._stream = _Stream(data)
        self._diff_id = diff_id

    @property
    def stream(self) -> ByteStream:
        return self._stream

    def finish(self) -> str | None:
        return self._diff_id


class _StreamOrderSource(ImageSource):
    """Like an engine's ``docker save`` stream: layers come in archive order, unplaced until finished."""

    def __init__(self, order: Sequence[int], diff_ids: Sequence[str | None] | None = None) -> None:
        self.ref = "fake:image"
        self._order = order
        self._diff_ids = list(diff_ids) if diff_ids is not None else list(DIFF_IDS)

    def config(self) -> ImageConfig:
        return ImageConfig(
            digest=None,
            platform=Platform("linux", "amd64"),
            diff_ids=tuple(DIFF_IDS),
            history=(HistoryEntry("one"), HistoryEntry("ENV", empty_layer=True), HistoryEntry("two"),
                     HistoryEntry("three")),
        )

    def layers(self) -> Sequence[LayerDescriptor]:
        return [LayerDescriptor(index=i, digest=None, diff_id=d) for i, d in enumerate(DIFF_IDS)]

    def iter_layers(self, *, verify: bool = False) -> Iterator[OpenedLayer]:
        for position in self._order:
            yield _Opened(TARS[position], self._diff_ids[position])


def test_layers_out_of_order_are_placed_by_diff_id() -> None:
    in_order = analyze_image(_StreamOrderSource([0, 1, 2]))
    shuffled = analyze_image(_StreamOrderSource([2, 0, 1]))
    for analysis in (in_order, shuffled):
        assert [layer.size_bytes for layer in analysis.layers] == [700, 20, 30]
        assert [layer.diff_id for layer in analysis.layers] == DIFF_IDS
        assert [layer.created_by for layer in analysis.layers] == ["one", "two", "three"]
        assert analysis.shadowed_bytes == 700
        assert analysis.visible_bytes == 50
        assert analysis.size_bytes == 750
    assert shuffled.efficiency == in_order.efficiency


def test_unknown_diff_id_is_an_error() -> None:
    source = _StreamOrderSource([0, 1, 2], diff_ids=[DIFF_IDS[0], "sha256:" + "0" * 64, DIFF_IDS[2]])
    with pytest.raises(SourceError, match="not in the image config"):
        analyze_image(source)


def test_unplaceable_stream_is_an_error() -> None:
    source = _StreamOrderSource([0, 1, 2], diff_ids=[DIFF_IDS[0], None, DIFF_IDS[2]])
    with pytest.raises(SourceError, match="which layer"):
        analyze_image(source)


def test_missing_layer_is_an_error() -> None:
    with pytest.raises(SourceError, match=r"layers \[1\] were never delivered"):
        analyze_image(_StreamOrderSource([0, 2]))


def test_same_layer_twice_is_an_error() -> None:
    with pytest.raises(SourceError, match="delivered twice"):
        analyze_image(_StreamOrderSource([0, 0, 1, 2]))


def test_a_real_docker_save_stream(tmp_path: Path) -> None:
    """The engine's stream reader hands out unplaced layers; the analysis matches the file source's."""
    archive = tmp_path / "image.tar"
    write_docker_archive(ImageSpec(layers=LAYERS), archive)

    class StreamSource(DockerArchiveSource):
        def iter_layers(self, *, verify: bool = False) -> Iterator[OpenedLayer]:
            with archive.open("rb") as handle:
                yield from iter_archive_stream(handle, str(archive))

    with StreamSource(str(archive), SourceOptions()) as source:
        streamed = analyze_image(source)
    with DockerArchiveSource(str(archive), SourceOptions()) as source:
        stored = analyze_image(source, verify=True)
    assert [layer.diff_id for layer in streamed.layers] == DIFF_IDS
    assert [layer.size_bytes for layer in streamed.layers] == [layer.size_bytes for layer in stored.layers]
    assert (streamed.visible_bytes, streamed.shadowed_bytes) == (stored.visible_bytes, stored.shadowed_bytes)
    assert streamed.tree.get("etc/small") is not None
    assert streamed.tree.get("etc/big") is None

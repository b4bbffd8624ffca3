"""The image comparison on real (tiny) docker archives read by deadweight's own reader: sizes, the per-layer
table, the distribution and class diffs, and compressed sizes measured by compressing each layer once."""

from __future__ import annotations

import io
from pathlib import Path

from deadweight.inventory.build import build_inventory
from deadweight.pipeline.analyze import analyze_image
from deadweight.sources.base import SourceOptions
from deadweight.sources.docker_archive import DockerArchiveSource
from deadweight.verify.compare import CompressedSizes, ImageReading, compare, gzip_size
from tests.imagebuilder import F, ImageSpec, write_docker_archive
from tests.unit.inventory.invtrees import dist

SITE = "usr/local/lib/python3.11/site-packages"
BASE = [F("usr/lib/libbase.so", b"\x7fELF" + bytes(range(256)) * 400)]


def _layer(files: dict[str, bytes | int]) -> list[F]:
    return [F(p, c if isinstance(c, bytes) else b"\0" * c) for p, c in files.items()]


def _read(path: Path, sizes: CompressedSizes) -> ImageReading:
    def opened() -> DockerArchiveSource:
        return DockerArchiveSource(str(path), SourceOptions())

    with opened() as source:
        analysis = analyze_image(source, want=lambda p: True)
    return ImageReading(
        analysis=analysis,
        inventory=build_inventory(analysis.tree, analysis.image_config),
        compressed=sizes.of(opened, analysis),
        dead_weight_bytes=0,
        findings=0,
    )


def _images(tmp_path: Path) -> tuple[Path, Path, list[bytes]]:
    numpy = dist(SITE, "numpy", "2.1.3", {"numpy/__init__.py": b"x = 1\n", "numpy/core.so": 300_000})
    scipy = dist(SITE, "scipy", "1.14.1", {"scipy/__init__.py": b"x = 1\n", "scipy/linalg.so": 900_000})
    before_layers = [BASE, _layer({**numpy, **scipy})]
    after_layers = [
        BASE,
        _layer(dist(SITE, "numpy", "2.2.0", {"numpy/__init__.py": b"x = 2\n", "numpy/core.so": 310_000})),
    ]
    history = [{"created_by": "ADD base /"}, {"created_by": "RUN pip install -r requirements.txt"}]
    before, after = tmp_path / "before.tar", tmp_path / "after.tar"
    write_docker_archive(ImageSpec(layers=before_layers, history=history), before)
    built = write_docker_archive(ImageSpec(layers=after_layers, history=history), after)
    return before, after, built.layer_blobs


def test_compare_two_images(tmp_path: Path) -> None:
    before_path, after_path, after_blobs = _images(tmp_path)
    sizes = CompressedSizes()
    before, after = _read(before_path, sizes), _read(after_path, sizes)
    comparison = compare(before, after)
    assert comparison.before.size_bytes == before.analysis.size_bytes
    assert comparison.saved_bytes == before.analysis.size_bytes - after.analysis.size_bytes > 880_000
    assert [row.created_by for row in comparison.after.layers] == ["ADD base /", "RUN pip install -r requirements.txt"]
    assert comparison.after.largest_layer_bytes == max(row.size_bytes for row in comparison.after.layers)
    changes = {d.name: d for d in comparison.distributions}
    assert changes["scipy"].change == "removed" and changes["scipy"].after_bytes == 0
    assert changes["scipy"].before_bytes >= 900_000
    assert changes["numpy"].change == "changed"
    assert (changes["numpy"].before_version, changes["numpy"].after_version) == ("2.1.3", "2.2.0")
    assert comparison.distributions[0].name == "scipy"  # removed first
    classes = {c.dist_class: c for c in comparison.classes}
    assert sum(c.before_bytes for c in comparison.classes) == before.analysis.size_bytes
    assert sum(c.after_bytes for c in comparison.classes) == after.analysis.size_bytes
    assert classes["scientific"].before_bytes > classes["scientific"].after_bytes
    # compressed: each layer gzip-measured (the archive stores them uncompressed), the shared base measured once
    # (the stream hands out chunks of its own sizes, and deflate's block boundaries follow them: a few bytes)
    expected = sum(gzip_size(io.BytesIO(blob).read) for blob in after_blobs)
    assert comparison.after.compressed_bytes is not None
    assert abs(comparison.after.compressed_bytes - expected) <= 0.01 * expected + 64
    assert comparison.before.layers[0].compressed_bytes == comparison.after.layers[0].compressed_bytes
    assert len(sizes.by_diff_id) == 3


def test_gzip_size_is_a_real_gzip_stream_size() -> None:
    import email
    import gzip

    data = b"".join(p.read_bytes() for p in sorted(Path(email.__file__).parent.glob("*.py")))
    measured = gzip_size(io.BytesIO(data).read)
    # never smaller than gzip's best, and within 15% of its default level (what docker push writes)
    assert measured >= len(gzip.compress(data, 9))
    assert measured <= 1.15 * len(gzip.compress(data, 6))

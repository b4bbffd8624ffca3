"""oci: sources: layout directories and tars, nested indexes, platforms, verification, broken layouts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from deadweight.errors import DigestMismatchError, SourceError
from deadweight.model.image import Platform
from deadweight.sources import manifest as manifests
from deadweight.sources.base import SourceOptions
from deadweight.sources.oci_layout import OciLayoutSource
from tests.imagebuilder import F, ImageSpec, expected_entries, read_layers, sha256, write_oci_layout

LAYERS = [
    [F("usr", kind="dir"), F("usr/lib", kind="dir"), F("usr/lib/libx.so", b"\x7fELF" + b"x" * 5000)],
    [F("usr/lib/libx.so", kind="whiteout"), F("srv/data", b"d" * 70_000), F("srv/link", kind="symlink", target="data")],
]
SPEC = ImageSpec(layers=LAYERS, cmd=["serve"], workdir="/srv")

FORMATS = [(as_tar, comp) for as_tar in (False, True) for comp in ("none", "gzip", "zstd")]


def _path(tmp_path: Path, as_tar: bool) -> Path:
    return tmp_path / ("layout.tar" if as_tar else "layout")


@pytest.mark.parametrize(("as_tar", "compression"), FORMATS)
@pytest.mark.parametrize("verify", [False, True])
def test_reads_layout(tmp_path: Path, as_tar: bool, compression: str, verify: bool) -> None:
    path = _path(tmp_path, as_tar)
    built = write_oci_layout(SPEC, path, compression=compression, as_tar=as_tar)
    with OciLayoutSource(str(path), SourceOptions(verify=verify)) as source:
        assert source.ref == f"oci:{path}"
        assert source.manifest_digest == built.manifest_digest
        config = source.config()
        assert (config.digest, config.cmd, config.working_dir) == (built.config_digest, ("serve",), "/srv")
        assert [h.created_by for h in config.history] == ["RUN step 1", "RUN step 2"]
        descriptors = source.layers()
        assert [(d.index, d.digest, d.diff_id) for d in descriptors] == list(
            zip([0, 1], built.layer_digests, built.diff_ids, strict=True)
        )
        assert [d.media_type for d in descriptors] == [
            "application/vnd.oci.image.layer.v1.tar" + ("" if compression == "none" else f"+{compression}")
        ] * 2
        layers = read_layers(source, verify=verify)
    for layer, files in zip(layers, LAYERS, strict=True):
        assert layer.entries == expected_entries(files)
    assert layers[1].files["srv/data"] == b"d" * 70_000
    assert [layer.diff_id for layer in layers] == (built.diff_ids if verify else [None, None])


def _two_platforms(tmp_path: Path, as_tar: bool = False) -> tuple[Path, Any]:
    amd = ImageSpec(layers=[[F("arch", b"amd64")]], architecture="amd64")
    arm = ImageSpec(layers=[[F("arch", b"arm64")], [F("extra", b"x")]], architecture="arm64", variant="v8")
    path = _path(tmp_path, as_tar)
    built = write_oci_layout({"linux/amd64": amd, "linux/arm64/v8": arm}, path, as_tar=as_tar)
    return path, built


@pytest.mark.parametrize("as_tar", [False, True])
def test_platform_selection_in_a_two_platform_index(tmp_path: Path, as_tar: bool) -> None:
    path, built = _two_platforms(tmp_path, as_tar)
    with OciLayoutSource(str(path), SourceOptions(platform="linux/arm64")) as source:
        assert source.config().platform == Platform("linux", "arm64", "v8")
        assert source.manifest_digest == built.by_platform["linux/arm64/v8"].manifest_digest
        assert read_layers(source)[0].files["arch"] == b"arm64"
    with OciLayoutSource(str(path), SourceOptions(platform="linux/amd64")) as source:
        assert len(source.layers()) == 1
        assert read_layers(source)[0].files["arch"] == b"amd64"
    expected = r"no image for platform linux/ppc64le; available: linux/amd64, linux/arm64/v8"
    with pytest.raises(SourceError, match=expected):
        OciLayoutSource(str(path), SourceOptions(platform="linux/ppc64le"))


def test_platform_defaults_to_the_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _two_platforms(tmp_path)
    monkeypatch.setattr(manifests.host_platform, "machine", lambda: "aarch64")
    with OciLayoutSource(str(path), SourceOptions()) as source:
        assert source.config().platform.architecture == "arm64"
    monkeypatch.setattr(manifests.host_platform, "machine", lambda: "x86_64")
    with OciLayoutSource(str(path), SourceOptions()) as source:
        assert source.config().platform.architecture == "amd64"


def _blob(layout: Path, digest: str) -> Path:
    return layout / "blobs" / "sha256" / digest.split(":", 1)[1]


def _rewrite_manifest(layout: Path, manifest_digest: str, change: Any) -> None:
    """Edit the image manifest and re-point index.json at the new one."""
    doc = json.loads(_blob(layout, manifest_digest).read_bytes())
    change(doc)
    data = json.dumps(doc).encode()
    _blob(layout, sha256(data)).write_bytes(data)
    index = json.loads((layout / "index.json").read_bytes())
    index["manifests"][0].update(digest=sha256(data), size=len(data))
    (layout / "index.json").write_text(json.dumps(index))


def _flip_file(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_verify_detects_a_flipped_layer_byte(tmp_path: Path, compression: str) -> None:
    path = tmp_path / "layout"
    built = write_oci_layout(SPEC, path, compression=compression)
    blob = _blob(path, built.layer_digests[1])
    data = blob.read_bytes()
    _flip_file(blob, data.index(b"dddd") + 100 if compression == "none" else len(data) - 30)
    with OciLayoutSource(str(path), SourceOptions(verify=True)) as source, pytest.raises(SourceError) as info:
        read_layers(source)
    assert "layer 1" in str(info.value) and "\n" not in str(info.value)
    if compression == "none":
        assert isinstance(info.value, DigestMismatchError)


def test_config_and_manifest_digests_are_always_verified(tmp_path: Path) -> None:
    path = tmp_path / "layout"
    built = write_oci_layout(SPEC, path)
    config = _blob(path, built.config_digest)
    original = config.read_bytes()
    config.write_bytes(original.replace(b"serve", b"evil!"))
    with pytest.raises(DigestMismatchError, match="image config digest mismatch"):
        OciLayoutSource(str(path), SourceOptions())
    config.write_bytes(original)
    _flip_file(_blob(path, built.manifest_digest), 10)
    with pytest.raises(DigestMismatchError, match=r"manifest sha256:.* digest mismatch"):
        OciLayoutSource(str(path), SourceOptions())


def test_unknown_layer_media_type(tmp_path: Path) -> None:
    path = tmp_path / "layout"
    built = write_oci_layout(SPEC, path)

    def change(doc: dict[str, Any]) -> None:
        doc["layers"][0]["mediaType"] = "application/vnd.example.weird"

    _rewrite_manifest(path, built.manifest_digest, change)
    with pytest.raises(SourceError, match=r"layer 0 has unknown media type 'application/vnd\.example\.weird'"):
        OciLayoutSource(str(path), SourceOptions())


def test_absurd_and_wrong_sizes(tmp_path: Path) -> None:
    path = tmp_path / "layout"
    built = write_oci_layout(SPEC, path)

    def absurd(doc: dict[str, Any]) -> None:
        doc["layers"][0]["size"] = 1 << 60

    _rewrite_manifest(path, built.manifest_digest, absurd)
    with pytest.raises(SourceError, match="absurd size"):
        OciLayoutSource(str(path), SourceOptions())

    path2 = tmp_path / "layout2"
    built2 = write_oci_layout(SPEC, path2)
    blob = _blob(path2, built2.layer_digests[0])
    blob.write_bytes(blob.read_bytes()[:-5])  # a truncated blob file
    with OciLayoutSource(str(path2), SourceOptions()) as source, pytest.raises(
        SourceError, match=r"layer 0 \(sha256:.*\): blob is \d+ bytes, the manifest says \d+"
    ):
        read_layers(source)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_truncated_compressed_blob(tmp_path: Path, compression: str) -> None:
    """A blob cut short, with a manifest that agrees on the short size (no size check to save us)."""
    path = tmp_path / "layout"
    built = write_oci_layout(SPEC, path, compression=compression)
    short = built.layer_blobs[1][:-7]
    _blob(path, sha256(short)).write_bytes(short)

    def change(doc: dict[str, Any]) -> None:
        doc["layers"][1].update(digest=sha256(short), size=len(short))

    _rewrite_manifest(path, built.manifest_digest, change)
    with OciLayoutSource(str(path), SourceOptions()) as source, pytest.raises(
        SourceError, match=rf"layer 1 .*truncated {compression} data"
    ):
        read_layers(source)


def test_missing_pieces(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file or directory"):
        OciLayoutSource(str(tmp_path / "absent"), SourceOptions())
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=r"not an OCI image layout \(no index.json\)"):
        OciLayoutSource(str(tmp_path / "empty"), SourceOptions())

    path = tmp_path / "layout"
    built = write_oci_layout(SPEC, path)
    os.remove(_blob(path, built.layer_digests[0]))
    with OciLayoutSource(str(path), SourceOptions()) as source, pytest.raises(SourceError, match="missing layer 0"):
        read_layers(source)
    os.remove(_blob(path, built.config_digest))
    with pytest.raises(SourceError, match="missing image config"):
        OciLayoutSource(str(path), SourceOptions())
    (path / "index.json").write_text("{broken")
    with pytest.raises(SourceError, match=r"index\.json: index is not valid JSON"):
        OciLayoutSource(str(path), SourceOptions())


def test_layout_tar_missing_blob_and_garbage(tmp_path: Path) -> None:
    from tests.imagebuilder import rewrite_tar

    path = tmp_path / "layout.tar"
    built = write_oci_layout(SPEC, path, as_tar=True)
    rewrite_tar(path, {"blobs/sha256/" + built.config_digest.split(":")[1]: None})
    with pytest.raises(SourceError, match="missing image config"):
        OciLayoutSource(str(path), SourceOptions())
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(os.urandom(4096))
    with pytest.raises(SourceError, match="not a tar archive"):
        OciLayoutSource(str(garbage), SourceOptions())


def test_nested_index_depth_limit(tmp_path: Path) -> None:
    """An index that points at itself (through a chain) must not loop forever."""
    path = tmp_path / "layout"
    write_oci_layout(SPEC, path)
    inner = json.dumps({"schemaVersion": 2, "mediaType": manifests.OCI_INDEX, "manifests": []}).encode()
    digest = sha256(inner)
    for _ in range(6):
        _blob(path, digest).write_bytes(inner)
        inner = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": manifests.OCI_INDEX,
                "manifests": [{"mediaType": manifests.OCI_INDEX, "digest": digest, "size": len(inner)}],
            }
        ).encode()
        digest = sha256(inner)
    (path / "index.json").write_bytes(inner)
    with pytest.raises(SourceError, match="nested more than"):
        OciLayoutSource(str(path), SourceOptions())

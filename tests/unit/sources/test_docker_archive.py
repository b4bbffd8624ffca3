"""docker-archive sources: legacy and OCI `docker save` layouts, every compression, broken archives."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest

from deadweight.errors import DigestMismatchError, SourceError, UsageError
from deadweight.model.image import EntryKind, HistoryEntry, Platform
from deadweight.sources.base import SourceOptions
from deadweight.sources.docker_archive import DockerArchiveSource, iter_archive_stream
from deadweight.sources.resolve import open_source
from deadweight.sources.tarstream import iter_tar
from tests.imagebuilder import (
    F,
    ImageSpec,
    expected_entries,
    read_layers,
    rewrite_tar,
    write_docker_archive,
)

LAYERS = [
    [
        F("usr", kind="dir"),
        F("usr/bin", kind="dir"),
        F("usr/bin/python3", b"\x7fELF" + b"p" * 3000, mode=0o755),
        F("usr/bin/python", kind="symlink", target="python3"),
        F("etc", kind="dir"),
        F("etc/os-release", b"ID=debian\n"),
    ],
    [
        F("app", kind="dir"),
        F("app/main.py", b"print('hi')\n"),
        F("app/main-copy.py", kind="hardlink", target="app/main.py"),
        F("etc/os-release", kind="whiteout"),
        F("var/cache", kind="opaque"),
        F("app/" + "deep/" * 30 + "long-name.txt", b"long path\n"),
    ],
    [F("app/big.bin", b"\0" * (1 << 20) + b"tail")],
]
HISTORY = [
    {"created_by": "/bin/sh -c #(nop) ADD file:abc in /"},
    {"created_by": "/bin/sh -c #(nop) ENV LANG=C.UTF-8", "empty_layer": True},
    {"created_by": "COPY . /app"},
    {"created_by": "WORKDIR /app", "empty_layer": True},
    {"created_by": "RUN make big"},
]
SPEC = ImageSpec(
    layers=LAYERS,
    history=HISTORY,
    env=["PATH=/usr/bin", "LANG=C.UTF-8"],
    cmd=["python", "main.py"],
    entrypoint=["/entry.sh"],
    workdir="/app",
    labels={"maintainer": "me"},
)

FORMATS = [(layout, comp) for layout in ("legacy", "oci") for comp in ("none", "gzip", "zstd")]


@pytest.mark.parametrize(("layout", "compression"), FORMATS)
@pytest.mark.parametrize("verify", [False, True])
def test_reads_config_descriptors_and_layers(
    tmp_path: Path, layout: str, compression: str, verify: bool
) -> None:
    path = tmp_path / "image.tar"
    built = write_docker_archive(SPEC, path, layout=layout, compression=compression)
    with DockerArchiveSource(str(path), SourceOptions(verify=verify)) as source:
        assert source.ref == f"docker-archive:{path}"
        config = source.config()
        assert config.digest == built.config_digest
        assert config.platform == Platform("linux", "amd64")
        assert config.cmd == ("python", "main.py") and config.entrypoint == ("/entry.sh",)
        assert (config.working_dir, config.labels) == ("/app", {"maintainer": "me"})
        assert config.env_map()["LANG"] == "C.UTF-8"
        assert config.history[1] == HistoryEntry("/bin/sh -c #(nop) ENV LANG=C.UTF-8", "2024-01-01T00:00:00Z"
                                                 if "created" in HISTORY[1] else None, empty_layer=True)
        descriptors = source.layers()
        assert [d.index for d in descriptors] == [0, 1, 2]
        assert [d.diff_id for d in descriptors] == built.diff_ids
        assert [d.compressed_size for d in descriptors] == [len(b) for b in built.layer_blobs]
        if layout == "oci" or compression == "none":
            assert [d.digest for d in descriptors] == built.layer_digests
        layers = read_layers(source, verify=verify)
    assert [layer.descriptor.index for layer in layers] == [0, 1, 2]
    for layer, files in zip(layers, LAYERS, strict=True):
        assert layer.entries == expected_entries(files)
        for f in files:
            if f.kind == "file":
                assert layer.files[f.path] == f.content
    assert [layer.diff_id for layer in layers] == (built.diff_ids if verify else [None] * 3)


def test_manifest_json_fallback_without_index(tmp_path: Path) -> None:
    """A Docker 25 archive stripped of index.json is still readable through manifest.json."""
    path = tmp_path / "image.tar"
    built = write_docker_archive(SPEC, path, layout="oci", compression="gzip")
    rewrite_tar(path, {"index.json": None, "oci-layout": None})
    with DockerArchiveSource(str(path), SourceOptions()) as source:
        assert [d.digest for d in source.layers()] == built.layer_digests
        assert [r.diff_id for r in read_layers(source, verify=True)] == built.diff_ids


def _two_images(path: Path, layout: str) -> None:
    """An archive like ``docker save test/image other:1``: the second image is the first layer only."""
    write_docker_archive(SPEC, path, layout=layout)
    manifest = json.loads(_member(path, "manifest.json"))
    config = json.loads(_member(path, manifest[0]["Config"]))
    config["rootfs"]["diff_ids"] = config["rootfs"]["diff_ids"][:1]
    config["history"] = config["history"][:1]
    config_data = json.dumps(config).encode()
    config_name = _sha(config_data).split(":")[1] + ".json"
    other = dict(manifest[0], RepoTags=["other:1"], Layers=manifest[0]["Layers"][:1], Config=config_name)
    changes = {"manifest.json": json.dumps([*manifest, other]).encode()}
    added = [(config_name, config_data)]
    if layout == "oci":
        index = json.loads(_member(path, "index.json"))
        first = index["manifests"][0]
        manifest_doc = json.loads(_member(path, "blobs/sha256/" + first["digest"].split(":")[1]))
        manifest_doc["config"] = dict(manifest_doc["config"], digest=_sha(config_data), size=len(config_data))
        manifest_doc["layers"] = manifest_doc["layers"][:1]
        manifest_data = json.dumps(manifest_doc).encode()
        second = dict(first, digest=_sha(manifest_data), size=len(manifest_data), annotations={
            "io.containerd.image.name": "docker.io/library/other:1", "org.opencontainers.image.ref.name": "1"})
        index["manifests"].append(second)
        changes["index.json"] = json.dumps(index).encode()
        added += [
            ("blobs/sha256/" + _sha(config_data).split(":")[1], config_data),
            ("blobs/sha256/" + _sha(manifest_data).split(":")[1], manifest_data),
        ]
    rewrite_tar(path, changes, added)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("layout", ["legacy", "oci"])
def test_several_images_are_told_apart_by_name_or_position(tmp_path: Path, layout: str) -> None:
    path = tmp_path / "image.tar"
    _two_images(path, layout)
    with pytest.raises(UsageError) as info:
        DockerArchiveSource(str(path), SourceOptions())
    assert "holds 2 images" in str(info.value) and "other:1" in str(info.value)
    for name in ("test/image:latest", "docker.io/test/image", "@0"):
        with DockerArchiveSource(str(path), SourceOptions(), name) as source:
            assert len(source.layers()) == 3, name
    for name in ("other:1", "docker.io/library/other:1", "@1"):
        with DockerArchiveSource(str(path), SourceOptions(), name) as source:
            assert len(source.layers()) == 1, name
            assert source.ref == f"docker-archive:{path}:{name}"
            assert len(source.config().diff_ids) == 1
    for name, message in (("nope:1", "no image named 'nope:1'"), ("@2", "no image @2"), ("@x", "no image @x")):
        with pytest.raises(SourceError) as missing:
            DockerArchiveSource(str(path), SourceOptions(), name)
        assert message in str(missing.value)


def test_archive_references_name_the_image_after_the_path(tmp_path: Path) -> None:
    folder = tmp_path / "with:colon"
    folder.mkdir()
    path = folder / "image.tar"
    _two_images(path, "legacy")
    with open_source(f"docker-archive:{path}:other:1") as source:
        assert len(source.layers()) == 1
    with open_source(f"docker-archive:{path}:@0") as source:
        assert len(source.layers()) == 3
    with pytest.raises(UsageError):
        open_source(f"docker-archive:{path}")
    with pytest.raises(UsageError):
        open_source(f"docker-archive:{path}:")
    with pytest.raises(SourceError):
        open_source(f"docker-archive:{tmp_path}/missing.tar:other:1")


def _member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as tar:
        fh = tar.extractfile(name)
        assert fh is not None
        return fh.read()


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@pytest.mark.parametrize(("layout", "compression"), FORMATS)
def test_verify_detects_a_flipped_layer_byte(tmp_path: Path, layout: str, compression: str) -> None:
    path = tmp_path / "image.tar"
    built = write_docker_archive(SPEC, path, layout=layout, compression=compression)
    name = _layer_member(path, built, 0)
    blob = built.layer_blobs[0]
    # Inside the python3 file's data for uncompressed tars; past the header of compressed ones.
    at = blob.index(b"pppp") + 10 if compression == "none" else len(blob) // 2
    rewrite_tar(path, {name: _flip(blob, at)})
    with DockerArchiveSource(str(path), SourceOptions(verify=True)) as source, pytest.raises(SourceError) as info:
        read_layers(source)
    assert "\n" not in str(info.value)
    if compression == "none":
        assert isinstance(info.value, DigestMismatchError)
        # Without verify nothing is hashed: the bytes read fine, and nothing is reported.
        with DockerArchiveSource(str(path), SourceOptions()) as source:
            assert read_layers(source)[0].diff_id is None


def _layer_member(path: Path, built: object, index: int) -> str:
    manifest = json.loads(_member(path, "manifest.json"))
    return str(manifest[0]["Layers"][index])


@pytest.mark.parametrize("layout", ["legacy", "oci"])
def test_config_digest_is_always_verified(tmp_path: Path, layout: str) -> None:
    path = tmp_path / "image.tar"
    built = write_docker_archive(SPEC, path, layout=layout)
    config_name = json.loads(_member(path, "manifest.json"))[0]["Config"]
    rewrite_tar(path, {config_name: built.config.replace(b"main.py", b"evil.py")})
    with pytest.raises(DigestMismatchError, match="image config digest mismatch"):
        DockerArchiveSource(str(path), SourceOptions())


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_truncated_compressed_layer(tmp_path: Path, compression: str) -> None:
    path = tmp_path / "image.tar"
    built = write_docker_archive(SPEC, path, layout="legacy", compression=compression)
    name = _layer_member(path, built, 2)
    rewrite_tar(path, {name: built.layer_blobs[2][:-6]})
    with DockerArchiveSource(str(path), SourceOptions()) as source, pytest.raises(
        SourceError, match=rf"layer 2: truncated {compression} data"
    ):
        read_layers(source)


def test_truncated_outer_tar(tmp_path: Path) -> None:
    path = tmp_path / "image.tar"
    write_docker_archive(SPEC, path, layout="legacy")
    data = path.read_bytes()
    with tarfile.open(path) as tar:
        manifest_at = tar.getmember("manifest.json").offset_data
    for cut in (len(data) // 3, manifest_at + 5, manifest_at - 100):
        path.write_bytes(data[:cut])
        with pytest.raises(SourceError) as info, DockerArchiveSource(str(path), SourceOptions()) as source:
            read_layers(source)
        assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_truncated_layer_tar_inside_archive(tmp_path: Path) -> None:
    path = tmp_path / "image.tar"
    built = write_docker_archive(SPEC, path, layout="legacy")
    name = _layer_member(path, built, 0)
    rewrite_tar(path, {name: built.layer_blobs[0][:2000]})
    with DockerArchiveSource(str(path), SourceOptions()) as source, pytest.raises(
        SourceError, match="truncated"
    ):
        read_layers(source)


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ("manifest.json", "no manifest.json or index.json"),
        ("config", "missing image config"),
        ("layer", "missing layer 1"),
    ],
)
def test_missing_members(tmp_path: Path, member: str, message: str) -> None:
    path = tmp_path / "image.tar"
    built = write_docker_archive(SPEC, path, layout="legacy")
    manifest = json.loads(_member(path, "manifest.json"))[0]
    name = {"manifest.json": "manifest.json", "config": manifest["Config"], "layer": manifest["Layers"][1]}[member]
    rewrite_tar(path, {name: None})
    assert built.layer_blobs
    with pytest.raises(SourceError, match=message):
        DockerArchiveSource(str(path), SourceOptions())


def test_missing_blob_in_oci_archive(tmp_path: Path) -> None:
    path = tmp_path / "image.tar"
    built = write_docker_archive(SPEC, path, layout="oci", compression="gzip")
    rewrite_tar(path, {"blobs/sha256/" + built.layer_digests[1].split(":")[1]: None})
    with DockerArchiveSource(str(path), SourceOptions()) as source, pytest.raises(
        SourceError, match="missing layer 1"
    ):
        read_layers(source)


def test_dotdot_path_in_manifest(tmp_path: Path) -> None:
    path = tmp_path / "image.tar"
    write_docker_archive(SPEC, path, layout="legacy")
    manifest = json.loads(_member(path, "manifest.json"))
    manifest[0]["Layers"][0] = "../../etc/passwd"
    rewrite_tar(path, {"manifest.json": json.dumps(manifest).encode()})
    with pytest.raises(SourceError, match="outside the archive"):
        DockerArchiveSource(str(path), SourceOptions())


def test_duplicate_members(tmp_path: Path) -> None:
    path = tmp_path / "image.tar"
    write_docker_archive(SPEC, path, layout="legacy")
    rewrite_tar(path, append=[("manifest.json", b"[]")])
    with pytest.raises(SourceError, match=r"duplicate archive member manifest\.json"):
        DockerArchiveSource(str(path), SourceOptions())


def test_layer_count_must_match_diff_ids(tmp_path: Path) -> None:
    path = tmp_path / "image.tar"
    write_docker_archive(SPEC, path, layout="legacy")
    manifest = json.loads(_member(path, "manifest.json"))
    manifest[0]["Layers"] = manifest[0]["Layers"][:2]
    rewrite_tar(path, {"manifest.json": json.dumps(manifest).encode()})
    with pytest.raises(SourceError, match="lists 2 layers but the config has 3 diff ids"):
        DockerArchiveSource(str(path), SourceOptions())


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        DockerArchiveSource(str(tmp_path / "nope.tar"), SourceOptions())
    text = tmp_path / "notes.txt"
    text.write_text("this is not a tar archive at all\n" * 40)
    with pytest.raises(SourceError, match="not a tar archive"):
        DockerArchiveSource(str(text), SourceOptions())
    empty = tmp_path / "empty.tar"
    empty.write_bytes(b"")
    with pytest.raises(SourceError, match="empty file"):
        DockerArchiveSource(str(empty), SourceOptions())
    with pytest.raises(SourceError, match="is a directory"):
        DockerArchiveSource(str(tmp_path), SourceOptions())
    image = tmp_path / "image.tar"
    write_docker_archive(SPEC, image)
    gz = tmp_path / "image.tar.gz"
    gz.write_bytes(gzip.compress(image.read_bytes()))
    with pytest.raises(SourceError, match="gzip-compressed; decompress it first"):
        DockerArchiveSource(str(gz), SourceOptions())


def test_requested_platform_must_match_config(tmp_path: Path) -> None:
    path = tmp_path / "image.tar"
    write_docker_archive(SPEC, path, layout="oci")
    with pytest.raises(SourceError, match="image is linux/amd64, not the requested linux/arm64"):
        DockerArchiveSource(str(path), SourceOptions(platform="linux/arm64"))
    with DockerArchiveSource(str(path), SourceOptions(platform="linux/amd64")) as source:
        assert source.config().platform.architecture == "amd64"


# --- streamed `docker save` -------------------------------------------------------------------------


class Pipe:
    """A non-seekable reader with short reads, like a socket or a pipe."""

    def __init__(self, data: bytes, step: int = 3001) -> None:
        self._buf = io.BytesIO(data)
        self._step = step

    def read(self, n: int = -1, /) -> bytes:
        return self._buf.read(self._step if n < 0 else min(n, self._step))


@pytest.mark.parametrize(("layout", "compression"), FORMATS)
def test_iter_archive_stream(tmp_path: Path, layout: str, compression: str) -> None:
    path = tmp_path / "image.tar"
    built = write_docker_archive(SPEC, path, layout=layout, compression=compression)
    seen: dict[str, list[tuple[str, str]]] = {}
    for i, layer in enumerate(iter_archive_stream(Pipe(path.read_bytes()), "docker:test")):  # type: ignore[arg-type]
        assert layer.descriptor.index == -1
        if i == 1:
            layer.stream.read(512)  # a consumer that stops early still gets the diff id
            entries = None
        else:
            entries = [(m.entry.path, m.entry.kind.value) for m in iter_tar(layer.stream, source="t")]
        diff_id = layer.finish()
        assert diff_id is not None
        if entries is not None:
            seen[diff_id] = entries
    assert sorted(seen) == sorted(d for i, d in enumerate(built.diff_ids) if i != 1)
    for index, diff_id in enumerate(built.diff_ids):
        if diff_id in seen:
            assert seen[diff_id] == expected_entries(LAYERS[index])


def test_iter_archive_stream_unfinished_layers_are_skipped(tmp_path: Path) -> None:
    """A consumer that drops a layer without finish() does not desynchronise the stream."""
    path = tmp_path / "image.tar"
    write_docker_archive(SPEC, path, layout="legacy", compression="gzip")
    count = 0
    for layer in iter_archive_stream(Pipe(path.read_bytes()), "s"):  # type: ignore[arg-type]
        layer.stream.read(10)
        count += 1
    assert count == 3


def test_iter_archive_stream_truncated(tmp_path: Path) -> None:
    path = tmp_path / "image.tar"
    write_docker_archive(SPEC, path, layout="legacy")
    data = path.read_bytes()
    with pytest.raises(SourceError, match=r"docker:x.*truncated"):
        for layer in iter_archive_stream(Pipe(data[: len(data) // 2]), "docker:x"):  # type: ignore[arg-type]
            layer.finish()
    with pytest.raises(SourceError, match="not a tar stream"):
        list(iter_archive_stream(Pipe(b"x" * 2048), "docker:x"))  # type: ignore[arg-type]


def test_builder_writes_what_docker_save_writes(tmp_path: Path) -> None:
    """The legacy form has the members `docker load` expects, and entries come back as kinds."""
    path = tmp_path / "image.tar"
    write_docker_archive(SPEC, path, layout="legacy", tag="acme/app:1.0")
    with tarfile.open(path) as tar:
        names = tar.getnames()
    manifest = json.loads(_member(path, "manifest.json"))
    assert manifest[0]["RepoTags"] == ["acme/app:1.0"]
    assert json.loads(_member(path, "repositories"))["acme/app"]["1.0"]
    for layer_path in manifest[0]["Layers"]:
        layer_dir = layer_path.split("/")[0]
        assert {f"{layer_dir}/VERSION", f"{layer_dir}/json", layer_path} <= set(names)
    with DockerArchiveSource(str(path), SourceOptions()) as source:
        kinds = {path: kind for layer in read_layers(source) for path, kind in layer.entries}
    assert kinds["etc/os-release"] == EntryKind.WHITEOUT.value
    assert kinds["var/cache"] == EntryKind.OPAQUE.value
    assert kinds["app/main-copy.py"] == EntryKind.HARDLINK.value


def test_legacy_duplicate_layer_stored_as_symlink(tmp_path: Path) -> None:
    """Legacy `docker save` stores a repeated layer once and links the second `layer.tar` to it."""
    same = [F("same.txt", b"identical layer\n")]
    spec = ImageSpec(layers=[same, [F("b", b"b")], same])
    path = tmp_path / "image.tar"
    built = write_docker_archive(spec, path, layout="legacy")
    assert built.diff_ids[0] == built.diff_ids[2]
    layer_paths = json.loads(_member(path, "manifest.json"))[0]["Layers"]
    linked = tmp_path / "linked.tar"
    with tarfile.open(path) as src, tarfile.open(linked, "w") as out:
        for info in src:
            if info.name == layer_paths[2]:
                link = tarfile.TarInfo(info.name)
                link.type = tarfile.SYMTYPE
                link.linkname = "../" + layer_paths[0]
                out.addfile(link)
            else:
                out.addfile(info, src.extractfile(info) if info.isreg() else None)
    with DockerArchiveSource(str(linked), SourceOptions(verify=True)) as source:
        layers = read_layers(source)
    assert [layer.diff_id for layer in layers] == built.diff_ids
    assert layers[2].files == {"same.txt": b"identical layer\n"}

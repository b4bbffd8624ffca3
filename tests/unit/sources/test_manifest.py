"""Manifest, index and config parsing; platform choice."""

from __future__ import annotations

import json
from typing import Any

import pytest

from deadweight.errors import SourceError
from deadweight.model.image import Compression, HistoryEntry, Platform
from deadweight.sources import manifest as m

D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64


def dump(doc: Any) -> bytes:
    return json.dumps(doc).encode()


GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


def manifest_doc(layer_type: str = GZIP_LAYER, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": m.OCI_MANIFEST,
        "config": {"mediaType": m.OCI_CONFIG, "digest": D1, "size": 100},
        "layers": [
            {"mediaType": layer_type, "digest": D2, "size": 10},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": D3, "size": 20},
        ],
    }
    doc.update(extra)
    return doc


def test_parse_oci_manifest() -> None:
    parsed = m.parse_manifest(dump(manifest_doc()), "src")
    assert parsed.media_type == m.OCI_MANIFEST
    assert (parsed.config_digest, parsed.config_size) == (D1, 100)
    assert [(d.index, d.digest, d.compressed_size, d.diff_id) for d in parsed.layers] == [
        (0, D2, 10, None),
        (1, D3, 20, None),
    ]


def test_parse_docker_v2_manifest() -> None:
    doc = manifest_doc("application/vnd.docker.image.rootfs.diff.tar.gzip", mediaType=m.DOCKER_MANIFEST)
    doc["config"]["mediaType"] = m.DOCKER_CONFIG
    parsed = m.parse_manifest(dump(doc), "src")
    assert parsed.layers[0].media_type == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    assert parsed.config_media_type == m.DOCKER_CONFIG


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (manifest_doc("application/vnd.in-toto+json"), "layer 0 has unknown media type"),
        (manifest_doc(mediaType=m.OCI_INDEX), "expected an image manifest, got an index"),
        ({"schemaVersion": 1, "fsLayers": []}, "schema 1"),
        (manifest_doc(mediaType="application/x-weird"), "unknown manifest media type"),
        ({**manifest_doc(), "config": {"digest": "sha256:abc"}}, "malformed digest"),
        ({**manifest_doc(), "layers": None}, "no layers list"),
    ],
)
def test_parse_manifest_rejects(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        m.parse_manifest(dump(doc), "src")


def test_parse_manifest_rejects_absurd_size_and_bad_json() -> None:
    doc = manifest_doc()
    doc["layers"][1]["size"] = 1 << 60
    with pytest.raises(SourceError, match="absurd size"):
        m.parse_manifest(dump(doc), "src")
    with pytest.raises(SourceError, match="src: manifest is not valid JSON"):
        m.parse_manifest(b"{not json", "src")


def test_parse_index_and_is_index() -> None:
    index = {
        "schemaVersion": 2,
        "mediaType": m.DOCKER_MANIFEST_LIST,
        "manifests": [
            {"mediaType": m.DOCKER_MANIFEST, "digest": D1, "size": 5,
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": m.DOCKER_MANIFEST, "digest": D2, "size": 6, "annotations": {"a": "b"}},
        ],
    }
    entries = m.parse_index(dump(index), "src")
    assert entries[0].platform == Platform("linux", "arm64", "v8")
    assert entries[1].platform is None and entries[1].annotations == {"a": "b"}
    assert m.is_index(m.DOCKER_MANIFEST_LIST, b"")
    assert not m.is_index(m.OCI_MANIFEST, dump(index))
    assert m.is_index(None, dump({"manifests": []}))
    assert not m.is_index(None, dump(manifest_doc(mediaType=None)))
    assert not m.is_index(None, b"garbage")
    with pytest.raises(SourceError, match="expected an index"):
        m.parse_index(dump(manifest_doc()), "src")


def test_parse_config() -> None:
    doc = {
        "architecture": "arm64",
        "variant": "v8",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/bin", "A=b=c"],
            "Cmd": "python app.py",
            "Entrypoint": ["/entry"],
            "WorkingDir": "/app",
            "User": "app",
            "Labels": {"org.example": "1"},
        },
        "history": [
            {"created": "2024-01-01T00:00:00Z", "created_by": "/bin/sh -c #(nop) ADD file"},
            {"created_by": "ENV A=b", "empty_layer": True},
            {"comment": "buildkit"},
        ],
        "rootfs": {"type": "layers", "diff_ids": [D1, D2]},
    }
    config = m.parse_config(dump(doc), D3, "src")
    assert config.digest == D3
    assert config.platform == Platform("linux", "arm64", "v8")
    assert config.diff_ids == (D1, D2)
    assert config.env_map() == {"PATH": "/usr/bin", "A": "b=c"}
    assert config.cmd == ("python app.py",)
    assert config.entrypoint == ("/entry",)
    assert (config.working_dir, config.user) == ("/app", "app")
    assert config.labels == {"org.example": "1"}
    assert config.history == (
        HistoryEntry("/bin/sh -c #(nop) ADD file", "2024-01-01T00:00:00Z"),
        HistoryEntry("ENV A=b", None, empty_layer=True),
        HistoryEntry("", None, comment="buildkit"),
    )
    assert config.raw["architecture"] == "arm64"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"os": "linux"}, "no rootfs.diff_ids"),
        ({"rootfs": {"diff_ids": ["md5:x"]}}, "malformed digest"),
        ({"rootfs": {"diff_ids": []}, "config": {"Env": [1]}}, "Env is not a list of strings"),
        ({"rootfs": {"diff_ids": []}, "history": {}}, "history is not a list"),
        ([], "image config is not a JSON object"),
    ],
)
def test_parse_config_rejects(doc: Any, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        m.parse_config(dump(doc), None, "src")


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", "linux/amd64"),
        ("aarch64", "linux/arm64/v8"),
        ("armv7l", "linux/arm/v7"),
        ("s390x", "linux/s390x"),
    ],
)
def test_default_platform(monkeypatch: pytest.MonkeyPatch, machine: str, expected: str) -> None:
    monkeypatch.setattr(m.host_platform, "machine", lambda: machine)
    assert str(m.default_platform()) == expected


def entry(digest: str, platform: str | None, **annotations: str) -> m.IndexEntry:
    parsed = Platform.parse(platform) if platform else None
    return m.IndexEntry(digest, m.OCI_MANIFEST, 1, parsed, annotations)


ATTESTATION = entry(D3, "unknown/unknown", **{"vnd.docker.reference.type": "attestation-manifest"})


def test_select_platform_wanted() -> None:
    entries = [entry(D1, "linux/amd64"), entry(D2, "linux/arm64/v8"), ATTESTATION]
    assert m.select_platform(entries, Platform.parse("linux/arm64"), "src").digest == D2
    assert m.select_platform(entries, Platform.parse("linux/arm64/v8"), "src").digest == D2
    expected = r"no image for platform linux/s390x; available: linux/amd64, linux/arm64/v8$"
    with pytest.raises(SourceError, match=expected):
        m.select_platform(entries, Platform.parse("linux/s390x"), "src")


def test_select_platform_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(m.host_platform, "machine", lambda: "aarch64")
    entries = [entry(D1, "linux/amd64"), entry(D2, "linux/arm64/v8"), ATTESTATION]
    assert m.select_platform(entries, None, "src").digest == D2
    # The only image wins whatever the machine, and attestations are never images.
    assert m.select_platform([entry(D1, "linux/amd64"), ATTESTATION], None, "src").digest == D1
    monkeypatch.setattr(m.host_platform, "machine", lambda: "riscv64")
    with pytest.raises(SourceError, match="choose one with --platform"):
        m.select_platform(entries, None, "src")
    with pytest.raises(SourceError, match="no image manifests"):
        m.select_platform([ATTESTATION], None, "src")


def test_select_platform_unlabelled_single_entry() -> None:
    """docker save's OCI index names no platform: take it, the config will tell."""
    assert m.select_platform([entry(D1, None)], Platform.parse("linux/amd64"), "src").digest == D1


def test_layer_compression() -> None:
    assert m.layer_compression("application/vnd.oci.image.layer.v1.tar+zstd") is Compression.ZSTD
    assert m.layer_compression("application/vnd.docker.image.rootfs.diff.tar.gzip") is Compression.GZIP
    assert m.layer_compression("application/vnd.oci.image.layer.nondistributable.v1.tar") is Compression.NONE
    assert m.layer_compression(None) is None
    assert GZIP_LAYER in m.LAYER_TYPES

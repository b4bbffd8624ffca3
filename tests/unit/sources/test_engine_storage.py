"""The engine storage fast path without an engine: an overlay2 layer store written the way dockerd writes it.

Each layer is a real tar (``tests/imagebuilder.layer_tar``) extracted into a ``diff`` directory, with its
tar-split record written as vbatts/tar-split's ``asm`` writes it: one JSON line per run of raw tar bytes
(type 2, base64 payload) and per member (type 1: name, size when it has data). The e2e test checks the
same code against dockerd's own records.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import logging
import os
import tarfile
from pathlib import Path
from typing import Any

import pytest

from deadweight.errors import DigestMismatchError, SourceError
from deadweight.inventory.filetree import scan_layer
from deadweight.model.image import LayerDescriptor
from deadweight.pipeline.analyze import analyze_image
from deadweight.sources.base import SourceOptions
from deadweight.sources.daemon import DaemonSource
from deadweight.sources.docker_archive import DockerArchiveSource
from deadweight.sources.engine_storage import StoredOpenedLayer, TarSplitStream, chain_ids, locate
from deadweight.sources.streams import ReadStream
from tests.imagebuilder import F, ImageSpec, layer_tar, write_docker_archive
from tests.unit.sources.test_resolve_daemon import FakeAPI, FakeClient

LONG = "usr/lib/python3.11/site-packages/" + "very_long_package_name_" * 6 + "/module.py"

LAYERS = [
    [
        F("etc/", kind="dir"),
        F("etc/os-release", b"ID=debian\n"),
        F("usr/bin/", kind="dir"),
        F("usr/bin/tool", b"\x7fELF" + b"x" * 5000, mode=0o755),
        F("usr/bin/tool2", kind="hardlink", target="usr/bin/tool"),
        F("usr/bin/sh", kind="symlink", target="dash"),
        F("opt/data/", kind="dir"),
        F("opt/data/old.bin", b"o" * 3000),
        F(LONG, b"import os\n"),
        F("empty.txt", b""),
    ],
    [
        F("etc/os-release", kind="whiteout"),
        F("opt/data", kind="opaque"),
        F("opt/data/new.bin", b"n" * 700),
        F("var/lib/dpkg/status", b"Package: dash\nStatus: install ok installed\n\n"),
    ],
]


def tar_split_lines(tar: bytes) -> list[dict[str, Any]]:
    """What tar-split's ``asm.NewInputTarStream`` records for ``tar``."""
    lines: list[dict[str, Any]] = []
    done = 0
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
        for member in archive.getmembers():
            lines.append({"type": 2, "payload": base64.b64encode(tar[done : member.offset_data]).decode(),
                          "position": len(lines)})
            entry: dict[str, Any] = {"type": 1, "name": member.name}
            size = member.size if member.isreg() else 0
            if size:
                entry["size"] = size
            entry["payload"] = base64.b64encode(b"crc64!!!").decode() if size else None
            entry["position"] = len(lines)
            lines.append(entry)
            done = member.offset_data + size
    lines.append({"type": 2, "payload": base64.b64encode(tar[done:]).decode(), "position": len(lines)})
    return lines


def extract(tar: bytes, into: Path) -> None:
    """The regular files overlay2 keeps in ``diff`` (the only members whose data is read; whiteouts are
    0/0 devices there, but the record already has their ``.wh.`` headers)."""
    into.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r:") as archive:
        for member in archive.getmembers():
            if member.isreg() and not os.path.basename(member.name).startswith(".wh."):
                archive.extract(member, into, filter="fully_trusted")


def write_store(root: Path, layers: list[list[F]]) -> tuple[list[str], dict[str, Any]]:
    """A dockerd data root holding ``layers``: returns the diff ids and ``GraphDriver``."""
    tars = [layer_tar(files) for files in layers]
    diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]
    dirs = []
    for n, (tar, diff_id, chain) in enumerate(zip(tars, diff_ids, chain_ids(diff_ids), strict=True)):
        cache_id = f"{n:02d}" + "c" * 62
        record = root / "image" / "overlay2" / "layerdb" / "sha256" / chain.removeprefix("sha256:")
        record.mkdir(parents=True)
        (record / "diff").write_text(diff_id)
        (record / "cache-id").write_text(cache_id)
        with gzip.open(record / "tar-split.json.gz", "wt") as out:
            for line in tar_split_lines(tar):
                out.write(json.dumps(line, separators=(",", ":")) + "\n")
        diff = root / "overlay2" / cache_id / "diff"
        extract(tar, diff)
        dirs.append(str(diff))
    data = {"UpperDir": dirs[-1]}
    if len(dirs) > 1:
        data["LowerDir"] = ":".join(reversed(dirs[:-1]))
    return diff_ids, {"Name": "overlay2", "Data": data}


def inspect_doc(diff_ids: list[str], graph: dict[str, Any]) -> dict[str, Any]:
    return {"RootFS": {"Type": "layers", "Layers": diff_ids}, "GraphDriver": graph}


def test_chain_ids_follow_the_oci_definition() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert chain_ids([a, b]) == [a, "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()]


def test_stream_rebuilds_the_layer_tar_byte_for_byte(tmp_path: Path) -> None:
    diff_ids, graph = write_store(tmp_path, LAYERS)
    layers, why = locate(inspect_doc(diff_ids, graph), {"DockerRootDir": str(tmp_path), "Driver": "overlay2"})
    assert why is None and layers is not None
    for files, layer in zip(LAYERS, layers, strict=True):
        stream = TarSplitStream(layer, "t")
        rebuilt = b""
        while chunk := stream.read(333):  # odd sizes: reads straddle headers and member data
            rebuilt += chunk
        stream.close()
        assert rebuilt == layer_tar(files)
        assert "sha256:" + hashlib.sha256(rebuilt).hexdigest() == layer.diff_id


def test_scan_equals_the_tar_scan_and_reads_only_wanted_files(tmp_path: Path) -> None:
    diff_ids, graph = write_store(tmp_path, LAYERS)
    layers, _ = locate(inspect_doc(diff_ids, graph), {"DockerRootDir": str(tmp_path)})
    assert layers is not None
    # an unwanted file gone from the storage is never opened: skipping its data costs nothing
    (Path(layers[0].diff_dir) / "usr/bin/tool").unlink()
    want = {"etc/os-release", LONG, "var/lib/dpkg/status"}.__contains__
    for files, layer in zip(LAYERS, layers, strict=True):
        fast = scan_layer(TarSplitStream(layer, "t"), index=0, source="t", want=want)
        tar = scan_layer(ReadStream(io.BytesIO(layer_tar(files)), "t"), index=0, source="t", want=want)
        assert fast.entries == tar.entries
        assert fast.contents == tar.contents
        assert fast.size_bytes == tar.size_bytes
    with pytest.raises(SourceError, match=r"usr/bin/tool.*missing"):
        scan_layer(TarSplitStream(layers[0], "t"), index=0, source="t", want=lambda p: p == "usr/bin/tool")


def test_verify_rehashes_every_byte(tmp_path: Path) -> None:
    diff_ids, graph = write_store(tmp_path, LAYERS)
    layers, _ = locate(inspect_doc(diff_ids, graph), {"DockerRootDir": str(tmp_path)})
    assert layers is not None
    descriptor = LayerDescriptor(index=0, digest=diff_ids[0], diff_id=diff_ids[0], media_type=None)
    opened = StoredOpenedLayer(descriptor, layers[0], "t", verify=True)
    scan_layer(opened.stream, index=0, source="t")
    assert opened.finish() == diff_ids[0]
    tampered = Path(layers[0].diff_dir) / "opt/data/old.bin"
    tampered.write_bytes(b"O" + tampered.read_bytes()[1:])  # same size, other bytes
    unverified = StoredOpenedLayer(descriptor, layers[0], "t", verify=False)
    scan_layer(unverified.stream, index=0, source="t")
    assert unverified.finish() == diff_ids[0]  # without --verify the engine's record is trusted
    opened = StoredOpenedLayer(descriptor, layers[0], "t", verify=True)
    scan_layer(opened.stream, index=0, source="t")
    with pytest.raises(DigestMismatchError, match="hashes to"):
        opened.finish()


def test_short_file_is_an_error_not_a_wrong_answer(tmp_path: Path) -> None:
    diff_ids, graph = write_store(tmp_path, LAYERS)
    layers, _ = locate(inspect_doc(diff_ids, graph), {"DockerRootDir": str(tmp_path)})
    assert layers is not None
    (Path(layers[1].diff_dir) / "var/lib/dpkg/status").write_bytes(b"Pack")
    with pytest.raises(SourceError, match="shorter than its tar header"):
        scan_layer(TarSplitStream(layers[1], "t"), index=1, source="t", want=lambda p: p.endswith("status"))


def test_corrupt_record_is_a_source_error(tmp_path: Path) -> None:
    diff_ids, graph = write_store(tmp_path, LAYERS[:1])
    layers, _ = locate(inspect_doc(diff_ids, graph), {"DockerRootDir": str(tmp_path)})
    assert layers is not None
    Path(layers[0].tar_split).write_bytes(gzip.compress(b'{"type":7}\n'))
    with pytest.raises(SourceError, match="corrupt layer record"):
        scan_layer(TarSplitStream(layers[0], "t"), index=0, source="t")
    Path(layers[0].tar_split).write_bytes(b"not gzip")
    with pytest.raises(SourceError, match="corrupt layer record"):
        scan_layer(TarSplitStream(layers[0], "t"), index=0, source="t")


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("driver", "storage driver is vfs, not overlay2"),
        ("root", "missing"),
        ("tar-split", "tar-split.json.gz: missing"),
        ("diff-dir", "diff: missing"),
        ("diff-id", "the layer store names"),
        ("graph", "GraphDriver directories do not match"),
    ],
)
def test_locate_says_why_it_cannot(tmp_path: Path, damage: str, reason: str) -> None:
    diff_ids, graph = write_store(tmp_path / "docker", LAYERS)
    info = {"DockerRootDir": str(tmp_path / "docker"), "Driver": "overlay2"}
    inspect = inspect_doc(diff_ids, graph)
    layers, why = locate(inspect, info)
    assert layers is not None and why is None
    if damage == "driver":
        inspect["GraphDriver"] = {"Name": "vfs", "Data": None}
    elif damage == "root":
        info["DockerRootDir"] = str(tmp_path / "elsewhere")
    elif damage == "tar-split":
        Path(layers[1].tar_split).rename(layers[1].tar_split + ".moved")
    elif damage == "diff-dir":
        Path(layers[0].diff_dir).rename(layers[0].diff_dir + ".moved")
    elif damage == "diff-id":
        (Path(layers[1].tar_split).parent / "diff").write_text("sha256:" + "0" * 64)
    else:
        graph["Data"]["UpperDir"] = "/somewhere/else/diff"
    layers, why = locate(inspect, info)
    assert layers is None and why is not None and reason in why


def engine_client(tmp_path: Path, *, driver: str = "overlay2") -> tuple[FakeClient, Path]:
    """A stand-in engine whose storage holds LAYERS and whose save stream is the same image."""
    spec = ImageSpec(layers=LAYERS, history=[{"created_by": "ADD rootfs /"}, {"created_by": "RUN rm"}])
    built = write_docker_archive(spec, tmp_path / "save.tar", tag="app:1")
    diff_ids, graph = write_store(tmp_path / "docker", LAYERS)
    assert diff_ids == list(built.diff_ids)
    graph["Name"] = driver
    config = json.loads(built.config)
    inspect = {"Id": built.config_digest, "RootFS": {"Type": "layers", "Layers": diff_ids},
               "Config": config["config"], "Os": "linux", "Architecture": "amd64", "GraphDriver": graph}
    history = [{"Created": 1704067200, "CreatedBy": c, "Size": 9} for c in ("RUN rm", "ADD rootfs /")]
    api = FakeAPI("app:1", (tmp_path / "save.tar").read_bytes(), inspect, history)
    api.info = lambda: {"DockerRootDir": str(tmp_path / "docker"), "Driver": driver}  # type: ignore[attr-defined]
    return FakeClient(api), tmp_path / "save.tar"


def _streamed(api: Any) -> list[int]:
    calls: list[int] = []
    real = api.get_image

    def get_image(name: str, chunk_size: int) -> Any:
        calls.append(1)
        return real(name, chunk_size)

    api.get_image = get_image
    return calls


def test_daemon_reads_storage_and_matches_the_save_stream(tmp_path: Path) -> None:
    client, archive = engine_client(tmp_path)
    calls = _streamed(client.api)
    with DaemonSource("app:1", SourceOptions(), client=client) as fast:
        assert fast.stored is not None and fast.fast_path_note is None
        got = analyze_image(fast, want=lambda p: p.endswith("status"))
    assert calls == []  # no docker save
    with DockerArchiveSource(str(archive), SourceOptions()) as saved:
        expected = analyze_image(saved, want=lambda p: p.endswith("status"))
    assert [(la.diff_id, la.size_bytes, la.files_deleted) for la in got.layers] == [
        (la.diff_id, la.size_bytes, la.files_deleted) for la in expected.layers
    ]
    assert (got.visible_bytes, got.shadowed_bytes, got.efficiency) == (
        expected.visible_bytes, expected.shadowed_bytes, expected.efficiency)
    assert got.tree.read("var/lib/dpkg/status") == expected.tree.read("var/lib/dpkg/status")
    assert "etc/os-release" not in got.tree.paths() and "opt/data/old.bin" not in got.tree.paths()


def test_no_fast_path_and_fallback_stream_docker_save(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client, _ = engine_client(tmp_path)
    calls = _streamed(client.api)
    with caplog.at_level(logging.WARNING, logger="deadweight.sources"):
        with DaemonSource("app:1", SourceOptions(fast_path=False), client=client) as src:
            assert src.stored is None
            analyze_image(src)
        assert calls == [1] and caplog.records == []  # asked for: no note
        (tmp_path / "vfs").mkdir()
        client, _ = engine_client(tmp_path / "vfs", driver="vfs")
        calls = _streamed(client.api)
        with DaemonSource("app:1", SourceOptions(), client=client) as src:
            assert src.stored is None and src.fast_path_note == "the storage driver is vfs, not overlay2"
            analyze_image(src)
    assert calls == [1]
    [record] = caplog.records
    assert record.getMessage() == (
        "deadweight: note: docker:app:1: not reading the engine's storage (the storage driver is vfs, not "
        "overlay2); streaming docker save instead"
    )

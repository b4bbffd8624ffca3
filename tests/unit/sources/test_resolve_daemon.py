"""DaemonSource without an engine: history alignment, and a stand-in client serving a real ``docker save`` tar.

The stand-in only replaces the transport (inspect/history JSON and the save stream's chunks); the archive
bytes are a real docker-archive written by ``tests/imagebuilder.py`` and go through the real stream parser.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from deadweight.errors import SourceError
from deadweight.sources.base import SourceOptions
from deadweight.sources.daemon import DaemonSource, align_history, daemon_has
from deadweight.sources.tarstream import iter_tar
from tests.imagebuilder import F, ImageSpec, write_docker_archive

NOP = "/bin/sh -c #(nop) "


def test_align_classic_builder_history() -> None:
    entries = [
        ("/bin/sh -c #(nop) ADD file:abc in / ", 80_000_000),
        (NOP + " CMD [\"bash\"]", 0),
        (NOP + " ENV A=1", 0),
        (NOP + "WORKDIR /app", 0),
        (NOP + "COPY file:d8 in . ", 817),
        ("/bin/sh -c true", 0),  # a RUN that changed nothing still commits a layer
        (NOP + " USER nobody", 0),
    ]
    assert align_history(entries, 4) == [False, True, True, False, False, False, True]
    # When the engine squashed WORKDIR away (3 layers), the RUN keeps its layer.
    assert align_history(entries, 3) == [False, True, True, True, False, False, True]


def test_align_buildkit_history() -> None:
    entries = [
        ("ADD rootfs.tar / # buildkit", 5_000),
        ("ENV PATH=/usr/local/bin", 0),
        ("WORKDIR /app", 0),
        ("RUN /bin/sh -c pip install x # buildkit", 9_000),
        ('CMD ["python"]', 0),
    ]
    assert align_history(entries, 3) == [False, True, False, False, True]


def test_align_inconsistent_counts_fall_back_to_instructions() -> None:
    entries = [("RUN a", 10), (NOP + " ENV X=1", 0), ("RUN b", 0)]
    assert align_history(entries, 7) == [False, True, False]


class FakeAPI:
    def __init__(self, name: str, archive: bytes, inspect: dict[str, Any], history: list[dict[str, Any]]):
        self.name = name
        self.archive = archive
        self.inspect = inspect
        self.hist = history

    def _check(self, name: str) -> None:
        if name != self.name:
            raise docker.errors.ImageNotFound(f"No such image: {name}")

    def inspect_image(self, name: str) -> dict[str, Any]:
        self._check(name)
        return self.inspect

    def history(self, name: str) -> list[dict[str, Any]]:
        self._check(name)
        return self.hist

    def get_image(self, name: str, chunk_size: int) -> Iterator[bytes]:
        self._check(name)
        step = 777  # odd chunking, so member boundaries fall mid-chunk
        return (self.archive[i : i + step] for i in range(0, len(self.archive), step))


class FakeClient:
    def __init__(self, api: FakeAPI) -> None:
        self.api = api

    def close(self) -> None:
        pass


def engine(tmp_path: Path, *, drop_layer: bool = False) -> tuple[FakeClient, Any]:
    spec = ImageSpec(
        layers=[[F("etc/os-release", b"ID=x\n")], [F("app/app.py", b"print(1)\n")], [F("app/empty/", kind="dir")]],
        history=[
            {"created_by": "ADD rootfs / # buildkit"},
            {"created_by": "ENV A=1", "empty_layer": True},
            {"created_by": "COPY app.py /app/"},
            {"created_by": "RUN mkdir /app/empty"},
            {"created_by": 'CMD ["python"]', "empty_layer": True},
        ],
        cmd=["python", "/app/app.py"],
    )
    built = write_docker_archive(spec, tmp_path / "save.tar", tag="app:1")
    config = json.loads(built.config)
    diff_ids = list(built.diff_ids)
    if drop_layer:
        diff_ids.append("sha256:" + "f" * 64)
    inspect = {
        "Id": built.config_digest,
        "RootFS": {"Type": "layers", "Layers": diff_ids},
        "Config": config["config"],
        "Os": "linux",
        "Architecture": "amd64",
        "Created": "2024-01-01T00:00:00Z",
    }
    sizes = [100, 0, 9, 0, 0] + ([0] if drop_layer else [])
    created_by = [h["created_by"] for h in spec.history or []] + (["RUN extra"] if drop_layer else [])
    history = [
        {"Id": "<missing>", "Created": 1704067200, "CreatedBy": c, "Size": s, "Comment": ""}
        for c, s in zip(created_by, sizes, strict=True)
    ][::-1]
    return FakeClient(FakeAPI("app:1", (tmp_path / "save.tar").read_bytes(), inspect, history)), built


def test_daemon_source_streams_save(tmp_path: Path) -> None:
    client, built = engine(tmp_path)
    with DaemonSource("app:1", SourceOptions(), client=client) as src:
        config = src.config()
        assert src.ref == "docker:app:1"
        assert config.digest == built.config_digest
        assert config.diff_ids == tuple(built.diff_ids)
        assert config.cmd == ("python", "/app/app.py")
        assert [h.empty_layer for h in config.history] == [False, True, False, False, True]
        assert [d.diff_id for d in src.layers()] == built.diff_ids
        seen = {}
        for layer in src.iter_layers():
            assert layer.descriptor.index == -1
            paths = [m.entry.path for m in iter_tar(layer.stream, source="t")]
            seen[layer.finish()] = paths
    assert set(seen) == set(built.diff_ids)
    assert seen[built.diff_ids[1]] == ["app/app.py"]


def test_daemon_save_missing_a_layer(tmp_path: Path) -> None:
    client, _ = engine(tmp_path, drop_layer=True)
    with DaemonSource("app:1", client=client) as src, pytest.raises(SourceError, match="lacked 1 of"):
        for layer in src.iter_layers():
            layer.finish()


def test_daemon_image_not_found_and_platform(tmp_path: Path) -> None:
    client, _ = engine(tmp_path)
    with pytest.raises(SourceError) as err:
        DaemonSource("nope:1", client=client)
    assert str(err.value) == "docker:nope:1: no such image in the local Docker engine"
    with pytest.raises(SourceError, match="is linux/amd64, not linux/arm64"):
        DaemonSource("app:1", SourceOptions(platform="linux/arm64"), client=client)


def test_no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such.sock")
    assert daemon_has("python:3.11-slim") is False
    with pytest.raises(SourceError, match="cannot reach the Docker engine") as err:
        DaemonSource("python:3.11-slim")
    assert "\n" not in str(err.value)

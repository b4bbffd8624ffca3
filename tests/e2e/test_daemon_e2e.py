"""DaemonSource against the real engine: inspect, history alignment and a streamed ``docker save``."""

from __future__ import annotations

import json
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.test_registry_e2e import build_small_image, docker, inspect

from deadweight.errors import SourceError
from deadweight.sources.daemon import DaemonSource, daemon_has
from deadweight.sources.resolve import open_source
from deadweight.sources.tarstream import iter_tar

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tag = f"deadweight-e2e/daemon:{uuid.uuid4().hex[:10]}"
    build_small_image(tmp_path_factory.mktemp("img"), tag)
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag, f"{tag}-base"], capture_output=True, timeout=120, check=False)


def saved_config_history(tag: str, tmp_path: Path) -> list[dict[str, Any]]:
    """The real config's history, from the engine's own ``docker save``."""
    archive = tmp_path / "save.tar"
    docker("save", "-o", str(archive), tag)
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
        config = json.load(tar.extractfile(manifest[0]["Config"]))  # type: ignore[arg-type]
    return config["history"]  # type: ignore[no-any-return]


def test_daemon_matches_engine(image: str, tmp_path: Path) -> None:
    info = inspect(image)
    expected = info["RootFS"]["Layers"]
    assert daemon_has(image)
    with open_source(image) as src:  # a bare name the engine has goes to the engine
        assert isinstance(src, DaemonSource)
        config = src.config()
        assert list(config.diff_ids) == expected
        assert config.digest == info["Id"]
        assert config.cmd == ("python", "/app/app.py")
        assert str(config.platform) == f"{info['Os']}/{info['Architecture']}"
        truth = saved_config_history(image, tmp_path)
        assert [h.empty_layer for h in config.history] == [bool(h.get("empty_layer")) for h in truth]
        seen = []
        for layer in src.iter_layers():
            paths = [m.entry.path for m in iter_tar(layer.stream, source="e2e")]
            diff_id = layer.finish()
            seen.append(diff_id)
            if "app/data.bin" in paths:
                assert diff_id == expected[-1]
    assert sorted(seen) == sorted(set(expected))


def test_daemon_lab_base_image_history(docker_client: Any, tmp_path: Path) -> None:
    """The lab's python:3.11-slim stand-in: a real multi-instruction build on a real rootfs."""
    if not daemon_has("python:3.11-slim"):
        pytest.skip("the lab's python:3.11-slim is not in the engine")
    with DaemonSource("python:3.11-slim") as src:
        truth = saved_config_history("python:3.11-slim", tmp_path)
        assert [h.empty_layer for h in src.config().history] == [bool(h.get("empty_layer")) for h in truth]
        assert [h.created_by for h in src.config().history] == [h.get("created_by", "") for h in truth]


def test_daemon_missing_image(docker_client: Any) -> None:
    name = f"deadweight-e2e/absent:{uuid.uuid4().hex[:8]}"
    assert not daemon_has(name)
    with pytest.raises(SourceError) as err:
        DaemonSource(name)
    assert str(err.value) == f"docker:{name}: no such image in the local Docker engine"

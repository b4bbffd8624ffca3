"""RegistrySource against the lab's real registries (distribution 2.8), with images the real engine pushed.

The image is built without any base (``docker import`` of a tiny tar, then COPY/ENV/WORKDIR on top), so the
test needs no pull and no network beyond 127.0.0.1.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deadweight.errors import RegistryError
from deadweight.sources.base import SourceOptions
from deadweight.sources.registry import RegistrySource
from deadweight.sources.resolve import open_source
from deadweight.sources.tarstream import iter_tar

pytestmark = pytest.mark.e2e


def docker(*args: str, config: Path | None = None, input: bytes | None = None) -> str:
    cmd = ["docker", *(["--config", str(config)] if config else []), *args]
    res = subprocess.run(cmd, capture_output=True, input=input, timeout=600, check=False)
    if res.returncode != 0:
        raise AssertionError(f"{' '.join(args[:2])} failed: {res.stderr.decode(errors='replace')[-500:]}")
    return res.stdout.decode()


def build_small_image(tmp: Path, tag: str) -> None:
    """A three-layer image from scratch: an imported rootfs, then two COPY layers and metadata."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("etc/os-release", b"ID=deadweight-e2e\n"), ("bin/hello", b"#!/bin/true\n" * 400)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    base = f"{tag}-base"
    docker("import", "-", base, input=buf.getvalue())
    ctx = tmp / "ctx"
    ctx.mkdir()
    (ctx / "app.py").write_text("print('hello from deadweight e2e')\n")
    (ctx / "data.bin").write_bytes(bytes(range(256)) * 512)
    (ctx / "Dockerfile").write_text(
        f"FROM {base}\nENV APP_MODE=e2e\nWORKDIR /app\nCOPY app.py /app/\nCOPY data.bin /app/\n"
        'CMD ["python", "/app/app.py"]\n'
    )
    docker("build", "-q", "-t", tag, str(ctx))


def inspect(tag: str) -> dict[str, Any]:
    return json.loads(docker("image", "inspect", tag))[0]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def image(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tag = f"deadweight-e2e/src:{uuid.uuid4().hex[:10]}"
    build_small_image(tmp_path_factory.mktemp("img"), tag)
    yield tag
    subprocess.run(["docker", "rmi", "-f", tag, f"{tag}-base"], capture_output=True, timeout=120, check=False)


def pushed(image: str, host: str, config: Path | None = None) -> str:
    remote = f"{host}/{image}"
    docker("tag", image, remote)
    docker("push", remote, config=config)
    docker("rmi", remote)
    return remote


def stream_diff_ids(src: RegistrySource | Any) -> list[str | None]:
    out = []
    for layer in src.iter_layers(verify=True):
        for _ in iter_tar(layer.stream, source="e2e"):
            pass
        out.append(layer.finish())
    return out


def test_registry_matches_engine(image: str, registry: str) -> None:
    remote = pushed(image, registry)
    expected = inspect(image)["RootFS"]["Layers"]
    with open_source(f"registry:{remote}", SourceOptions()) as src:
        assert isinstance(src, RegistrySource)
        config = src.config()
        assert list(config.diff_ids) == expected
        assert len(src.layers()) == len(expected)
        assert config.cmd == ("python", "/app/app.py")
        assert "APP_MODE=e2e" in config.env
        assert config.digest == inspect(image)["Id"]
        assert all(d.compressed_size and d.digest != d.diff_id for d in src.layers())  # pushed gzipped
        assert stream_diff_ids(src) == expected
        digest = src.manifest_digest
    # The same image pinned by the digest the registry reported.
    assert digest is not None
    repo = remote.rsplit(":", 1)[0]
    with open_source(f"registry:{repo}@{digest}") as pinned:
        assert list(pinned.config().diff_ids) == expected


def test_registry_unknown_tag(registry: str) -> None:
    with open_source(f"registry:{registry}/deadweight-e2e/none:missing") as src, pytest.raises(RegistryError) as err:
        src.config()
    assert "HTTP 404" in str(err.value) and err.value.exit_code == 3


def test_registry_auth(image: str, registry_auth: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    login_dir = tmp_path / "login"
    login_dir.mkdir()
    docker("login", "-u", registry_auth.user, "--password-stdin", registry_auth.host, config=login_dir,
           input=registry_auth.password.encode())
    remote = pushed(image, registry_auth.host, config=login_dir)
    expected = inspect(image)["RootFS"]["Layers"]

    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(empty))
    with open_source(f"registry:{remote}") as src, pytest.raises(RegistryError) as err:
        src.config()
    assert "unauthorized" in str(err.value) and err.value.exit_code == 3

    wrong = tmp_path / "wrong"
    wrong.mkdir()
    bad = "not-the-password-" + uuid.uuid4().hex
    auth = base64.b64encode(f"{registry_auth.user}:{bad}".encode()).decode()
    (wrong / "config.json").write_text(json.dumps({"auths": {registry_auth.host: {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(wrong))
    with open_source(f"registry:{remote}") as src, pytest.raises(RegistryError) as err:
        src.config()
    assert "unauthorized" in str(err.value)
    assert bad not in str(err.value) and auth not in str(err.value)

    good = tmp_path / "good"
    good.mkdir()
    auth = base64.b64encode(f"{registry_auth.user}:{registry_auth.password}".encode()).decode()
    (good / "config.json").write_text(json.dumps({"auths": {f"http://{registry_auth.host}": {"auth": auth}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(good))
    with open_source(f"registry:{remote}") as src:
        assert list(src.config().diff_ids) == expected
        assert stream_diff_ids(src) == expected


def _read_everything(ref: str) -> list[tuple[str | None, list[tuple[str, str, int, bytes | None]]]]:
    out = []
    with open_source(ref, SourceOptions()) as src:
        for layer in src.iter_layers(verify=True):
            members = [
                (m.entry.path, m.entry.kind.value, m.entry.size, m.content)
                for m in iter_tar(layer.stream, source="e2e", want=lambda _p: True)
            ]
            out.append((layer.finish(), members))
    return out


def test_registry_concurrent_fetch_equals_serial(
    image: str, registry: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real registry read with blobs fetched ahead and layers inflated/hashed in worker threads gives
    the same bytes and diff ids as the one-thread read (DEADWEIGHT_THREADS=1), and both match the engine."""
    remote = pushed(image, registry)
    monkeypatch.setenv("DEADWEIGHT_THREADS", "1")
    serial = _read_everything(f"registry:{remote}")
    monkeypatch.setenv("DEADWEIGHT_THREADS", "4")
    concurrent = _read_everything(f"registry:{remote}")
    assert concurrent == serial
    assert [diff_id for diff_id, _ in serial] == inspect(image)["RootFS"]["Layers"]
    assert any(content for _, members in serial for *_, content in members)  # file bytes were compared

"""The reference resolver and registry reference parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from deadweight.errors import SourceError, UsageError
from deadweight.sources import resolve
from deadweight.sources.base import SourceOptions
from deadweight.sources.daemon import DaemonSource
from deadweight.sources.docker_archive import DockerArchiveSource
from deadweight.sources.oci_layout import OciLayoutSource
from deadweight.sources.registry import RegistrySource
from deadweight.sources.registry_http import parse_retry_after
from deadweight.sources.registry_ref import RegistryRef, parse_image_ref
from deadweight.sources.resolve import describe_ref, open_source
from tests.imagebuilder import F, ImageSpec, write_docker_archive, write_oci_layout

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("python", RegistryRef("docker.io", "library/python", "latest")),
        ("python:3.11-slim", RegistryRef("docker.io", "library/python", "3.11-slim")),
        ("index.docker.io/library/python:3", RegistryRef("docker.io", "library/python", "3")),
        ("registry-1.docker.io/bitnami/redis", RegistryRef("docker.io", "bitnami/redis", "latest")),
        ("user/app:v1", RegistryRef("docker.io", "user/app", "v1")),
        ("127.0.0.1:5000/app:1", RegistryRef("127.0.0.1:5000", "app", "1")),
        ("localhost/a/b/c", RegistryRef("localhost", "a/b/c", "latest")),
        ("ghcr.io/org/img@" + DIGEST, RegistryRef("ghcr.io", "org/img", None, DIGEST)),
        ("ghcr.io/org/img:tag@" + DIGEST, RegistryRef("ghcr.io", "org/img", "tag", DIGEST)),
        ("[::1]:5000/app", RegistryRef("[::1]:5000", "app", "latest")),
    ],
)
def test_parse_image_ref(text: str, expected: RegistryRef) -> None:
    assert parse_image_ref(text) == expected


def test_ref_helpers() -> None:
    hub = parse_image_ref("python:3.11")
    assert hub.api_host == "registry-1.docker.io" and not hub.is_local
    assert str(hub) == "docker.io/library/python:3.11"
    local = parse_image_ref("localhost:5000/app@" + DIGEST)
    assert local.is_local and local.reference == DIGEST and local.api_host == "localhost:5000"
    assert parse_image_ref("[::1]:5000/app").is_local


@pytest.mark.parametrize(
    "text",
    ["", "user/UPPER", "app:bad tag", "app@sha256:xyz", "https://reg/app", "a//b", "app:", "-app", "x/" + "a" * 300],
)
def test_bad_refs_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_image_ref(text)


def test_bad_ref_message_never_echoes_credentials() -> None:
    with pytest.raises(UsageError) as err:
        parse_image_ref("bob:PaSsWoRd123@reg.example.com/App")
    assert "PaSsWoRd123" not in str(err.value)


def test_retry_after_forms() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=lambda: 1445412480.0) == 10.0


def test_describe_ref_strips_credentials() -> None:
    assert describe_ref("registry:bob:pw@reg.io:5000/app:1") == "registry:reg.io:5000/app:1"
    assert describe_ref("docker://bob:pw@reg.io/app") == "docker://reg.io/app"
    assert describe_ref("python@" + DIGEST) == "python@" + DIGEST
    assert describe_ref("docker-archive:/tmp/a@b.tar") == "docker-archive:/tmp/a@b.tar"
    assert describe_ref("registry:reg.io/app@" + DIGEST) == "registry:reg.io/app@" + DIGEST


def test_credentials_in_ref_are_refused() -> None:
    with pytest.raises(UsageError) as err:
        open_source("registry:bob:TopSecret@reg.io/app:1")
    assert "TopSecret" not in str(err.value)
    assert "docker login" in str(err.value)


def _spec() -> ImageSpec:
    return ImageSpec(layers=[[F("etc/hostname", b"x\n")]])


def test_docker_archive_scheme_and_bare_tar(tmp_path: Path) -> None:
    archive = tmp_path / "img.tar"
    built = write_docker_archive(_spec(), archive)
    for ref in (f"docker-archive:{archive}", str(archive)):
        with open_source(ref, SourceOptions()) as src:
            assert isinstance(src, DockerArchiveSource)
            assert src.config().diff_ids == tuple(built.diff_ids)


def test_oci_scheme_and_bare_layout_dir(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    built = write_oci_layout(_spec(), layout)
    for ref in (f"oci:{layout}", str(layout)):
        with open_source(ref) as src:
            assert isinstance(src, OciLayoutSource)
            assert src.config().diff_ids == tuple(built.diff_ids)


def test_missing_paths_and_bad_syntax(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        open_source(f"docker-archive:{tmp_path}/nope.tar")
    with pytest.raises(UsageError, match="missing path"):
        open_source("oci:")
    with pytest.raises(UsageError):
        open_source("docker:Not Valid")
    with pytest.raises(UsageError):
        open_source("registry:")
    with pytest.raises(UsageError):
        open_source("   ")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(UsageError, match="not an image archive"):
        open_source(str(tmp_path / "notes.txt"))


def test_registry_scheme_builds_registry_source() -> None:
    with open_source("registry:127.0.0.1:5000/app:1") as src:  # lazy: no network until config()
        assert isinstance(src, RegistrySource)
        assert src.ref == "registry:127.0.0.1:5000/app:1"
    with open_source("docker://127.0.0.1:5000/app:1") as src:
        assert isinstance(src, RegistrySource)


def test_bare_name_prefers_engine_then_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def has(name: str) -> bool:
        asked.append(name)
        return False

    monkeypatch.setattr(resolve, "daemon_has", has)
    with open_source("127.0.0.1:5000/app:1") as src:
        assert isinstance(src, RegistrySource)
    assert asked == ["127.0.0.1:5000/app:1"]

    made: list[str] = []

    class FakeDaemon(DaemonSource):
        def __init__(self, name: str, options: SourceOptions | None = None) -> None:
            made.append(name)

        def close(self) -> None:
            pass

    monkeypatch.setattr(resolve, "daemon_has", lambda name: True)
    monkeypatch.setattr(resolve, "DaemonSource", FakeDaemon)
    assert isinstance(open_source("python:3.11-slim"), FakeDaemon)
    assert isinstance(open_source("docker:sha256:" + "ab" * 32), FakeDaemon)
    assert made == ["python:3.11-slim", "sha256:" + "ab" * 32]

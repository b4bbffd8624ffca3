"""Static closure estimation over a real index of real wheels served on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deadweight.model.image import Platform
from deadweight.pypi.closure import ClosureResolver
from deadweight.pypi.index import IndexClient
from deadweight.pypi.remote_wheel import WheelInspector
from deadweight.pypi.store import JsonStore
from tests.support.wheels import build_wheel, load_static_server, write_index


@pytest.fixture()
def index_url(tmp_path: Path) -> Iterator[str]:
    w = tmp_path / "w"
    w.mkdir()
    wheels = [
        build_wheel(w, "app-lib", "1.0", {"app_lib/__init__.py": b"a" * 100},
                    requires=("helper>=2", "winonly; sys_platform == 'win32'", "extra-dep; extra == 'fast'")),
        build_wheel(w, "helper", "1.5", {"helper/__init__.py": b"old"}),
        build_wheel(w, "helper", "2.1", {"helper/__init__.py": b"h" * 2000, "helper/_c.so": b"\0" * 5000}),
        build_wheel(w, "winonly", "1.0", {"winonly.py": b"w"}),
        build_wheel(w, "extra-dep", "3.0", {"extra_dep/__init__.py": b"e" * 300}),
    ]
    write_index(tmp_path / "simple", wheels)
    server = load_static_server().start(str(tmp_path / "simple"))
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def _resolver(url: str, cache: Path) -> ClosureResolver:
    store = JsonStore(cache)
    return ClosureResolver([IndexClient(url, store)], WheelInspector(store), python="3.11",
                           platform=Platform("linux", "amd64"))


def test_closure_follows_active_requirements_and_sizes_each_wheel(index_url: str, tmp_path: Path) -> None:
    closure = _resolver(index_url, tmp_path / "c").resolve(["app-lib", "missing-thing"])
    assert set(closure.wheels) == {"app-lib", "helper"}  # win32 marker and unrequested extra are inactive
    assert closure.wheels["helper"].version == "2.1"
    assert closure.wheels["helper"].required_by == ["app-lib"]
    assert closure.wheels["app-lib"].requires == ["helper"]
    assert closure.wheels["helper"].top_level == ("helper",)
    assert closure.wheels["helper"].installed_bytes > 7000
    assert "missing-thing" in closure.unresolved


def test_extras_pull_in_their_requirements(index_url: str, tmp_path: Path) -> None:
    closure = _resolver(index_url, tmp_path / "c").resolve(["app-lib[fast]"])
    assert set(closure.wheels) == {"app-lib", "helper", "extra-dep"}

"""Static closure estimation over a real index of real wheels served on loopback."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deadweight.model.image import Platform
from deadweight.pypi.closure import Closure, ClosureResolver
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


# --- concurrency: same answer as a sequential walk, a bounded pool, picks cached consistently -----------


def _graph_wheels(w: Path) -> list[Path]:
    return [
        build_wheel(w, "web", "1.0", {"web/__init__.py": b"w" * 10},
                    requires=("shared>=2", "util", "extra-dep; extra == 'fast'", "winonly; sys_platform == 'win32'")),
        build_wheel(w, "web", "2.0.dev1", {"web/__init__.py": b"dev"}),
        build_wheel(w, "cli", "1.0", {"cli.py": b"c" * 20}, requires=("shared>=1", "util[color]", "missing-one")),
        build_wheel(w, "util", "1.0", {"util/__init__.py": b"u" * 30},
                    requires=("colorama; extra == 'color'", "needs-build")),
        *[build_wheel(w, "shared", v, {"shared/__init__.py": v.encode() * 40}) for v in ("1.0", "2.0", "2.5", "3.0")],
        build_wheel(w, "extra-dep", "1.0", {"extra_dep/__init__.py": b"e"}),
        build_wheel(w, "colorama", "0.4.6", {"colorama/__init__.py": b"k" * 5}),
        build_wheel(w, "winonly", "1.0", {"winonly.py": b"w"}),
    ]


@pytest.fixture()
def graph_index(tmp_path: Path) -> Iterator[str]:
    w = tmp_path / "gw"
    w.mkdir()
    write_index(tmp_path / "gsimple", _graph_wheels(w))
    (tmp_path / "gsimple" / "needs-build").mkdir()
    (tmp_path / "gsimple" / "needs-build" / "index.html").write_text(
        '<a href="needs_build-1.0.tar.gz">needs_build-1.0.tar.gz</a>')
    server = load_static_server().start(str(tmp_path / "gsimple"))
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


ROOTS = ["web[fast]>=1", "shared<3", "cli", "winonly; sys_platform == 'win32'", "not a requirement!"]


def _summary(closure: Closure) -> tuple[object, ...]:
    wheels = [(w.name, w.version, w.filename, w.installed_bytes, tuple(w.requires), tuple(w.required_by),
               w.top_level) for w in closure.wheels.values()]
    return tuple(wheels), tuple(closure.unresolved.items())


def _resolve(url: str, cache: Path, *, workers: int, offline: bool = False) -> Closure:
    store = JsonStore(cache)
    resolver = ClosureResolver([IndexClient(url, store, offline=offline)], WheelInspector(store, offline=offline),
                               python="3.11", platform=Platform("linux", "amd64"), workers=workers)
    return resolver.resolve(ROOTS)


def test_concurrent_walk_gives_the_sequential_answer(graph_index: str, tmp_path: Path) -> None:
    sequential = _resolve(graph_index, tmp_path / "seq", workers=1)
    assert list(sequential.wheels) == ["web", "shared", "cli", "util", "extra-dep", "colorama"]
    assert sequential.wheels["shared"].version == "2.5"  # the root's "<3" was queued first and decides
    assert sequential.wheels["web"].version == "1.0"  # never the .dev release
    assert sequential.wheels["shared"].required_by == ["web", "cli"]
    assert sequential.wheels["util"].requires == ["needs-build", "colorama"]  # [color] added by cli, later
    assert set(sequential.unresolved) == {"not a requirement!", "missing-one", "needs-build"}
    assert "pip would build needs_build-1.0.tar.gz from source" in sequential.unresolved["needs-build"]
    for workers in (2, 8):
        assert _summary(_resolve(graph_index, tmp_path / f"c{workers}", workers=workers)) == _summary(sequential)
    # warm: the picks and facts come from the cache (no page parsed); offline too
    assert _summary(_resolve(graph_index, tmp_path / "c8", workers=8)) == _summary(sequential)
    assert _summary(_resolve("http://127.0.0.1:9/", tmp_path / "c8", workers=8, offline=True)) != _summary(sequential)
    assert _summary(_resolve(graph_index, tmp_path / "c8", workers=8, offline=True)) == _summary(sequential)


def test_a_cached_pick_follows_its_page(graph_index: str, tmp_path: Path) -> None:
    """A pick is cached with the token of the page it came from: a page written anew is picked from anew."""
    cache = tmp_path / "c"
    assert _resolve(graph_index, cache, workers=4).wheels["shared"].version == "2.5"
    store = JsonStore(cache)
    index = IndexClient(graph_index, store)
    page = store.get(f"simple:{index.page_url('shared')}")
    token = index.page_token("shared")
    assert page is not None and token is not None
    # the page as a refresh would write it, with a newer release that "<3" admits
    newer = dict(next(f for f in page if f["filename"].startswith("shared-2.5-")))
    newer["filename"] = newer["filename"].replace("2.5", "2.9")
    store.put(f"simple:{index.page_url('shared')}", [*page, newer])
    assert _resolve(graph_index, cache, workers=4).wheels["shared"].version == "2.5"  # same token: cached pick
    store.put(f"simple-token:{index.page_url('shared')}", "rewritten")
    # a new token: picked again from the page as it now is (the 2.9 entry points at 2.5's cached wheel)
    assert _resolve(graph_index, cache, workers=4, offline=True).wheels["shared"].version == "2.9"


def test_index_requests_run_concurrently_in_a_bounded_pool(tmp_path: Path) -> None:
    built = tmp_path / "w"
    built.mkdir()
    names = [f"pkg{i}" for i in range(12)]
    wheels = {p.name: p.read_bytes() for p in (build_wheel(built, n, "1.0", {f"{n}.py": b"x"}) for n in names)}
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        try:
            time.sleep(0.02)  # hold the request open so that overlapping ones can be counted
            path = request.url.path
            if path.startswith("/simple/"):
                name = path.split("/")[2]
                filename = next(f for f in wheels if f.startswith(f"{name}-"))
                doc = {"meta": {"api-version": "1.1"}, "files": [
                    {"filename": filename, "url": f"/files/{filename}", "hashes": {}, "size": len(wheels[filename])}]}
                return httpx.Response(200, json=doc, headers={"content-type": "application/vnd.pypi.simple.v1+json"})
            data = wheels[path.rsplit("/", 1)[1]]
            start, end = (int(x) for x in request.headers["range"].removeprefix("bytes=").split("-"))
            return httpx.Response(206, content=data[start : end + 1],
                                  headers={"content-range": f"bytes {start}-{min(end, len(data) - 1)}/{len(data)}"})
        finally:
            with lock:
                state["now"] -= 1

    results = []
    for workers in (1, 4):
        state["peak"] = 0
        client = httpx.Client(transport=httpx.MockTransport(handler))
        store = JsonStore(tmp_path / f"cache{workers}")
        resolver = ClosureResolver([IndexClient("https://index.test/simple/", store, client=client)],
                                   WheelInspector(store, client=client), python="3.11",
                                   platform=Platform("linux", "amd64"), workers=workers)
        closure = resolver.resolve(names)
        assert list(closure.wheels) == names and not closure.unresolved
        results.append((workers, state["peak"]))
    assert results[0] == (1, 1)  # sequential: one request at a time
    assert 1 < results[1][1] <= 4  # concurrent, never more than the pool

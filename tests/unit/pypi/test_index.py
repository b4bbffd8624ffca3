"""The index client and remote wheel reader against real wheels served over loopback HTTP."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deadweight.model.image import Platform
from deadweight.pypi.index import IndexClient, OfflineMiss, parse_html
from deadweight.pypi.remote_wheel import MIN_FETCH, WheelInspector, read_wheel
from deadweight.pypi.select import pick_wheel
from deadweight.pypi.store import JsonStore
from deadweight.pypi.tags import target_tags
from tests.support.wheels import build_wheel, load_static_server, write_index


@pytest.fixture()
def served_index(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    built = [
        build_wheel(wheels, "fake-torch", "2.5.1", {"torch/__init__.py": b"x" * 1000,
                                                     "torch/lib/libtorch_cuda.so": b"\0" * 300_000,
                                                     "torch/lib/libcudnn.so.9": b"\1" * 200_000},
                    requires=("nvidia-cudnn-cu12==9.1.0.70; platform_system == 'Linux'",),
                    tag="cp311-cp311-manylinux_2_17_x86_64"),
        build_wheel(wheels, "fake-torch", "2.4.0", {"torch/__init__.py": b"y"}, tag="py3-none-any"),
        build_wheel(wheels, "fake-torch", "2.6.0", {"torch/__init__.py": b"z"}, tag="cp312-cp312-win_amd64"),
    ]
    index = tmp_path / "simple"
    write_index(index, built)
    server = load_static_server().start(str(index))
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", index
    finally:
        server.shutdown()


def test_picks_best_compatible_wheel_and_sizes_it_from_the_central_directory(
    served_index: tuple[str, Path], tmp_path: Path
) -> None:
    url, index = served_index
    store = JsonStore(tmp_path / "cache")
    client = IndexClient(url, store)
    files = client.project_files("Fake_Torch")
    assert {f.filename for f in files} == {p.name for p in (index / "fake-torch").glob("*.whl")}
    tags = target_tags("3.11", Platform("linux", "amd64"))
    chosen = pick_wheel(files, "", tags, "3.11")
    assert chosen is not None and chosen.filename.startswith("fake_torch-2.5.1-")  # 2.6.0 is Windows-only
    assert pick_wheel(files, "<2.5", tags, "3.11").filename.startswith("fake_torch-2.4.0")  # type: ignore[union-attr]

    inspector = WheelInspector(store)
    facts = inspector.facts(chosen.url)
    with zipfile.ZipFile(index / "fake-torch" / chosen.filename) as zf:
        expected = sum(i.file_size for i in zf.infolist())
    assert facts.installed_bytes == expected
    assert facts.gpu_bytes == 500_000
    assert facts.top_level == ("torch",)
    assert facts.metadata is not None and "Requires-Dist: nvidia-cudnn-cu12" in facts.metadata


def test_second_run_works_offline_from_the_cache(served_index: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served_index
    store = JsonStore(tmp_path / "cache")
    online = IndexClient(url, store).project_files("fake-torch")
    wheel = online[0]
    WheelInspector(store).facts(wheel.url)
    offline_client = IndexClient("http://127.0.0.1:9/", store, offline=True)
    with pytest.raises(OfflineMiss):
        offline_client.project_files("fake-torch")  # other index URL: not cached
    assert IndexClient(url, store, offline=True).project_files("fake-torch") == online
    assert WheelInspector(store, offline=True).facts(wheel.url).installed_bytes > 0


def test_html_index_parsing_reads_hashes_metadata_and_yanked() -> None:
    html = (
        '<a href="../../files/a-1.0-py3-none-any.whl#sha256=' + "ab" * 32 + '" data-core-metadata="sha256=x" '
        'data-requires-python="&gt;=3.9">a-1.0-py3-none-any.whl</a>'
        '<a href="a-0.9-py3-none-any.whl" data-yanked="">a-0.9-py3-none-any.whl</a>'
    )
    files = parse_html(html, "https://example.test/simple/a/")
    assert files[0].url == "https://example.test/files/a-1.0-py3-none-any.whl"
    assert files[0].sha256 == "ab" * 32 and files[0].has_metadata and files[0].requires_python == ">=3.9"
    assert files[1].yanked and not files[1].has_metadata


def test_wheel_read_in_two_requests_when_the_index_gives_its_size(tmp_path: Path) -> None:
    """With PEP 700's size no HEAD is needed; a central directory larger than the first tail read is
    fetched whole with one more request, whatever its size."""
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    members = {f"bigpkg/sub_{i:05d}/module_with_a_rather_long_name_{i:05d}.py": b"x" * (i % 7) for i in range(4000)}
    path = build_wheel(wheels, "bigpkg", "1.0", members)
    with zipfile.ZipFile(path) as zf:
        expected = sum(i.file_size for i in zf.infolist())
        cd_bytes = sum(46 + len(i.filename.encode()) for i in zf.infolist())
    assert cd_bytes > MIN_FETCH  # the directory does not fit in the first read
    seen: list[tuple[str, str | None]] = []
    data = path.read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.headers.get("range")))
        if request.method == "HEAD":
            return httpx.Response(200, headers={"content-length": str(len(data))})
        start, end = (int(x) for x in request.headers["range"].removeprefix("bytes=").split("-"))
        end = min(end, len(data) - 1)
        return httpx.Response(206, content=data[start : end + 1],
                              headers={"content-range": f"bytes {start}-{end}/{len(data)}"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    facts = read_wheel(client, "https://files.test/bigpkg-1.0-py3-none-any.whl", len(data))
    assert facts.installed_bytes == expected and facts.file_count == 4003 and facts.top_level == ("bigpkg",)
    assert facts.metadata is not None and "Name: bigpkg" in facts.metadata
    assert [m for m, _ in seen] == ["GET", "GET"]
    assert seen[0][1] == f"bytes={len(data) - MIN_FETCH}-{len(data) - 1}"
    seen.clear()
    assert read_wheel(client, "https://files.test/bigpkg-1.0-py3-none-any.whl").installed_bytes == expected
    assert [m for m, _ in seen] == ["HEAD", "GET", "GET"]  # no size from the index: one HEAD more

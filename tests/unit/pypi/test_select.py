"""Which file pip would pick: pre-releases, yanked files, Requires-Python, sdists, several indexes.

The pages are real-shaped Simple API answers (PEP 503 HTML served by the repo's static server on loopback,
PEP 691 JSON through httpx's MockTransport, as an index sends them) read by ``IndexClient``; the choice is
pip's (pip 22-25: ``PackageFinder.get_applicable_candidates`` and the resolver factory's PEP 592 rule).
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from deadweight.model.image import Platform
from deadweight.pypi.index import IndexClient, IndexFile
from deadweight.pypi.select import best_file, pick_wheel
from deadweight.pypi.store import JsonStore
from deadweight.pypi.tags import target_tags
from tests.support.wheels import load_static_server

TAGS = target_tags("3.11", Platform("linux", "amd64"))
PY3 = "py3-none-any"
CP311 = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"

# httpx's real release history around 0.27, with its .dev releases of 1.0 (wheel and sdist each)
HTTPX = [f"httpx-{v}-{PY3}.whl" for v in ("0.26.0", "0.27.0", "0.27.2", "0.28.0", "0.28.1")] + [
    name for v in ("1.0.dev1", "1.0.dev2", "1.0.dev3") for name in (f"httpx-{v}-{PY3}.whl", f"httpx-{v}.tar.gz")
]


def _html_page(files: Sequence[tuple[str, dict[str, str]]]) -> str:
    links = []
    for filename, attrs in files:
        extra = "".join(f' {k}="{html.escape(v)}"' for k, v in attrs.items())
        links.append(f'<a href="../../files/{filename}#sha256={"0" * 64}"{extra}>{filename}</a><br/>')
    return "<!DOCTYPE html>\n<html><body>\n" + "\n".join(links) + "\n</body></html>\n"


@pytest.fixture()
def html_index(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """(index directory to write pages into, its URL): PEP 503 pages served on loopback."""
    root = tmp_path / "simple"
    root.mkdir()
    server = load_static_server().start(str(root))
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def _serve(root: Path, project: str, files: Sequence[tuple[str, dict[str, str]]]) -> None:
    (root / project).mkdir()
    (root / project / "index.html").write_text(_html_page(files))


def _files(url: str, project: str, tmp_path: Path) -> list[IndexFile]:
    return IndexClient(url, JsonStore(tmp_path / "cache")).project_files(project)


def _pick(files: Sequence[IndexFile], spec: str, *, pre: bool = False, python: str = "3.11") -> str | None:
    chosen = best_file(files, spec, TAGS, python, prereleases=pre)
    return chosen.filename if chosen else None


def test_httpx_at_least_0_27_never_gives_a_dev_release(html_index: tuple[Path, str], tmp_path: Path) -> None:
    root, url = html_index
    _serve(root, "httpx", [(f, {}) for f in HTTPX])
    files = _files(url, "httpx", tmp_path)
    assert {f.filename for f in files} == set(HTTPX)
    assert _pick(files, ">=0.27") == f"httpx-0.28.1-{PY3}.whl"
    assert _pick(files, "") == f"httpx-0.28.1-{PY3}.whl"
    assert _pick(files, ">=0.27,<2") == f"httpx-0.28.1-{PY3}.whl"
    picked = pick_wheel(files, ">=0.27", TAGS, "3.11")
    assert picked is not None and picked.version() is not None and not picked.version().is_prerelease  # type: ignore[union-attr]


def test_pre_releases_when_the_specifier_names_one_or_pre_is_asked(
    html_index: tuple[Path, str], tmp_path: Path
) -> None:
    root, url = html_index
    _serve(root, "httpx", [(f, {}) for f in HTTPX])
    files = _files(url, "httpx", tmp_path)
    assert _pick(files, ">=1.0.dev2") == f"httpx-1.0.dev3-{PY3}.whl"  # the specifier names a pre-release
    assert _pick(files, "==1.0.dev1") == f"httpx-1.0.dev1-{PY3}.whl"
    assert _pick(files, ">=0.27", pre=True) == f"httpx-1.0.dev3-{PY3}.whl"  # pip install --pre
    assert _pick(files, "<0.28", pre=True) == f"httpx-0.27.2-{PY3}.whl"  # --pre still honours the specifier


def test_pre_release_only_when_no_final_release_is_a_candidate(
    html_index: tuple[Path, str], tmp_path: Path
) -> None:
    root, url = html_index
    _serve(root, "only-betas", [(f"only_betas-{v}-{PY3}.whl", {}) for v in ("2.0b1", "2.0b2")])
    _serve(root, "newpy", [(f"newpy-1.0-{PY3}.whl", {"data-requires-python": ">=3.12"}),
                           (f"newpy-1.1rc1-{PY3}.whl", {"data-requires-python": ">=3.10"}),
                           (f"newpy-0.9-{PY3}.whl", {"data-requires-python": ">=3.12"})])
    assert _pick(_files(url, "only-betas", tmp_path), ">=1") == f"only_betas-2.0b2-{PY3}.whl"
    # on 3.11 no final release is a candidate (Requires-Python), so pip takes the release candidate
    newpy = _files(url, "newpy", tmp_path)
    assert _pick(newpy, "") == f"newpy-1.1rc1-{PY3}.whl"
    assert _pick(newpy, "", python="3.12") == f"newpy-1.0-{PY3}.whl"


def test_yanked_skipped_unless_pinned_with_double_equals(html_index: tuple[Path, str], tmp_path: Path) -> None:
    root, url = html_index
    yanked = {"data-yanked": "broken build"}
    _serve(root, "httpx", [(f"httpx-0.27.2-{PY3}.whl", {}), (f"httpx-0.28.0-{PY3}.whl", yanked),
                           (f"httpx-0.28.1-{PY3}.whl", yanked), ("httpx-0.28.1.tar.gz", yanked)])
    files = _files(url, "httpx", tmp_path)
    assert [f.filename for f in files if f.yanked] == [f"httpx-0.28.0-{PY3}.whl", f"httpx-0.28.1-{PY3}.whl",
                                                       "httpx-0.28.1.tar.gz"]
    assert _pick(files, ">=0.27") == f"httpx-0.27.2-{PY3}.whl"
    assert _pick(files, ">=0.28") is None  # only yanked files match, and nothing pins them
    assert _pick(files, "==0.28.1") == f"httpx-0.28.1-{PY3}.whl"  # PEP 592: an exact pin may take it
    assert _pick(files, "===0.28.1") == f"httpx-0.28.1-{PY3}.whl"
    assert _pick(files, "==0.28.*") is None  # a wildcard is not a pin
    assert _pick(files, "==0.27.2") == f"httpx-0.27.2-{PY3}.whl"


def test_requires_python_is_honoured(html_index: tuple[Path, str], tmp_path: Path) -> None:
    root, url = html_index
    _serve(root, "numpyish", [(f"numpyish-2.3.0-{CP311}.whl", {"data-requires-python": ">=3.12"}),
                              (f"numpyish-2.2.6-{CP311}.whl", {"data-requires-python": ">=3.10"}),
                              (f"numpyish-2.2.5-{CP311}.whl", {"data-requires-python": "not a specifier"})])
    files = _files(url, "numpyish", tmp_path)
    assert [f.requires_python for f in files] == [">=3.12", ">=3.10", "not a specifier"]
    assert _pick(files, "") == f"numpyish-2.2.6-{CP311}.whl"
    assert _pick(files, "<2.2.6") == f"numpyish-2.2.5-{CP311}.whl"  # an invalid Requires-Python admits all
    assert _pick(files, "", python="3.12") == f"numpyish-2.3.0-{CP311}.whl"  # the same tags, a newer Python


def test_newest_version_without_a_wheel_means_pip_builds_it(html_index: tuple[Path, str], tmp_path: Path) -> None:
    root, url = html_index
    _serve(root, "psycopg2", [(f"psycopg2-2.9.9-{CP311}.whl", {}), ("psycopg2-2.9.9.tar.gz", {}),
                              ("psycopg2-2.9.10.tar.gz", {}), ("psycopg2-2.9.10-cp312-cp312-win_amd64.whl", {})])
    files = _files(url, "psycopg2", tmp_path)
    assert _pick(files, ">=2.9") == "psycopg2-2.9.10.tar.gz"
    assert pick_wheel(files, ">=2.9", TAGS, "3.11") is None  # not the older wheel: pip would build 2.9.10
    assert _pick(files, "<2.9.10") == f"psycopg2-2.9.9-{CP311}.whl"  # a wheel before the sdist of a version


def test_best_tag_then_build_tag_within_a_version(html_index: tuple[Path, str], tmp_path: Path) -> None:
    root, url = html_index
    _serve(root, "fast", [(f"fast-1.0-{PY3}.whl", {}), (f"fast-1.0-{CP311}.whl", {}),
                          ("fast-1.0-1-cp311-cp311-manylinux_2_17_x86_64.whl", {}),
                          ("fast-1.0-2-cp311-cp311-manylinux_2_17_x86_64.whl", {})])
    files = _files(url, "fast", tmp_path)
    assert _pick(files, "") == "fast-1.0-2-cp311-cp311-manylinux_2_17_x86_64.whl"


def test_pep691_json_pages_and_several_indexes_pooled(tmp_path: Path) -> None:
    """pip pools every index's files: the CPU index's 2.5.1+cpu outranks PyPI's 2.5.1 for ``==2.5.1``."""
    pages = {
        "/pypi/torch/": [("torch-2.5.1-cp311-cp311-manylinux1_x86_64.whl", False),
                         ("torch-2.6.0.dev20241101-cp311-cp311-manylinux1_x86_64.whl", False)],
        "/cpu/torch/": [("torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl", False),
                        ("torch-2.4.1+cpu-cp311-cp311-linux_x86_64.whl", True)],
    }

    def handler(request: httpx.Request) -> httpx.Response:
        files = [{"filename": name, "url": f"https://files.test/{name}", "hashes": {"sha256": "ab" * 32},
                  "requires-python": ">=3.9", "core-metadata": {"sha256": "cd" * 32}, "size": 1000,
                  **({"yanked": "superseded"} if yanked else {})}
                 for name, yanked in pages.get(request.url.path, [])]
        doc = {"meta": {"api-version": "1.1"}, "name": "torch", "files": files}
        return httpx.Response(200, content=json.dumps(doc).encode(),
                              headers={"content-type": "application/vnd.pypi.simple.v1+json"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    store = JsonStore(tmp_path / "cache")
    pypi = IndexClient("https://index.test/pypi/", store, client=client).project_files("torch")
    cpu = IndexClient("https://index.test/cpu/", store, client=client).project_files("torch")
    assert cpu[1].yanked and cpu[0].size == 1000 and cpu[0].has_metadata and cpu[0].requires_python == ">=3.9"
    assert _pick(pypi, ">=2.1") == "torch-2.5.1-cp311-cp311-manylinux1_x86_64.whl"  # not the nightly
    assert _pick(pypi + cpu, "==2.5.1") == "torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl"
    assert _pick(cpu + pypi, ">=2.1") == "torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl"  # order does not matter
    assert _pick(pypi + cpu, "<2.5") is None  # 2.4.1+cpu is yanked, and "<2.5" pins nothing

"""Sdist-only packages (issue 9): their requirements from the sdist's PKG-INFO (Metadata 2.2+, not Dynamic) or
pyproject.toml, read with a bounded download from a real index on loopback, cached; else unknown. Sdists
are built by setuptools' own build backend in the test (and one Metadata 2.2 tarball is assembled the way
newer setuptools writes it, as the installed setuptools writes 2.1)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deadweight.errors import SourceError
from deadweight.model.image import Platform
from deadweight.pypi import sdist as sdist_module
from deadweight.pypi.closure import ClosureResolver
from deadweight.pypi.index import IndexClient, IndexFile
from deadweight.pypi.remote_wheel import WheelInspector
from deadweight.pypi.sdist import SdistInspector, read_sdist, requires_from_pkg_info, requires_from_pyproject
from deadweight.pypi.store import JsonStore
from deadweight.usage.verdicts import decide
from tests.support.wheels import build_wheel, load_static_server, write_index


def setuptools_sdist(root: Path, name: str, *, pyproject: str | None = None, setup_py: str | None = None) -> Path:
    """``build_meta.build_sdist`` of a one-module project: the sdist setuptools really makes."""
    src = root / f"src-{name}"
    src.mkdir(parents=True)
    (src / f"{name.replace('-', '_')}.py").write_text("VALUE = 1\n")
    if pyproject is not None:
        (src / "pyproject.toml").write_text(pyproject)
    if setup_py is not None:
        (src / "setup.py").write_text(setup_py)
    out = root / "sdists"
    out.mkdir(exist_ok=True)
    code = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    res = subprocess.run(
        [sys.executable, "-c", code, str(out)], cwd=src, capture_output=True, text=True, check=False, timeout=120
    )
    assert res.returncode == 0, res.stderr[-800:]
    return out / res.stdout.strip().splitlines()[-1]


def tarball(path: Path, top: str, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for rel, data in members.items():
            info = tarfile.TarInfo(f"{top}/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def serve(root: Path, files: list[Path]) -> Iterator[str]:
    """A PEP 503/691 index of sdists (and wheels, through write_index) under ``root``."""
    by_project: dict[str, list[Path]] = {}
    for file in files:
        by_project.setdefault(file.name.split("-")[0].replace("_", "-").lower(), []).append(file)
    for project, items in by_project.items():
        folder = root / project
        folder.mkdir(parents=True, exist_ok=True)
        for item in items:
            (folder / item.name).write_bytes(item.read_bytes())
        (folder / "index.html").write_text(
            "<html><body>" + "".join(f'<a href="{i.name}">{i.name}</a>' for i in items) + "</body></html>"
        )
        (folder / "index.json").write_text(
            json.dumps(
                {
                    "meta": {"api-version": "1.1"},
                    "name": project,
                    "files": [
                        {"filename": i.name, "url": i.name, "hashes": {}, "size": i.stat().st_size} for i in items
                    ],
                }
            )
        )
    server = load_static_server().start(str(root))
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{name}"
version = "1.0"
dependencies = ["helper>=2"]

[project.optional-dependencies]
fast = ["speedup"]
"""


@pytest.fixture()
def sdists(tmp_path: Path) -> dict[str, Path]:
    work = tmp_path / "build"
    out = {
        # setuptools (this one writes Metadata 2.1): the requirements come from the sdist's pyproject.toml
        "static": setuptools_sdist(work, "staticlib", pyproject=PYPROJECT.format(name="staticlib")),
        # install_requires in setup.py: nothing in the sdist states them reliably
        "dynamic": setuptools_sdist(
            work,
            "dynlib",
            setup_py=(
                "from setuptools import setup\nsetup(name='dynlib', version='1.0', py_modules=['dynlib'], "
                "install_requires=['helper'])\n"
            ),
        ),
        "meta22": tarball(
            work / "sdists" / "newlib-1.0.tar.gz",
            "newlib-1.0",
            {
                "newlib.py": b"VALUE = 1\n",
                "PKG-INFO": b"Metadata-Version: 2.2\nName: newlib\nVersion: 1.0\nRequires-Dist: helper>=2\n",
            },
        ),
        "dyn22": tarball(
            work / "sdists" / "dyn22-1.0.tar.gz",
            "dyn22-1.0",
            {"PKG-INFO": b"Metadata-Version: 2.2\nName: dyn22\nVersion: 1.0\nDynamic: Requires-Dist\n"},
        ),
    }
    w = tmp_path / "wheels"
    w.mkdir()
    out["helper"] = build_wheel(w, "helper", "2.1", {"helper/__init__.py": b"h" * 500})
    return out


@pytest.fixture()
def index(tmp_path: Path, sdists: dict[str, Path]) -> Iterator[str]:
    write_index(tmp_path / "simple", [sdists["helper"]])
    yield from serve(tmp_path / "simple", [p for k, p in sdists.items() if k != "helper"])


def index_file(url: str, path: Path) -> IndexFile:
    return IndexFile(
        path.name, url + path.name.split("-")[0] + "/" + path.name, None, None, False, False, path.stat().st_size
    )


def test_pkg_info_rules() -> None:
    assert requires_from_pkg_info("Metadata-Version: 2.2\nRequires-Dist: a\nRequires-Dist: b>1\n") == (("a", "b>1"), "")
    assert requires_from_pkg_info("Metadata-Version: 2.4\nName: x\n") == ((), "")  # states: none
    assert requires_from_pkg_info("Metadata-Version: 2.1\nRequires-Dist: a\n")[0] is None
    assert requires_from_pkg_info("Metadata-Version: 2.3\nDynamic: requires-dist\nRequires-Dist: a\n")[0] is None
    assert requires_from_pyproject('[project]\ndynamic = ["dependencies"]\n')[0] is None
    assert requires_from_pyproject('[project]\ndependencies = ["a"]\n[project.optional-dependencies]\nx = ["b"]\n') == (
        ("a", 'b; extra == "x"'),
        "",
    )


def test_reads_each_kind_of_sdist(index: str, sdists: dict[str, Path], tmp_path: Path) -> None:
    inspector = SdistInspector(JsonStore(tmp_path / "cache"))
    static = inspector.facts(index_file(index, sdists["static"]))
    assert static.requires == ("helper>=2", 'speedup; extra == "fast"') and static.source == "pyproject.toml"
    meta22 = inspector.facts(index_file(index, sdists["meta22"]))
    assert meta22.requires == ("helper>=2",) and meta22.source == "PKG-INFO"
    dynamic = inspector.facts(index_file(index, sdists["dynamic"]))
    assert dynamic.requires is None and "before 2.2" in dynamic.why
    dyn22 = inspector.facts(index_file(index, sdists["dyn22"]))
    assert dyn22.requires is None and "Dynamic" in dyn22.why
    # cached in the JSON store: a fresh inspector offline answers without the index
    again = SdistInspector(JsonStore(tmp_path / "cache"), offline=True).facts(index_file(index, sdists["meta22"]))
    assert again == meta22


def test_the_download_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PKG-INFO behind 400 kB of incompressible data, with a 100 kB bound: refused, not read to the end."""
    (tmp_path / "sdists").mkdir()
    big = tarball(
        tmp_path / "sdists" / "biglib-1.0.tar.gz",
        "biglib-1.0",
        {"data.bin": os.urandom(400_000), "PKG-INFO": b"Metadata-Version: 2.2\n"},
    )
    served = serve(tmp_path / "idx", [big])
    url = next(served)
    monkeypatch.setattr(sdist_module, "MAX_SDIST_BYTES", 100_000)
    try:
        with httpx.Client() as client, pytest.raises(SourceError, match="larger than"):
            read_sdist(client, index_file(url, big))
        monkeypatch.setattr(sdist_module, "MAX_SDIST_BYTES", 1 << 20)
        with httpx.Client() as client:
            assert read_sdist(client, index_file(url, big)).requires == ()
    finally:
        next(served, None)


def test_closure_follows_what_an_sdist_requires(index: str, tmp_path: Path) -> None:
    store = JsonStore(tmp_path / "c")
    resolver = ClosureResolver(
        [IndexClient(index, store)], WheelInspector(store), python="3.11", platform=Platform("linux", "amd64")
    )
    closure = resolver.resolve(["newlib", "dynlib"])
    assert set(closure.sdists) == {"newlib", "dynlib"}
    assert "pip would build newlib-1.0.tar.gz from source" in closure.unresolved["newlib"]  # still not sized
    assert closure.wheels["helper"].required_by == ["newlib"]  # followed from PKG-INFO
    assert closure.sdists["newlib"].requires == ["helper"]
    assert set(closure.sdist_unknown) == {"dynlib"}


def test_verdicts_never_call_unused_what_an_sdist_might_need(index: str, tmp_path: Path) -> None:
    """Through the static estimate's inventory: helper, declared and never imported, is required by the used
    sdist newlib (used, not unused); beside dynlib, whose requirements are unknown, it is unknown."""
    from deadweight.model.project import DeclaredRequirement, Service
    from deadweight.model.usage import EvidenceKind, UsageEvidence, VerdictStatus
    from deadweight.pipeline.static import estimate_inventory

    def declared(*names: str) -> Service:
        reqs = tuple(DeclaredRequirement(n, "", (), None, "requirements.txt", i + 1, n) for i, n in enumerate(names))
        return Service(name="svc", context_dir=None, dockerfile=None, image=None, requirements=reqs)

    os.environ["PIP_INDEX_URL"] = index
    try:
        store = JsonStore(tmp_path / "c")
        imports = [UsageEvidence(EvidenceKind.IMPORT, "import newlib", "app.py:1", "newlib")]
        inv, _ = estimate_inventory(declared("newlib", "helper"), store, offline=False)
        verdicts = decide(
            inv.distributions(),
            {"newlib", "helper"},
            imports,
            complete=True,
            opaque=inv.sdist_only,
            needs_unknown=inv.needs_unknown,
        )
        assert verdicts["newlib"].status is VerdictStatus.USED
        assert verdicts["helper"].status is VerdictStatus.USED_TRANSITIVELY
        inv, _ = estimate_inventory(declared("dynlib", "helper"), store, offline=False)
        verdicts = decide(
            inv.distributions(),
            {"dynlib", "helper"},
            [],
            complete=True,
            opaque=inv.sdist_only,
            needs_unknown=inv.needs_unknown,
        )
        assert verdicts["helper"].status is VerdictStatus.UNKNOWN and "dynlib" in verdicts["helper"].reason
        assert verdicts["dynlib"].status is VerdictStatus.UNKNOWN  # its modules are unknown: never unused
    finally:
        del os.environ["PIP_INDEX_URL"]

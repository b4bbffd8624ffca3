"""A static audit of a service whose used dependency has only a source distribution (issue 9), through the
CLI against a real index on loopback: what the sdist requires is used, not unused; an sdist whose
requirements cannot be read makes the other undecided packages unknown; the row stays "not checked"."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.support.wheels import build_wheel, write_index
from tests.unit.pypi.test_sdist import serve, setuptools_sdist, tarball

from deadweight.cli.main import main

DOCKERFILE = (
    "FROM python:3.11-slim\nWORKDIR /srv\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r "
    'requirements.txt\nCOPY app.py .\nCMD ["python", "app.py"]\n'
)


@pytest.fixture()
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("DEADWEIGHT_CACHE_DIR", str(tmp_path / "cache"))
    work = tmp_path / "build"
    (work / "sdists").mkdir(parents=True)
    sdists = [
        tarball(
            work / "sdists" / "newlib-1.0.tar.gz",
            "newlib-1.0",
            {
                "newlib.py": b"",
                "PKG-INFO": b"Metadata-Version: 2.2\nName: newlib\nVersion: 1.0\nRequires-Dist: helper>=2\n",
            },
        ),
        setuptools_sdist(
            work,
            "dynlib",
            setup_py=(
                "from setuptools import setup\nsetup(name='dynlib', version='1.0', py_modules=['dynlib'], "
                "install_requires=['helper'])\n"
            ),
        ),
    ]
    w = tmp_path / "wheels"
    w.mkdir()
    write_index(
        tmp_path / "simple",
        [
            build_wheel(w, "helper", "2.1", {"helper/__init__.py": b"h" * 500}),
            build_wheel(w, "spare", "1.0", {"spare/__init__.py": b"s" * 500}),
        ],
    )
    served = serve(tmp_path / "simple", sdists)
    url = next(served)
    monkeypatch.setenv("PIP_INDEX_URL", url)
    yield url
    next(served, None)


def audit(capsys: pytest.CaptureFixture[str], root: Path, requirements: str, code: str) -> tuple[int, Any]:
    root.mkdir()
    (root / "Dockerfile").write_text(DOCKERFILE)
    (root / "requirements.txt").write_text(requirements)
    (root / "app.py").write_text(code)
    rc = main(["audit", str(root), "--format", "json", "--fail-on", "none"])
    (service,) = json.loads(capsys.readouterr().out)["services"]
    return rc, service


def unused(service: dict[str, Any]) -> set[str]:
    return {f["package"] for f in service["findings"] if f["rule"] == "DW201"}


def test_what_a_used_sdist_requires_is_used(index: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, service = audit(capsys, tmp_path / "a", "newlib==1.0\nhelper==2.1\nspare==1.0\n", "import newlib\n")
    assert rc == 3 and service["unresolved"] == ["newlib"]  # not built, so not sized: not checked
    assert unused(service) == {"spare"}  # helper is required by newlib (its PKG-INFO); spare really is unused


def test_an_sdist_with_unknown_requirements_makes_nothing_unused(
    index: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, service = audit(capsys, tmp_path / "b", "dynlib==1.0\nhelper==2.1\nspare==1.0\n", "import dynlib\n")
    assert rc == 3 and unused(service) == set()
    assert any("what dynlib requires is unknown" in w for w in service["warnings"])

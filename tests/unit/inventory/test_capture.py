"""The content selector for the single streaming pass: what the inventory needs, and nothing heavy."""

from __future__ import annotations

import pytest

from deadweight.inventory.capture import for_config, wanted
from deadweight.model.image import ImageConfig, Platform

SP = "usr/local/lib/python3.11/site-packages"


@pytest.mark.parametrize(
    "path",
    [
        f"{SP}/numpy-2.0.0.dist-info/METADATA",
        f"{SP}/numpy-2.0.0.dist-info/RECORD",
        f"{SP}/numpy-2.0.0.dist-info/entry_points.txt",
        f"{SP}/numpy-2.0.0.dist-info/INSTALLER",
        f"{SP}/numpy-2.0.0.dist-info/REQUESTED",
        f"{SP}/numpy-2.0.0.dist-info/direct_url.json",
        f"{SP}/numpy-2.0.0.dist-info/top_level.txt",
        f"{SP}/six-1.16.egg-info/PKG-INFO",
        f"{SP}/six-1.16.egg-info/installed-files.txt",
        f"{SP}/six-1.16.egg-info/SOURCES.txt",
        f"{SP}/six-1.16.egg-info/requires.txt",
        "usr/lib/python3/dist-packages/distro-1.8.0.egg-info",
        f"{SP}/distutils-precedence.pth",
        "opt/venv/pyvenv.cfg",
        "opt/conda/conda-meta/python-3.11.7-h955ad1f_0.json",
        "var/lib/dpkg/status",
        "var/lib/dpkg/status.d/libc6",
        "var/lib/dpkg/info/bash.list",
        "var/lib/dpkg/info/libc6:amd64.list",
        "lib/apk/db/installed",
        "etc/os-release",
    ],
)
def test_wanted_metadata(path: str) -> None:
    assert wanted(path)


@pytest.mark.parametrize(
    "path",
    [
        f"{SP}/torch/lib/libtorch_cuda.so",
        f"{SP}/numpy-2.0.0.dist-info/LICENSE.txt",
        f"{SP}/numpy-2.0.0.dist-info/WHEEL",
        f"{SP}/METADATA",
        "var/lib/dpkg/info/bash.md5sums",
        "var/lib/dpkg/info/bash.postinst",
        "usr/bin/python3.11",
        "app/main.py",
        "app/requirements.txt",
    ],
)
def test_not_wanted(path: str) -> None:
    assert not wanted(path)


def test_for_config_adds_top_level_project_files_of_workdir() -> None:
    cfg = ImageConfig(digest=None, platform=Platform("linux", "amd64"), diff_ids=(), working_dir="/app")
    want = for_config(cfg)
    assert want("app/requirements.txt")
    assert want("app/requirements-dev.txt")
    assert want("app/pyproject.toml")
    assert not want("app/sub/pyproject.toml")
    assert not want("app/main.py")
    assert want(f"{SP}/x-1.dist-info/RECORD")
    root = ImageConfig(digest=None, platform=Platform("linux", "amd64"), diff_ids=(), working_dir="")
    assert for_config(root) is wanted

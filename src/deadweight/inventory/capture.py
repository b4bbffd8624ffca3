"""Which files' contents the single streaming pass over the layers must keep for the inventory.

The layer walk sees every file of the image once and cannot come back, so the inventory says up front
what it will want to read: package metadata (dist-info/egg-info), venv and conda markers, ``.pth``
files, and the OS package databases. ``wanted`` is called for every file of multi-GB images, so it
uses only string suffix and membership tests, no regular expressions.
"""

from __future__ import annotations

from collections.abc import Callable

from deadweight.model.image import ImageConfig

#: Files of a ``*.dist-info`` directory the inventory reads.
DIST_INFO_FILES = frozenset(
    {
        "METADATA",
        "RECORD",
        "entry_points.txt",
        "INSTALLER",
        "REQUESTED",
        "direct_url.json",
        "top_level.txt",
    }
)
#: Files of a ``*.egg-info`` directory the inventory reads.
EGG_INFO_FILES = frozenset(
    {
        "PKG-INFO",
        "SOURCES.txt",
        "installed-files.txt",
        "top_level.txt",
        "requires.txt",
        "entry_points.txt",
    }
)
#: Whole paths (no leading ``/``) the inventory reads.
EXACT_PATHS = frozenset(
    {
        "var/lib/dpkg/status",
        "lib/apk/db/installed",
        "etc/os-release",
        "usr/lib/os-release",
    }
)
DPKG_INFO_DIR = "var/lib/dpkg/info"
DPKG_STATUS_DIR = "var/lib/dpkg/status.d"


_SUFFIXES = (".pth", ".egg-link", ".egg-info", "pyvenv.cfg")
_PROJECT_FILES = frozenset({"pyproject.toml", "setup.cfg", "Pipfile", "poetry.lock", "uv.lock"})


def _metadata_file(path: str) -> bool:
    """``wanted`` for a path that passed its quick test."""
    slash = path.rfind("/")
    base = path[slash + 1 :]
    parent = path[:slash] if slash >= 0 else ""
    if parent.endswith(".dist-info"):
        return base in DIST_INFO_FILES
    if parent.endswith(".egg-info"):
        return base in EGG_INFO_FILES
    if base.endswith((".pth", ".egg-link", ".egg-info")) or base == "pyvenv.cfg":
        # a file named *.egg-info is a distutils-style single-file PKG-INFO
        return True
    if parent == DPKG_INFO_DIR:
        return base.endswith(".list")
    if parent == DPKG_STATUS_DIR:
        return True
    if parent.endswith("conda-meta"):
        return base.endswith(".json")
    return path in EXACT_PATHS


def _selector(workdir: str) -> Callable[[str], bool]:
    """The content test for an image whose WORKDIR is ``workdir`` (``""``: none). It runs once per file of
    the image, so the WORKDIR joins the quick test every file takes instead of adding a second call."""
    prefix = workdir + "/" if workdir else None
    cut = len(prefix) if prefix else 0
    starts = ("var/lib/dpkg/", prefix) if prefix else ("var/lib/dpkg/",)

    def selected(path: str) -> bool:
        # nearly every file of an image fails all of these; deciding that first keeps the per-file cost low
        if not (
            "-info/" in path
            or path.endswith(_SUFFIXES)
            or path.startswith(starts)
            or "conda-meta/" in path
            or path in EXACT_PATHS
        ):
            return False
        if _metadata_file(path):
            return True
        if prefix is None or not path.startswith(prefix):
            return False
        rest = path[cut:]
        if "/" in rest:
            return False
        return rest in _PROJECT_FILES or (rest.startswith("requirements") and rest.endswith(".txt"))

    return selected


#: True when the inventory needs the content of a path (image path, no leading ``/``).
wanted = _selector("")


def for_config(image_config: ImageConfig) -> Callable[[str], bool]:
    """``wanted`` plus project files at the top of the image's WORKDIR (requirements, pyproject).

    Metadata under PYTHONPATH entries is already covered by ``wanted``: it matches dist-info and
    egg-info directories wherever they are.
    """
    workdir = image_config.working_dir.strip("/")
    return _selector(workdir) if workdir else wanted

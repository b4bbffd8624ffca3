"""OS packages (dpkg and apk) and the bytes each one owns in the final tree.

dpkg: ``var/lib/dpkg/status`` (or distroless ``status.d/*``) says what is installed, ``info/*.list``
what files each package put down. apk: ``lib/apk/db/installed`` holds both. Listed paths are resolved
through the tree's symlinks, so a merged-/usr image (``/bin -> usr/bin``) still finds ``/bin/bash``
at ``usr/bin/bash``. A file listed by two packages is counted once, for the first claimer by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from deadweight.inventory.distributions import decode
from deadweight.model.image import EntryKind
from deadweight.model.inventory import OsPackage
from deadweight.model.tree import TreeView

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d"
DPKG_INFO = "var/lib/dpkg/info"
APK_DB = "lib/apk/db/installed"

#: Exact names of build-toolchain packages (Debian and Alpine).
TOOLCHAIN_NAMES = frozenset(
    {
        "build-essential",
        "build-base",
        "make",
        "cmake",
        "cmake-data",
        "ninja-build",
        "samurai",
        "autoconf",
        "automake",
        "libtool",
        "pkg-config",
        "pkgconf",
        "pkgconf-bin",
        "dpkg-dev",
        "patch",
        "bison",
        "flex",
        "m4",
        "g++",
        "gcc",
        "cpp",
        "gfortran",
        "musl-dev",
        "libc-dev",
        "fortify-headers",
        "linux-headers",
        "binutils",
        "libcc1-0",
        "rustc",
        "cargo",
        "golang",
    }
)
#: Name prefixes of toolchain packages: versioned compilers and their private libraries.
TOOLCHAIN_PREFIXES = (
    "gcc-",
    "g++-",
    "cpp-",
    "gfortran-",
    "clang",
    "llvm",
    "lld",
    "binutils-",
    "libbinutils",
    "libgprofng",
    "libctf",
    "libasan",
    "libtsan",
    "liblsan",
    "libubsan",
    "libhwasan",
    "libisl",
    "libmpc",
    "golang-",
    "rust-",
)


def is_toolchain(name: str) -> bool:
    """Compilers, binutils, make/cmake, headers (``-dev``/``-headers``), build-essential."""
    base = name.partition(":")[0]
    if base.endswith("-base") and base not in TOOLCHAIN_NAMES:
        return False  # gcc-12-base: docs and copyright that the runtime libgcc-s1 depends on
    return (
        base in TOOLCHAIN_NAMES
        or base.endswith(("-dev", "-headers", "-doc-dev"))
        or base.startswith(TOOLCHAIN_PREFIXES)
    )


@dataclass
class _Pkg:
    name: str
    version: str
    manager: str
    arch: str = ""
    listed: list[str] = field(default_factory=list)


def _paragraphs(text: str) -> list[dict[str, str]]:
    """Deb822 paragraphs; continuation lines are appended to the previous field."""
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                out.append(current)
            current, last = {}, ""
            continue
        if line[0] in " \t" and last:
            current[last] += "\n" + line.strip()
            continue
        key, sep, value = line.partition(":")
        if sep:
            last = key.strip()
            current[last] = value.strip()
    if current:
        out.append(current)
    return out


def _dpkg_packages(tree: TreeView, warnings: list[str]) -> list[_Pkg]:
    paragraphs: list[dict[str, str]] = []
    md5_lists: dict[str, list[str]] = {}
    status = tree.read(DPKG_STATUS)
    if status is not None:
        paragraphs.extend(_paragraphs(decode(status)))
    elif tree.get(DPKG_STATUS) is not None:
        warnings.append(f"/{DPKG_STATUS} present but its content was not captured")
    for name in sorted(tree.listdir(DPKG_STATUS_D)):
        data = tree.read(f"{DPKG_STATUS_D}/{name}")
        if data is None:
            continue
        if name.endswith(".md5sums"):
            md5_lists[name[: -len(".md5sums")]] = [
                "/" + line.split(None, 1)[1].strip()
                for line in decode(data).splitlines()
                if len(line.split(None, 1)) == 2
            ]
        else:
            paragraphs.extend(_paragraphs(decode(data)))

    pkgs: list[_Pkg] = []
    for para in paragraphs:
        pkg_name = para.get("Package")
        if not pkg_name:
            continue
        state = para.get("Status", "install ok installed").split()
        if state and state[-1] not in ("installed", "half-configured", "unpacked", "triggers-pending"):
            continue
        pkg = _Pkg(pkg_name, para.get("Version", ""), "dpkg", para.get("Architecture", ""))
        for list_name in (f"{pkg_name}:{pkg.arch}.list", f"{pkg_name}.list"):
            data = tree.read(f"{DPKG_INFO}/{list_name}")
            if data is not None:
                pkg.listed = decode(data).splitlines()
                break
        else:
            pkg.listed = md5_lists.get(pkg_name, [])
        pkgs.append(pkg)
    return pkgs


def _apk_packages(tree: TreeView) -> list[_Pkg]:
    data = tree.read(APK_DB)
    if data is None:
        return []
    pkgs: list[_Pkg] = []
    current: _Pkg | None = None
    folder = ""
    for line in decode(data).splitlines():
        if not line.strip():
            current, folder = None, ""
            continue
        key, sep, value = line.partition(":")
        if not sep or len(key) != 1:
            continue
        if key == "P":
            current = _Pkg(value, "", "apk")
            pkgs.append(current)
        elif current is None:
            continue
        elif key == "V":
            current.version = value
        elif key == "A":
            current.arch = value
        elif key == "F":
            folder = value
        elif key == "R":
            current.listed.append(f"/{folder}/{value}" if folder else f"/{value}")
    return pkgs


def _conda_packages(tree: TreeView, conda_prefixes: list[str]) -> list[_Pkg]:
    pkgs: list[_Pkg] = []
    for prefix in conda_prefixes:
        meta = f"{prefix}/conda-meta" if prefix else "conda-meta"
        for name in sorted(tree.listdir(meta)):
            data = tree.read(f"{meta}/{name}") if name.endswith(".json") else None
            if data is None:
                continue
            try:
                doc = json.loads(decode(data))
            except (ValueError, RecursionError):  # broken or absurdly nested: skipped like any unreadable record
                continue
            if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
                continue
            raw_files = doc.get("files")
            files = raw_files if isinstance(raw_files, list) else []
            pkg = _Pkg(doc["name"], str(doc.get("version", "")), "conda")
            pkg.listed = [f"/{prefix}/{f}" if prefix else f"/{f}" for f in files if isinstance(f, str)]
            pkgs.append(pkg)
    return pkgs


def _is_dir_link(tree: TreeView, resolve: Callable[[str], str | None], path: str) -> bool:
    """The symlink at ``path`` stands for a listed directory (merged /usr: ``/bin -> usr/bin``): not a file."""
    real = resolve(path)
    target = tree.stat(real) if real is not None else None
    return target is not None and target[0] is EntryKind.DIR


def read_os_packages(
    tree: TreeView, conda_prefixes: list[str] | None = None
) -> tuple[list[OsPackage], dict[str, str], list[str]]:
    """All OS packages, and ``path -> package name`` for every file they own in the final tree.

    The ownership map lets the inventory keep dpkg-owned Python modules (python3-* packages in
    ``/usr/lib/python3/dist-packages``) out of the orphan list and count every byte once.
    """
    warnings: list[str] = []
    pkgs = _dpkg_packages(tree, warnings) + _apk_packages(tree) + _conda_packages(tree, conda_prefixes or [])
    owner: dict[str, str] = {}
    out: list[OsPackage] = []
    stat = tree.stat
    resolve = tree.resolver()  # thousands of listed paths, in a few hundred directories
    for pkg in sorted(pkgs, key=lambda p: (p.manager, p.name, p.arch)):
        key = f"{pkg.manager}:{pkg.name}"
        files: list[str] = []
        size = 0
        for listed in pkg.listed:
            path: str | None = listed.strip().lstrip("/")
            if not path:
                continue
            found = stat(path)  # the common case: listed exactly as the tree has it
            if found is None:
                path = resolve(path)
                found = stat(path) if path is not None else None
            if found is None or path is None:
                continue
            kind = found[0]
            if kind is EntryKind.DIR or (kind is EntryKind.SYMLINK and _is_dir_link(tree, resolve, path)):
                continue
            if path in owner:
                continue  # listed twice (e.g. /bin/x and /usr/bin/x on merged /usr): count once
            owner[path] = key
            files.append(path)
            size += found[1]
        out.append(
            OsPackage(
                name=pkg.name,
                version=pkg.version,
                manager=pkg.manager,
                files=tuple(sorted(files)),
                size_bytes=size,
                is_toolchain=is_toolchain(pkg.name),
            )
        )
    return out, owner, warnings

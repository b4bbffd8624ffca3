"""Find the Python environments of an image's final tree, and what Python each one runs.

An environment is a directory Python imports distributions from: system ``site-packages`` /
``dist-packages`` (``/usr/lib``, ``/usr/local/lib``, Debian's ``/usr/lib/python3/dist-packages``),
venvs (a ``pyvenv.cfg`` at the prefix), conda prefixes (``conda-meta/``), the user site
(``~/.local/lib/pythonX.Y/site-packages``), and PYTHONPATH entries from the image config. They are
found from one pass over the tree's paths, never by walking the tree per candidate.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from deadweight.inventory.distributions import decode
from deadweight.model.image import EntryKind, ImageConfig
from deadweight.model.tree import TreeView

_LIB_PY = re.compile(r"^(?:(.*)/)?lib(?:64)?/python(\d+(?:\.\d+)?)t?/(?:site|dist)-packages$")
_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass
class EnvSpec:
    """An environment before its distributions are read."""

    path: str  # the import directory (no leading "/")
    kind: str  # "system", "venv", "conda", "user", "pythonpath"
    python_version: str | None
    prefix: str  # what RECORD paths may reach: the venv/conda/interpreter prefix, or the dir itself
    warnings: list[str] = field(default_factory=list)
    #: a venv made with ``--system-site-packages``: the environments of its base interpreter, which it imports too
    base_envs: list[str] = field(default_factory=list)


def site_dir_of(path: str) -> str | None:
    """The outermost ``.../site-packages`` or ``.../dist-packages`` directory ``path`` is in (or is)."""
    start = 0
    while True:
        i = path.find("-packages", start)
        if i < 0:
            return None
        end = i + len("-packages")
        if (end == len(path) or path[end] == "/") and path[max(0, i - 4) : i] in ("site", "dist"):
            seg_start = i - 4
            if seg_start == 0 or path[seg_start - 1] == "/":
                return path[:end]
        start = end


def _short_version(text: str) -> str | None:
    m = _VERSION.search(text)
    if not m:
        return None
    return ".".join(p for p in m.groups() if p is not None)


def _parse_pyvenv(data: bytes | None) -> tuple[str | None, str | None, bool]:
    """(python version, home, include-system-site-packages) from a pyvenv.cfg."""
    if data is None:
        return None, None, False
    values: dict[str, str] = {}
    for line in decode(data).splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip().lower()] = value.strip()
    version = values.get("version") or values.get("version_info")
    return (
        _short_version(version) if version else None,
        values.get("home"),
        values.get("include-system-site-packages", "false").lower() == "true",
    )


def _conda_python(tree: TreeView, prefix: str) -> str | None:
    meta = f"{prefix}/conda-meta" if prefix else "conda-meta"
    for name in tree.listdir(meta):
        if name.startswith("python-") and name.endswith(".json"):
            version = name[len("python-") :].split("-")[0]
            if _VERSION.match(version):
                return _short_version(version)
    return None


def _stdlib_version(tree: TreeView, prefix: str) -> str | None:
    """For ``prefix/lib/python3/dist-packages`` (Debian): the one ``python3.N`` stdlib next to it."""
    found = set()
    for lib in ("lib", "lib64"):
        for name in tree.listdir(f"{prefix}/{lib}" if prefix else lib):
            m = re.fullmatch(r"python(\d+\.\d+)", name)
            if m:
                found.add(m.group(1))
    return found.pop() if len(found) == 1 else None


def discover(tree: TreeView, paths: Iterable[str], image_config: ImageConfig) -> list[EnvSpec]:
    """Every environment in the tree; ``paths`` are all node paths (one pass, shared with the caller)."""
    site_dirs: set[str] = set()
    venv_prefixes: set[str] = set()
    conda_prefixes: set[str] = set()
    inside = "\0"  # "<site dir>/" of the last hit: paths come in runs under one site dir, skip the search
    for path in paths:
        if "-packages" in path and not path.startswith(inside):
            site = site_dir_of(path)
            if site is not None and len(path) > len(site):  # an empty site dir is no environment
                site_dirs.add(site)
                inside = site + "/"
        if path.endswith("pyvenv.cfg") and (path == "pyvenv.cfg" or path.endswith("/pyvenv.cfg")):
            venv_prefixes.add(posixpath.dirname(path))
        elif "conda-meta" in path:
            if path.endswith("/conda-meta") or path == "conda-meta":
                conda_prefixes.add(posixpath.dirname(path))
            elif "conda-meta/" in path:
                idx = path.find("conda-meta/")
                if idx == 0 or path[idx - 1] == "/":
                    conda_prefixes.add(path[: max(0, idx - 1)])

    for prefix in venv_prefixes | conda_prefixes:  # a fresh venv is an environment even when empty
        lib = f"{prefix}/lib" if prefix else "lib"
        for name in tree.listdir(lib):
            if name.startswith("python") and "site-packages" in tree.listdir(f"{lib}/{name}"):
                site_dirs.add(f"{lib}/{name}/site-packages")

    envs: list[EnvSpec] = []
    sees_base: dict[str, str] = {}  # venv site dir -> the base interpreter's prefix, when it imports from there
    for site in sorted(site_dirs):
        m = _LIB_PY.match(site)
        prefix = (m.group(1) or "") if m else posixpath.dirname(site)
        version = m.group(2) if m and "." in m.group(2) else None
        spec = EnvSpec(site, "system", version, prefix)
        if prefix in venv_prefixes:
            spec.kind = "venv"
            cfg_path = f"{prefix}/pyvenv.cfg" if prefix else "pyvenv.cfg"
            cfg_version, home, system_site = _parse_pyvenv(tree.read(cfg_path))
            spec.python_version = cfg_version or version
            if home:
                _check_venv_home(tree, spec, home)
                if system_site:
                    sees_base[site] = posixpath.dirname(home.strip().rstrip("/").lstrip("/"))
        elif prefix in conda_prefixes:
            spec.kind = "conda"
            spec.python_version = _conda_python(tree, prefix) or version
        elif "/.local/lib/" in f"/{site}":
            spec.kind = "user"
        if spec.python_version is None and m:
            spec.python_version = _stdlib_version(tree, prefix)
        envs.append(spec)

    for spec in envs:
        if spec.path in sees_base:
            spec.base_envs = _base_envs(spec, sees_base[spec.path], envs)
    envs.extend(_pythonpath_envs(tree, image_config, envs))
    return envs


def _base_envs(venv: EnvSpec, base_prefix: str, envs: list[EnvSpec]) -> list[str]:
    """The system environments a ``include-system-site-packages = true`` venv imports from: those of the
    interpreter prefix its ``home`` names (``/usr/local/bin`` -> ``/usr/local``), for the venv's Python.
    Debian's interpreter in ``/usr`` also reads ``/usr/local/lib/python3.X/dist-packages``, where pip installs."""
    debian_local = f"{base_prefix}/local" if base_prefix else "local"
    return [
        e.path
        for e in envs
        if e.kind == "system"
        and (e.prefix == base_prefix or (e.prefix == debian_local and e.path.endswith("/dist-packages")))
        and (venv.python_version is None or e.python_version is None
             or e.python_version.split(".")[:2] == venv.python_version.split(".")[:2])
    ]


def _check_venv_home(tree: TreeView, spec: EnvSpec, home: str) -> None:
    """A venv copied between stages is dead if its interpreter did not come along: say so."""
    home_dir = home.strip().rstrip("/").lstrip("/")
    for name in ("python3", "python", f"python{spec.python_version or ''}"):
        if tree.resolve(f"{home_dir}/{name}" if home_dir else name) is not None:
            return
    spec.warnings.append(f"pyvenv.cfg home {home!r}: no python interpreter there in the image")


def _pythonpath_envs(tree: TreeView, image_config: ImageConfig, known: list[EnvSpec]) -> list[EnvSpec]:
    raw = image_config.env_map().get("PYTHONPATH", "")
    # the interpreter that reads PYTHONPATH is not named; take the image's one Python if there is one
    versions = {e.python_version for e in known if e.kind == "system" and e.python_version} or {
        e.python_version for e in known if e.python_version
    }
    version = versions.pop() if len(versions) == 1 else None
    seen = {e.path for e in known}
    out: list[EnvSpec] = []
    for entry in raw.split(":"):
        norm = posixpath.normpath("/" + entry.strip()).lstrip("/") if entry.strip() else ""
        if not norm or norm in seen or site_dir_of(norm) is not None:
            continue
        resolved = tree.resolve(norm)
        node = tree.get(resolved) if resolved is not None else None
        if node is None or node.kind != EntryKind.DIR:
            continue
        seen.add(norm)
        out.append(EnvSpec(resolved or norm, "pythonpath", version, resolved or norm))
    return out

"""Which index (or lock) serves torch to a service's build, and whether that makes it a CPU build.

Why: on Linux PyPI's torch is a CUDA build, but a build that installs torch from the PyTorch CPU index (or
locks ``2.5.1+cpu``) ships the CPU build. DW101 must never tell such a service to "switch to the CPU
build": in a static audit the estimate resolves from PyPI and would look like CUDA, so the rule asks here
first. Only what the build really reads counts, in the order pip/uv give it precedence:

- a lock file entry for torch (``+cpu`` local version, or a source URL on a ``.../cpu`` index);
- a declared ``torch==X+cpu``;
- ``[tool.uv.sources] torch = { index = NAME }`` with the matching ``[[tool.uv.index]]`` url;
- ``[[tool.poetry.source]]`` named by torch's ``source =`` in ``[tool.poetry.dependencies]`` or a group's;
- a ``[[tool.pdm.source]]`` on a CPU index whose ``include_packages`` names torch;
- ``--index-url``/``--extra-index-url``/``--find-links`` on the RUN line or inside requirements files;
- ``PIP_INDEX_URL``/``PIP_EXTRA_INDEX_URL``/``UV_INDEX_URL``/``UV_EXTRA_INDEX_URL``/``UV_TORCH_BACKEND`` in the
  ENV/ARG of any stage (compose build args included; the runtime environment is not the build's);
- a ``pip.conf`` COPY'd to ``/etc/pip.conf`` or ``~/.config/pip/pip.conf`` (its ``index-url``/``extra-index-url``).

An extra index on download.pytorch.org/whl/cpu is enough: pip prefers the highest version and the CPU
index's ``+cpu`` local version wins over PyPI's plain one for the same release.
"""

from __future__ import annotations

import configparser
import fnmatch
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker

from deadweight import safetoml
from deadweight.infile import read_bounded_text
from deadweight.model.project import Service

_CPU_PATH = re.compile(r"/cpu/(simple/)?$")
_INDEX_ENV = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_INDEX",
              "UV_DEFAULT_INDEX", "PIP_FIND_LINKS")
_PIP_CONF_DESTS = ("/etc/pip.conf", "/.config/pip/pip.conf", "/.pip/pip.conf", "/etc/xdg/pip/pip.conf")


@dataclass(frozen=True, slots=True)
class TorchIndex:
    """Where torch comes from: ``url`` (an index, a find-links page, a lock's source, or ``None`` when a
    backend setting decides), ``cpu`` (it serves the CPU build), and ``evidence`` (``file:line``, a detail)."""

    url: str | None
    cpu: bool
    detail: str
    location: str


def is_cpu_index(url: str) -> bool:
    """An index or find-links URL whose path ends in ``/cpu`` (``https://download.pytorch.org/whl/cpu``)."""
    return bool(_CPU_PATH.search(url.split("?", maxsplit=1)[0].split("#", maxsplit=1)[0].rstrip("/") + "/"))


def torch_index(service: Service) -> TorchIndex | None:
    """The CPU index, lock or backend that serves torch to ``service``'s build, or ``None`` when nothing read
    says so (PyPI then: on Linux a CUDA build)."""
    for finder in (_from_lock, _from_declared, _from_pyproject, _from_requirements, _from_installs, _from_env,
                   _from_pip_conf):
        found = finder(service)
        if found is not None:
            return found
    return None


def _line_of(path: Path, needle: str) -> int:
    try:
        for number, line in enumerate(read_bounded_text(path, errors="replace").splitlines(), 1):
            if needle in line:
                return number
    except OSError:
        return 0
    return 0


def _from_lock(service: Service) -> TorchIndex | None:
    for pkg in service.locked:
        if pkg.name != "torch":
            continue
        source = pkg.source or ""
        url = source.split(":", 1)[1] if ":" in source else source
        lock = Path(service.context_dir or ".", pkg.source_file)
        line = _line_of(lock, f'version = "{pkg.version}"') if pkg.version else 0
        shown = lock.name if service.context_dir is None or lock.parent == Path(service.context_dir) else str(lock)
        where = f"{shown}:{line}"
        if pkg.version.endswith("+cpu"):
            return TorchIndex(url or None, True, f"{Path(pkg.source_file).name} locks torch {pkg.version}", where)
        if url and is_cpu_index(url.rsplit("/torch", 1)[0] if "/torch-" in url else url):
            return TorchIndex(url, True, f"{Path(pkg.source_file).name} locks torch from {url}", where)
    return None


def _from_declared(service: Service) -> TorchIndex | None:
    """``torch==2.5.1+cpu`` declared: only a CPU index (or find-links page) has that version."""
    for req in service.requirements:
        if req.name == "torch" and "+cpu" in req.specifier:
            return TorchIndex(None, True, f"torch{req.specifier} declared", f"{req.source_file}:{req.line}")
    return None


def _pyproject(service: Service) -> tuple[Path, dict[str, Any]] | None:
    if service.context_dir is None:
        return None
    path = Path(service.context_dir, "pyproject.toml")
    try:
        return path, safetoml.loads(read_bounded_text(path))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None


def _from_pyproject(service: Service) -> TorchIndex | None:
    loaded = _pyproject(service)
    if loaded is None:
        return None
    path, data = loaded
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    assert isinstance(tool, dict)
    uv = tool.get("uv") if isinstance(tool.get("uv"), dict) else {}
    assert isinstance(uv, dict)
    sources = uv.get("sources") if isinstance(uv.get("sources"), dict) else {}
    torch_source = sources.get("torch") if isinstance(sources, dict) else None
    entries = torch_source if isinstance(torch_source, list) else [torch_source]
    indexes = {i.get("name"): i.get("url") for i in (uv.get("index") or []) if isinstance(i, dict)}
    for entry in entries:
        if isinstance(entry, dict) and isinstance(entry.get("index"), str):
            url = indexes.get(entry["index"])
            if isinstance(url, str) and is_cpu_index(url) and _applies_on_linux(entry.get("marker")):
                line = _line_of(path, url)
                return TorchIndex(url, True, f"[tool.uv.sources] routes torch to index {entry['index']!r} ({url})",
                                  f"{path.name}:{line}")
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    assert isinstance(poetry, dict)
    named = {s.get("name"): s.get("url") for s in (poetry.get("source") or []) if isinstance(s, dict)}
    for table, deps in _poetry_dependency_tables(poetry):
        spec = deps.get("torch")
        if isinstance(spec, dict) and isinstance(spec.get("source"), str):
            url = named.get(spec["source"])
            if isinstance(url, str) and is_cpu_index(url):
                return TorchIndex(url, True, f"[{table}] installs torch from source {spec['source']!r} ({url})",
                                  f"{path.name}:{_line_of(path, url)}")
    pdm = tool.get("pdm") if isinstance(tool.get("pdm"), dict) else {}
    assert isinstance(pdm, dict)
    for source in pdm.get("source") or []:
        if not isinstance(source, dict) or not isinstance(source.get("url"), str) or not is_cpu_index(source["url"]):
            continue
        included = source.get("include_packages")
        if isinstance(included, list) and any(isinstance(p, str) and fnmatch.fnmatchcase("torch", p.lower())
                                              for p in included):
            url = source["url"]
            return TorchIndex(url, True, f"[[tool.pdm.source]] {source.get('name', '')!r} serves torch ({url})",
                              f"{path.name}:{_line_of(path, url)}")
    return None


def _poetry_dependency_tables(poetry: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``[tool.poetry.dependencies]`` and every ``[tool.poetry.group.NAME.dependencies]``."""
    out: list[tuple[str, dict[str, Any]]] = []
    deps = poetry.get("dependencies")
    if isinstance(deps, dict):
        out.append(("tool.poetry.dependencies", deps))
    groups = poetry.get("group")
    if isinstance(groups, dict):
        for name, group in groups.items():
            if isinstance(group, dict) and isinstance(group.get("dependencies"), dict):
                out.append((f"tool.poetry.group.{name}.dependencies", group["dependencies"]))
    return out


def _applies_on_linux(marker: object) -> bool:
    """Whether a ``[tool.uv.sources]`` entry's marker can hold in a Linux container (``sys_platform ==
    'linux'`` yes, ``sys_platform == 'darwin'`` no). An entry under an extra or group, or a marker that cannot
    be evaluated, counts: when in doubt the CPU build may be what the build installs, and DW101 stays silent."""
    if not isinstance(marker, str):
        return True
    try:
        parsed = Marker(marker)
    except InvalidMarker:
        return True
    env = {"sys_platform": "linux", "platform_system": "Linux", "os_name": "posix"}
    return any(parsed.evaluate({**env, "platform_machine": machine}) for machine in ("x86_64", "aarch64"))


def _from_requirements(service: Service) -> TorchIndex | None:
    for option in service.requirement_options:
        if option.name in ("--index-url", "-i", "--extra-index-url", "--find-links", "-f") and is_cpu_index(
                option.value):
            return TorchIndex(option.value, True, f"{option.name} {option.value}",
                              f"{option.source_file}:{option.line}")
    return None


def _from_installs(service: Service) -> TorchIndex | None:
    where = service.dockerfile.path if service.dockerfile else service.dockerfile_path or "Dockerfile"
    for cmd in service.installs:
        for url in (*cmd.index_urls, *cmd.extra_index_urls, *cmd.find_links):
            if is_cpu_index(url):
                return TorchIndex(url, True, f"{cmd.tool} {cmd.action} reads the index {url}", f"{where}:{cmd.line}")
        if "--torch-backend=cpu" in cmd.flags or " --torch-backend cpu" in " " + " ".join(cmd.flags):
            return TorchIndex(None, True, f"{cmd.tool} {cmd.action} --torch-backend=cpu", f"{where}:{cmd.line}")
    return None


def _stage_vars(service: Service) -> list[dict[str, str]]:
    """ARG/ENV values of every stage: a builder stage whose venv is copied into the final one installs torch
    too (reading a stage that ships nothing can only make DW101 silent, never fire)."""
    dockerfile = service.dockerfile
    if dockerfile is None:
        return []
    return [{**stage.args, **service.build_args, **stage.env} for stage in dockerfile.stages]


def _env_location(service: Service, name: str) -> str:
    dockerfile = service.dockerfile
    if dockerfile is None:
        return service.dockerfile_path or "Dockerfile"
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.keyword in ("ENV", "ARG") and name in instruction.args:
                return f"{dockerfile.path}:{instruction.start_line}"
    return dockerfile.path or "Dockerfile"


def _from_env(service: Service) -> TorchIndex | None:
    for env in _stage_vars(service):
        if env.get("UV_TORCH_BACKEND", "").strip().lower() == "cpu":
            return TorchIndex(None, True, "UV_TORCH_BACKEND=cpu", _env_location(service, "UV_TORCH_BACKEND"))
        for name in _INDEX_ENV:
            for url in env.get(name, "").split():
                if is_cpu_index(url):
                    return TorchIndex(url, True, f"{name}={url}", _env_location(service, name))
    return None


def _from_pip_conf(service: Service) -> TorchIndex | None:
    dockerfile = service.dockerfile
    if dockerfile is None or service.context_dir is None:
        return None
    for stage in dockerfile.stages:
        for instruction in stage.instructions:
            if instruction.keyword not in ("COPY", "ADD") or instruction.flag("from"):
                continue
            parts = instruction.args.split()
            if len(parts) < 2 or not parts[-1].endswith(_PIP_CONF_DESTS):
                continue
            for src in parts[:-1]:
                found = _read_pip_conf(Path(service.context_dir, src), src)
                if found is not None:
                    url, line = found
                    return TorchIndex(url, True, f"{src} copied to {parts[-1]} sets the index {url}",
                                      f"{src}:{line}")
    return None


def _read_pip_conf(path: Path, shown: str) -> tuple[str, int] | None:
    parser = configparser.ConfigParser()
    try:
        parser.read_string(read_bounded_text(path), source=shown)
    except (OSError, UnicodeDecodeError, configparser.Error):
        return None
    for section in ("global", "install"):
        for key in ("index-url", "extra-index-url", "find-links"):
            for url in parser.get(section, key, fallback="").split():
                if is_cpu_index(url):
                    return url, _line_of(path, url)
    return None

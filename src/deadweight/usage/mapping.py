"""Module → distribution, in order of trust: the image's RECORDs, installed metadata, PyPI, aliases, name.

Why the order: the image's own RECORD files say exactly which distribution ships ``google.cloud.storage``
(namespace packages share ``google``), so they win; a locally installed environment (used when there is
no image, e.g. the bench) comes next; PyPI wheel listings cover declared names that are not installed;
the curated alias table and the "module named like its distribution" guess come last. Every mapping
records its source so reports can say how sure they are.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PkgRequirement
from packaging.utils import canonicalize_name

from deadweight.model.python import Distribution, EntryPoint, Requirement
from deadweight.usage.aliases import alias_for_module, command_aliases, module_aliases


@dataclass(frozen=True)
class ModuleMapping:
    module: str
    distributions: tuple[str, ...]  # canonical names, alternatives
    source: str  # "record", "top-level", "installed", "pypi", "alias", "name"
    matched: str  # the dotted prefix that matched


class PypiModules:
    """Top-level import names of a PyPI project, read from its newest wheel's file list.

    Only the zip central directory is fetched (HTTP range request on the wheel), and results are cached
    as JSON under ``cache_dir``. Any failure (offline, 404, no wheel, server without ranges) returns None:
    mapping then falls through to the alias table.
    """

    def __init__(self, cache_dir: Path | None = None, client: httpx.Client | None = None,
                 index_url: str = "https://pypi.org") -> None:
        default = Path.home() / ".cache" / "deadweight" / "pypi"
        self.cache_dir = cache_dir if cache_dir is not None else default
        self.client = client
        self.index_url = index_url.rstrip("/")
        self._memo: dict[str, frozenset[str] | None] = {}

    def top_level(self, dist: str) -> frozenset[str] | None:
        name = canonicalize_name(dist)
        if name not in self._memo:
            self._memo[name] = self._load(name)
        return self._memo[name]

    def _cache_file(self, name: str) -> Path:
        return self.cache_dir / f"{name}.json"

    def _load(self, name: str) -> frozenset[str] | None:
        cached = self._cache_file(name)
        try:
            return frozenset(json.loads(cached.read_text())["top_level"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        client = self.client or httpx.Client(timeout=10.0, follow_redirects=True)
        try:
            names = self._fetch(client, name)
        except (httpx.HTTPError, ValueError, KeyError, TypeError, IndexError, struct.error):
            return None
        finally:
            if self.client is None:
                client.close()
        if names is None:
            return None
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            cached.write_text(json.dumps({"top_level": sorted(names)}))
        except OSError:
            pass  # a read-only home must not break mapping
        return names

    def _fetch(self, client: httpx.Client, name: str) -> frozenset[str] | None:
        resp = client.get(f"{self.index_url}/pypi/{name}/json")
        resp.raise_for_status()
        wheels = [u for u in resp.json()["urls"] if u.get("packagetype") == "bdist_wheel"]
        if not wheels:
            return None
        wheels.sort(key=lambda u: (not u["filename"].endswith("-none-any.whl"), u["filename"]))
        url = wheels[0]["url"]
        tail = client.get(url, headers={"Range": "bytes=-65536"})
        tail.raise_for_status()
        data = tail.content
        return _top_level_from_names(_central_directory_names(client, url, data, tail.status_code == 206))


def _central_directory_names(client: httpx.Client, url: str, tail: bytes, partial: bool) -> list[str]:
    """File names from a zip's central directory, given the archive's tail (or the whole archive)."""
    eocd = tail.rfind(b"PK\x05\x06")
    if eocd < 0:
        raise ValueError("no end of central directory")
    cd_size, cd_offset = struct.unpack("<II", tail[eocd + 12:eocd + 20])
    if partial:
        # The tail's position in the file is not needed: ask for exactly the directory's bytes.
        resp = client.get(url, headers={"Range": f"bytes={cd_offset}-{cd_offset + cd_size - 1}"})
        resp.raise_for_status()
        directory = resp.content if resp.status_code == 206 else resp.content[cd_offset:cd_offset + cd_size]
    else:
        directory = tail[cd_offset:cd_offset + cd_size]
    names: list[str] = []
    pos = 0
    while pos + 46 <= len(directory) and directory[pos:pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack("<HHH", directory[pos + 28:pos + 34])
        names.append(directory[pos + 46:pos + 46 + name_len].decode("utf-8", "replace"))
        pos += 46 + name_len + extra_len + comment_len
    return names


def _top_level_from_names(names: Iterable[str]) -> frozenset[str]:
    tops: set[str] = set()
    for path in names:
        first, sep, _ = path.partition("/")
        if first.endswith((".dist-info", ".data", ".egg-info")) or first.startswith("__"):
            continue
        if sep:
            if first.isidentifier():
                tops.add(first)
        elif first.endswith((".py", ".so", ".pyd")):
            stem = first.split(".", 1)[0]
            if stem.isidentifier():
                tops.add(stem)
    return frozenset(tops)


def _installed_top_levels() -> dict[str, tuple[str, ...]]:
    return {k: tuple(canonicalize_name(d) for d in v)
            for k, v in importlib.metadata.packages_distributions().items()}


class ModuleMapper:
    """Maps module names and console scripts to distribution names (see module docstring for the order)."""

    def __init__(self, distributions: Sequence[Distribution] = (), *, installed: bool = False,
                 pypi: PypiModules | None = None, candidates: Iterable[str] = ()) -> None:
        self._modules: dict[str, set[str]] = {}
        self._tops: dict[str, set[str]] = {}
        self._scripts: dict[str, set[str]] = {}
        for dist in distributions:
            for module in dist.module_paths:
                self._modules.setdefault(module, set()).add(dist.name)
            for top in dist.import_names:
                self._tops.setdefault(top, set()).add(dist.name)
            for ep in dist.console_scripts:
                self._scripts.setdefault(ep.name, set()).add(dist.name)
        self._installed = _installed_top_levels() if installed else {}
        self._pypi: dict[str, set[str]] = {}
        if pypi is not None:
            for cand in candidates:
                for top in pypi.top_level(cand) or ():
                    self._pypi.setdefault(top, set()).add(canonicalize_name(cand))

    def known_top_levels(self) -> frozenset[str]:
        """Every top-level module name some source can map (used to spot dotted paths in config)."""
        names = set(self._tops) | {m.split(".")[0] for m in self._modules} | set(self._installed)
        names |= set(self._pypi) | {k.split(".")[0] for k in module_aliases()}
        return frozenset(names)

    def resolve(self, module: str) -> ModuleMapping | None:
        module = module.strip().strip(".")
        if not module:
            return None
        parts = module.split(".")
        for end in range(len(parts), 0, -1):
            prefix = ".".join(parts[:end])
            if prefix in self._modules:
                return ModuleMapping(module, tuple(sorted(self._modules[prefix])), "record", prefix)
        # A namespace parent (``google.cloud``) of modules several distributions ship.
        below = sorted({d for m, ds in self._modules.items() if m.startswith(module + ".") for d in ds})
        if below:
            return ModuleMapping(module, tuple(below), "record", module)
        top = parts[0]
        if top in self._tops:
            return ModuleMapping(module, tuple(sorted(self._tops[top])), "top-level", top)
        if top in self._installed:
            return ModuleMapping(module, self._installed[top], "installed", top)
        if top in self._pypi:
            return ModuleMapping(module, tuple(sorted(self._pypi[top])), "pypi", top)
        alias = alias_for_module(module)
        if alias is not None:
            return ModuleMapping(module, alias[1], "alias", alias[0])
        if not re.match(r"^[A-Za-z_]\w*$", top):
            return None
        return ModuleMapping(module, (canonicalize_name(top),), "name", top)

    def resolve_prefix(self, prefix: str) -> tuple[str, ...]:
        """Distributions shipping a module whose dotted name starts with ``prefix`` (f-string imports)."""
        found = {d for m, ds in self._modules.items() if m.startswith(prefix) for d in ds}
        found |= {d for t, ds in self._tops.items() if t.startswith(prefix) or prefix.startswith(t + ".")
                  for d in ds}
        return tuple(sorted(found))

    def resolve_command(self, command: str) -> tuple[tuple[str, ...], str]:
        """Distributions providing console script ``command``, and the source of that answer."""
        if command in self._scripts:
            return tuple(sorted(self._scripts[command])), "entry-point"
        if command in command_aliases():
            return command_aliases()[command], "alias"
        return (canonicalize_name(command),), "name"


def synthetic_distributions(names: Iterable[str], *, installed: bool = True) -> list[Distribution]:
    """Distribution stand-ins for declared names when there is no image (the bench, ``--no-image``).

    Import names come from the locally installed metadata when the distribution is installed here
    (with its entry points and the Requires-Dist that apply without extras), else from the alias table
    (reverse lookup), else from the name itself (``flask-cors`` → ``flask_cors``).
    """
    reverse: dict[str, set[str]] = {}
    for module, dists in module_aliases().items():
        for dist in dists:
            reverse.setdefault(dist, set()).add(module.split(".")[0])
    local: dict[str, set[str]] = {}
    if installed:
        for top, dists in _installed_top_levels().items():
            for dist in dists:
                local.setdefault(dist, set()).add(top)
    out: list[Distribution] = []
    for raw in sorted({canonicalize_name(n) for n in names}):
        name = str(raw)
        tops = set(local.get(name, ())) or set(reverse.get(name, ())) or {name.replace("-", "_")}
        requires: list[Requirement] = []
        entry_points: list[EntryPoint] = []
        meta = None
        if installed:
            try:
                meta = importlib.metadata.distribution(name)
            except importlib.metadata.PackageNotFoundError:
                meta = None
        if meta is not None:
            for text in meta.requires or []:
                try:
                    req = PkgRequirement(text)
                except InvalidRequirement:
                    continue
                try:
                    active = req.marker is None or req.marker.evaluate({"extra": ""})
                except UndefinedEnvironmentName:
                    active = False
                requires.append(Requirement(str(canonicalize_name(req.name)), str(req.specifier),
                                            tuple(sorted(req.extras)), str(req.marker) if req.marker else None,
                                            active))
            entry_points = [EntryPoint(ep.group, ep.name, ep.value) for ep in meta.entry_points]
        out.append(Distribution(
            name=name, display_name=name, version=meta.version if meta else "", metadata_path=f"<declared {name}>",
            environment="<no image>", import_names=tuple(sorted(t for t in tops if t.isidentifier())),
            requires=tuple(requires), entry_points=tuple(entry_points),
        ))
    return out

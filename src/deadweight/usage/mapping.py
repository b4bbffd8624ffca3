"""Module → distribution, in order of trust: the image's RECORDs, installed metadata, PyPI, aliases, name.

Why the order: the image's own RECORD files say exactly which distribution ships ``google.cloud.storage``
(namespace packages share ``google``), so they win; a locally installed environment (used when there is
no image, e.g. the bench) comes next; PyPI wheel listings cover declared names that are not installed;
the curated alias table and the "module named like its distribution" guess come last. Every mapping
records its source so reports can say how sure they are.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import httpx
from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PkgRequirement
from packaging.utils import canonicalize_name

from deadweight.errors import SourceError
from deadweight.model.inventory import Distribution, EntryPoint, Requirement
from deadweight.pypi.index import PYPI_SIMPLE, IndexClient
from deadweight.pypi.remote_wheel import WheelInspector
from deadweight.pypi.store import JsonStore, default_cache_dir
from deadweight.usage.aliases import alias_for_module, command_aliases, module_aliases


@dataclass(frozen=True)
class ModuleMapping:
    module: str
    distributions: tuple[str, ...]  # canonical names, alternatives
    source: str  # "record", "top-level", "installed", "pypi", "alias", "name"
    matched: str  # the dotted prefix that matched


class PypiModules:
    """Top-level import names of an index project, from its newest wheel's file list.

    The reading is ``deadweight.pypi``'s: the project's Simple API page, then only the wheel's zip central
    directory by HTTP range requests, both cached on disk (``store``) so a later run works offline. Any
    failure (offline miss, 404, no wheel, server without ranges) returns None: mapping then falls through to
    the alias table.
    """

    def __init__(self, store: JsonStore | None = None, *, index_url: str = PYPI_SIMPLE, offline: bool = False,
                 client: httpx.Client | None = None) -> None:
        store = store if store is not None else JsonStore(default_cache_dir() / "index")
        self._index = IndexClient(index_url, store, offline=offline, client=client)
        self._wheels = WheelInspector(store, offline=offline, client=client)
        self._memo: dict[str, frozenset[str] | None] = {}

    def top_level(self, dist: str) -> frozenset[str] | None:
        name = canonicalize_name(dist)
        if name not in self._memo:
            self._memo[name] = self._load(name)
        return self._memo[name]

    def _load(self, name: str) -> frozenset[str] | None:
        try:
            wheels = [f for f in self._index.project_files(name) if f.is_wheel and not f.yanked and f.version()]
            if not wheels:
                return None
            newest = max(wheels, key=lambda f: (f.version(), f.filename.endswith("-none-any.whl"), f.filename))
            return frozenset(self._wheels.facts(newest.url).top_level)
        except SourceError:
            return None


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

"""DW302: package-manager caches baked into layers (pip, uv, poetry, apt lists and archives, apk).

Counted on the image: cache files the final tree shows, plus cache files written in one layer and
deleted in a later one (those still ship; they are claimed under the same key as DW303 so no byte is
counted twice). The Dockerfile step that wrote them is cited when the project has one.

Estimated without an image (static audit), from the Dockerfile: a pip/uv/poetry install whose results ship
and that neither skips (``--no-cache-dir``, ``--no-cache``, ``PIP_NO_CACHE_DIR``), mounts nor removes its
cache keeps about the downloaded wheels' size (the estimate's own wheel files, the ones that install
installs); a RUN that runs ``apt-get update`` without removing ``/var/lib/apt/lists`` in the same RUN keeps
about ``APT_LISTS_BYTES``. Both marked estimated.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import replace

from deadweight.errors import ParseError
from deadweight.inventory.classify import is_cache_path
from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.inventory import Distribution
from deadweight.model.project import InstallCommand, Service
from deadweight.model.remedy import AddCleanup, AddInstallFlag, Edit
from deadweight.project.installs import leaves_apt_lists
from deadweight.project.stages import final_chain, shipped_installs
from deadweight.rules.base import Rule, RuleContext, install_span, instruction_span
from deadweight.rules.layers import layer_evidence
from deadweight.units import human_bytes

MIN_CACHE_BYTES = 256 * 1024
#: About what ``apt-get update`` leaves in /var/lib/apt/lists on Debian bookworm, linux/amd64 (main, updates and
#: security indexes; the figure grows and shrinks with the mirrors' indexes). An approximation, not measured
#: by deadweight: the static estimate's figure for DW302's apt lists, marked estimated; a measured audit
#: counts the files themselves.
APT_LISTS_BYTES = 19_000_000
_PYTHON_TOOLS = ("pip", "uv", "poetry")

#: (path marker, cache name, installer tools, the edit that keeps it out of the layer: an install flag with the
#: environment setting that does the same, or a cleanup command for the same RUN)
_KINDS: tuple[tuple[str, str, tuple[str, ...], Edit], ...] = (
    (".cache/pip/", "pip cache", ("pip",),
     AddInstallFlag("pip", "install", "--no-cache-dir", env="PIP_NO_CACHE_DIR=1")),
    (".cache/uv/", "uv cache", ("uv",), AddInstallFlag("uv", "pip install", "--no-cache", env="UV_NO_CACHE=1")),
    (".cache/pypoetry/", "poetry cache", ("poetry",), AddInstallFlag("poetry", "install", "--no-cache")),
    ("var/lib/apt/lists/", "apt lists", ("apt-get", "apt"), AddCleanup("apt-get", "rm -rf /var/lib/apt/lists/*")),
    ("var/cache/apt/", "apt archives", ("apt-get", "apt"), AddCleanup("apt-get", "apt-get clean")),
    ("var/cache/apk/", "apk cache", ("apk",), AddInstallFlag("apk", "add", "--no-cache")),
)


_ROOTS = ("var/cache/", "var/lib/apt/", "etc/apk/")


def cache_kind(path: str) -> int | None:
    """Index into ``_KINDS`` of the cache ``path`` belongs to; a cheap test first, as it runs per file."""
    if ".cache/" not in path and not path.startswith(_ROOTS):
        return None
    for i, (marker, *_rest) in enumerate(_KINDS):
        if path.startswith(marker) or f"/{marker}" in path:
            return i
    return 0 if is_cache_path(path) and ".cache/" in path else None


def _uncleaned(installs: Iterable[InstallCommand], tools: tuple[str, ...]) -> list[InstallCommand]:
    """Installs by ``tools`` that neither skip, mount nor clean their cache."""
    return [cmd for cmd in installs
            if cmd.tool in tools and not (cmd.no_cache or cmd.cache_mount or cmd.cleans_cache)]


def _at(edit: Edit, service: Service, cmd: InstallCommand) -> Edit:
    """The kind's edit placed on the RUN instruction of ``cmd`` (its own tool and action)."""
    if isinstance(edit, AddInstallFlag):
        return replace(edit, tool=cmd.tool, action=cmd.action, **install_span(service, cmd))
    if isinstance(edit, AddCleanup):
        return replace(edit, tool=cmd.tool, **install_span(service, cmd))
    return edit


class PackageManagerCache(Rule):
    id = "DW302"
    name = "PackageManagerCache"
    title = "Package-manager cache baked into a layer"
    severity = Severity.MEDIUM
    description = "pip, uv or poetry caches, or apt lists, were written into a layer and ship with the image."
    fix = "Use --no-cache-dir (pip) and clean apt lists in the same RUN."

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        analysis = ctx.analysis
        if analysis is None:
            return self._estimated(ctx)
        claims: dict[int, dict[str, int]] = {}
        layers: dict[int, dict[int, int]] = {}
        tree = analysis.tree
        for path in tree.paths():
            if ".cache/" not in path and not path.startswith(_ROOTS):
                continue  # cache_kind's own first test, without a call per path of the image
            stat = tree.stat(path)
            if stat is None or not stat[1] or (kind := cache_kind(path)) is None:
                continue
            _kind, size, layer = stat
            claims.setdefault(kind, {})[f"file:{path}"] = size
            layers.setdefault(kind, {})[layer] = layers.get(kind, {}).get(layer, 0) + size
        for item in analysis.tree.shadowed:
            if (kind := cache_kind(item.path)) is not None:
                claims.setdefault(kind, {})[f"shadow:{item.layer}:{item.path}"] = item.size
                layers.setdefault(kind, {})[item.layer] = layers.get(kind, {}).get(item.layer, 0) + item.size
        findings = []
        dockerfile = ctx.service.dockerfile.path if ctx.service.dockerfile else ctx.service.dockerfile_path
        for kind, kind_claims in sorted(claims.items()):
            total = sum(kind_claims.values())
            if total < MIN_CACHE_BYTES:
                continue
            marker, name, tools, template = _KINDS[kind]
            evidence = [
                layer_evidence(analysis, layer, f"{human_bytes(size)} of {name}")
                for layer, size in sorted(layers[kind].items(), key=lambda kv: (-kv[1], kv[0]))
            ]
            installs = _uncleaned(shipped_installs(ctx.service), tools)
            evidence += [Evidence("dockerfile", f"{cmd.tool} {cmd.action} without cache cleanup",
                                  f"{dockerfile}:{cmd.line}" if dockerfile else None) for cmd in installs]
            # no install of the project wrote it (a base image did): the edit says what, not where
            remedy = [_at(template, ctx.service, cmd) for cmd in installs] or [template]
            findings.append(
                self.finding(
                    ctx,
                    title=f"{name} baked into the image ({human_bytes(total)})",
                    path=marker.rstrip("/"),
                    savings_bytes=total,
                    estimated=False,
                    evidence=evidence,
                    remedy=remedy,
                    claims=kind_claims,
                )
            )
        return findings

    def _estimated(self, ctx: RuleContext) -> list[Finding]:
        """Static mode: the caches the Dockerfile's shipped installs leave, sized from the estimate."""
        findings = []
        dockerfile = ctx.service.dockerfile.path if ctx.service.dockerfile else ctx.service.dockerfile_path
        shipped = [cmd for cmd in shipped_installs(ctx.service) if cmd.tool in _PYTHON_TOOLS]
        dists = ctx.inventory.distributions() if ctx.inventory is not None else []
        for kind, (marker, name, tools, template) in enumerate(_KINDS):
            if not set(tools) & set(_PYTHON_TOOLS):
                continue
            installs = _uncleaned(shipped, tools)
            if not installs:
                continue
            wheels = _installed_by(ctx.service, installs, shipped, dists)
            total = sum(d.archive_bytes for d in wheels)
            if total < MIN_CACHE_BYTES:
                continue
            evidence = [Evidence("dockerfile", f"{cmd.tool} {cmd.action} without --no-cache-dir/--no-cache, "
                                 "PIP_NO_CACHE_DIR or a cache mount",
                                 f"{dockerfile}:{cmd.line}" if dockerfile else None) for cmd in installs]
            evidence.append(Evidence("estimate", f"about the downloaded wheels' size: {len(wheels)} wheels, "
                                     f"{human_bytes(total)}", None))
            findings.append(self.finding(
                ctx, title=f"{name} baked into the image (about {human_bytes(total)})", path=marker.rstrip("/"),
                savings_bytes=total, estimated=True, evidence=evidence,
                remedy=[_at(template, ctx.service, cmd) for cmd in installs], claims={f"static-cache:{kind}": total}))
        findings.extend(self._apt_lists(ctx, dockerfile))
        return findings

    def _apt_lists(self, ctx: RuleContext, dockerfile: str | None) -> list[Finding]:
        try:
            runs = [ins for stage in final_chain(ctx.service) for ins in stage.instructions if leaves_apt_lists(ins)]
        except ParseError:
            return []
        if not runs:
            return []
        kind = next(i for i, k in enumerate(_KINDS) if k[1] == "apt lists")
        marker, name, _tools, template = _KINDS[kind]
        total = APT_LISTS_BYTES * len(runs)
        apt = {cmd.line: cmd for cmd in shipped_installs(ctx.service) if cmd.tool in ("apt-get", "apt")}
        evidence = [Evidence("dockerfile", "apt-get update without rm -rf /var/lib/apt/lists/* in the same RUN",
                             f"{dockerfile}:{ins.start_line}" if dockerfile else None) for ins in runs]
        evidence.append(Evidence("estimate", f"about {human_bytes(APT_LISTS_BYTES)} of lists per RUN (Debian "
                                 "bookworm, amd64: a documented constant)", None))
        remedy = [_at(template, ctx.service, apt[ins.start_line]) if ins.start_line in apt
                  else replace(template, **instruction_span(ctx.service.dockerfile, ins)) for ins in runs]
        return [self.finding(ctx, title=f"{name} baked into the image (about {human_bytes(total)})",
                             path=marker.rstrip("/"), savings_bytes=total, estimated=True, evidence=evidence,
                             remedy=remedy, claims={f"static-cache:{kind}": total})]


def _installed_by(service: Service, installs: list[InstallCommand], python: list[InstallCommand],
                  dists: list[Distribution]) -> list[Distribution]:
    """The estimated distributions ``installs`` download: all of them when every Python install is one of
    these; else those the installs' own requirements name, with what they require."""
    if len(installs) == len(python):
        return dists
    roots: set[str] = set()
    for cmd in installs:
        roots |= _roots(service, cmd)
    by_name = {d.name: d for d in dists}
    todo, seen = list(roots), set()
    while todo:
        name = todo.pop()
        if name in seen or name not in by_name:
            continue
        seen.add(name)
        todo.extend(r.name for r in by_name[name].requires)
    return [by_name[n] for n in sorted(seen)]


def _roots(service: Service, cmd: InstallCommand) -> set[str]:
    """Declared requirements that come from ``cmd``: its ``-r`` files, its own RUN line, the project it installs."""
    files = {posixpath.basename(f) for f in cmd.requirement_files}
    out = set()
    for req in service.requirements:
        if req.origin == "dockerfile-run":
            if cmd.line <= req.line <= max(cmd.end_line, cmd.line):
                out.add(req.name)
        elif req.origin == "requirements":
            if posixpath.basename(req.source_file) in files:
                out.add(req.name)
        elif cmd.local_paths or (cmd.tool in ("poetry", "uv") and cmd.action in ("install", "sync")):
            out.add(req.name)
    return out

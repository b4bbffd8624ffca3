"""DW302: package-manager caches baked into layers (pip, uv, poetry, apt lists and archives, apk).

Counted on the image: cache files the final tree shows, plus cache files written in one layer and
deleted in a later one (those still ship; they are claimed under the same key as DW303 so no byte is
counted twice). The Dockerfile step that wrote them is cited when the project has one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from deadweight.inventory.classify import is_cache_path
from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.project import InstallCommand, Service
from deadweight.model.remedy import AddCleanup, AddInstallFlag, Edit
from deadweight.project.stages import shipped_installs
from deadweight.rules.base import Rule, RuleContext, install_span
from deadweight.rules.layers import layer_evidence
from deadweight.units import human_bytes

MIN_CACHE_BYTES = 256 * 1024

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
    needs_image = True

    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]:
        analysis = ctx.analysis
        if analysis is None:
            return []
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

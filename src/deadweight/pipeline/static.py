"""A static audit: no image, so estimate what the image would hold from index metadata.

The declared requirements are expanded the way pip would (``pypi.closure``) for the Python and platform
the Dockerfile targets, each wheel sized from its central directory. The result is an ``Inventory`` like a
measured one, with every byte marked estimated, so the same rules run on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from packaging.requirements import InvalidRequirement
from packaging.requirements import Requirement as PackagingRequirement

from deadweight.inventory.classify import detect_build, dist_class
from deadweight.model.image import Platform
from deadweight.model.inventory import Distribution, Inventory, PythonEnvironment, Requirement
from deadweight.model.project import DeclaredRequirement, Service
from deadweight.project.stages import final_chain
from deadweight.pypi.closure import ClosureResolver, ResolvedWheel
from deadweight.pypi.index import IndexClient, pip_index_urls
from deadweight.pypi.remote_wheel import WheelInspector
from deadweight.pypi.store import JsonStore
from deadweight.rules.dw601_base_image import base_variant

DEFAULT_PYTHON = "3.11"
STATIC_ENV = "(estimated)/site-packages"


@dataclass(frozen=True)
class Target:
    python: str
    platform: Platform
    libc: str


def target_of(service: Service) -> Target:
    """Python version, platform and libc the Dockerfile's final stage targets (python:X bases; else 3.11)."""
    python, libc, platform = DEFAULT_PYTHON, "glibc", Platform("linux", "amd64")
    chain = final_chain(service)
    if chain:
        root = chain[-1]
        parsed = base_variant(root.base)
        if parsed is not None:
            python = ".".join(parsed[0].split(".")[:2]) if "." in parsed[0] else DEFAULT_PYTHON
            libc = "musl" if parsed[1] == "alpine" else "glibc"
        if root.platform and "$" not in root.platform:
            platform = Platform.parse(root.platform)
    return Target(python, platform, libc)


def index_urls(service: Service) -> list[str]:
    """Indexes pip would use for the service: requirements/RUN options, PIP_INDEX_URL / PIP_EXTRA_INDEX_URL, PyPI."""
    return pip_index_urls(((o.name, o.value) for o in service.requirement_options), service.installs)


def _requirement_text(req: DeclaredRequirement) -> str:
    extras = f"[{','.join(req.extras)}]" if req.extras else ""
    marker = f"; {req.marker}" if req.marker else ""
    return f"{req.name}{extras}{req.specifier}{marker}"


def estimate_inventory(
    service: Service, store: JsonStore, *, offline: bool
) -> tuple[Inventory, list[str]]:
    """The estimated inventory of ``service`` and warnings (packages that could not be sized, offline misses)."""
    target = target_of(service)
    clients = [IndexClient(url, store, offline=offline) for url in index_urls(service)]
    inspector = WheelInspector(store, offline=offline)
    roots: list[PackagingRequirement] = []
    warnings: list[str] = []
    for req in service.requirements:
        if req.url or req.editable:
            continue
        try:
            roots.append(PackagingRequirement(_requirement_text(req)))
        except InvalidRequirement:
            warnings.append(f"{req.source_file}:{req.line}: cannot estimate {req.raw.strip()!r}")
    try:
        pre = any(o.name == "--pre" for o in service.requirement_options) or any(
            "--pre" in c.flags for c in service.installs)  # pip install --pre
        closure = ClosureResolver(clients, inspector, python=target.python, platform=target.platform,
                                  libc=target.libc, prereleases=pre).resolve(roots)
    finally:
        for client in clients:
            client.close()
        inspector.close()
    for name, why in sorted(closure.unresolved.items()):
        warnings.append(f"{service.name}: {name} not sized ({why})")
    installed = [*closure.wheels, *closure.sdists]
    dists = [_distribution(w, installed) for w in closure.wheels.values()]
    # an sdist-only package: 0 bytes (not built, so not sized: it stays in ``unresolved``), the requirements its
    # metadata states, and its import name guessed from its name only to let a use count
    dists += [replace(_distribution(s, installed), import_names=(s.name.replace("-", "_"),), module_paths=())
              for s in closure.sdists.values()]
    for name, why in sorted(closure.sdist_unknown.items()):
        warnings.append(f"{service.name}: what {name} requires is unknown ({why}): nothing it might need is "
                        "called unused")
    env = PythonEnvironment(path=STATIC_ENV, kind="estimated", python_version=target.python,
                            distributions=tuple(sorted(dists, key=lambda d: d.name)))
    inventory = Inventory(environments=(env,), warnings=tuple(warnings), unresolved=dict(closure.unresolved),
                          sdist_only=tuple(sorted(closure.sdists)), needs_unknown=dict(closure.sdist_unknown))
    return inventory, warnings


def _distribution(wheel: ResolvedWheel, installed: Sequence[str]) -> Distribution:
    build, _why = detect_build(wheel.name, wheel.version, wheel.requires, installed, [])
    return Distribution(
        name=wheel.name,
        display_name=wheel.name,
        version=wheel.version,
        metadata_path=f"{STATIC_ENV}/{wheel.filename}",
        environment=STATIC_ENV,
        import_names=wheel.top_level,
        module_paths=wheel.top_level,
        requires=tuple(Requirement(r, "", (), None, True) for r in wheel.requires),
        size_bytes=wheel.installed_bytes,
        exclusive_bytes=wheel.installed_bytes,
        archive_bytes=wheel.download_bytes,
        dist_class=dist_class(wheel.name),
        build=build,
    )

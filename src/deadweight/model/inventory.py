"""Python environments and distributions found in an image (issue: package view).

Produced by ``inventory/pythonenv.py``; consumed by usage evidence, verdicts, rules and reports.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from deadweight.model.sizetree import SizeNode, bounded_trees

#: The name of an environment's files no distribution owns, in ``Inventory.environment_tree``.
UNOWNED = "files no distribution owns"

#: Breakdown classes, in report order. Every byte of the image lands in exactly one.
BREAKDOWN_CLASSES = (
    "gpu",
    "ml",
    "scientific",
    "other_python",
    "toolchain",
    "other_os",
    "caches",
    "tests_docs",
    "application",
    "shadowed",
    "other",
)


class DistClass(enum.Enum):
    """What kind of weight a distribution is; drives the breakdown and the rules."""

    GPU = "gpu"  # nvidia-*, cuda-*, triton, cupy ...
    ML = "ml"  # torch, tensorflow, jax, onnxruntime ...
    SCIENTIFIC = "scientific"  # numpy, scipy, pandas ...
    PACKAGING = "packaging"  # pip, setuptools, wheel
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class EntryPoint:
    group: str  # e.g. "console_scripts", "pytest11", "sqlalchemy.dialects"
    name: str
    value: str  # "module.sub:attr"

    @property
    def module(self) -> str:
        return self.value.partition(":")[0].strip()


@dataclass(frozen=True, slots=True)
class Requirement:
    """One Requires-Dist entry, with whether it applies in this environment (markers, extras evaluated)."""

    name: str  # canonical
    specifier: str
    extras: tuple[str, ...]
    marker: str | None
    active: bool  # marker true for this env's python/platform and no extra needed (or extra requested)
    extra: str | None = None  # the extra this requirement belongs to, if any


@dataclass(frozen=True)
class Distribution:
    """An installed distribution (.dist-info or .egg-info) and the bytes it owns in the final tree."""

    name: str  # canonical (packaging.utils.canonicalize_name)
    display_name: str
    version: str  # with local label, e.g. "2.5.1+cu124"
    metadata_path: str  # path of the .dist-info/.egg-info directory in the image
    environment: str  # path of the environment (site-packages dir) it lives in
    installer: str | None = None
    requested: bool | None = None  # REQUESTED present (None: unknown, e.g. egg-info)
    direct_url: str | None = None
    import_names: tuple[str, ...] = ()  # top-level importable names (packages and modules)
    module_paths: tuple[str, ...] = ()  # every importable dotted module it ships (from RECORD), sorted
    requires: tuple[Requirement, ...] = ()
    entry_points: tuple[EntryPoint, ...] = ()
    files: tuple[str, ...] = ()  # image paths owned (from RECORD, resolved), sorted
    size_bytes: int = 0  # bytes of its files in the final tree (incl. __pycache__, *.libs, bin/ scripts)
    pycache_bytes: int = 0  # part of size_bytes that is __pycache__
    missing_files: tuple[str, ...] = ()  # listed in RECORD but not in the final tree
    exclusive_bytes: int = 0  # bytes freed by removing it and everything only it needs
    archive_bytes: int = 0  # static estimate: the wheel file's size, what pip downloads (and caches); 0 measured
    dist_class: DistClass = DistClass.OTHER
    build: str | None = None  # framework build: "cuda", "cpu", "rocm", "gpu", "headless", "gui" ...
    build_evidence: tuple[str, ...] = ()  # why ``build`` was decided: version label, requirements, libraries
    warnings: tuple[str, ...] = ()

    @property
    def console_scripts(self) -> tuple[EntryPoint, ...]:
        return tuple(ep for ep in self.entry_points if ep.group in ("console_scripts", "gui_scripts"))


@dataclass(frozen=True)
class PythonEnvironment:
    path: str  # site-packages / dist-packages directory
    kind: str  # "system", "venv", "conda", "user", "pythonpath"
    python_version: str | None  # "3.11" or "3.11.7" when known
    prefix: str | None = None  # venv/conda root, or the interpreter prefix
    distributions: tuple[Distribution, ...] = ()
    orphan_files: tuple[str, ...] = ()  # files in the environment no distribution owns
    orphan_bytes: int = 0
    warnings: tuple[str, ...] = ()
    #: environments this venv imports from too (``include-system-site-packages = true``)
    base_environments: tuple[str, ...] = ()

    @property
    def distribution_bytes(self) -> int:
        """Bytes its distributions own (orphan files not included)."""
        return sum(d.size_bytes for d in self.distributions)

    @property
    def size_bytes(self) -> int:
        """Everything in the environment: its distributions plus the files none of them owns."""
        return self.distribution_bytes + self.orphan_bytes

    def find(self, name: str) -> Distribution | None:
        for dist in self.distributions:
            if dist.name == name:
                return dist
        return None


@dataclass(frozen=True)
class OsPackage:
    name: str
    version: str
    manager: str  # "dpkg" or "apk"
    files: tuple[str, ...] = ()
    size_bytes: int = 0  # from the final tree
    is_toolchain: bool = False


@dataclass(frozen=True)
class Inventory:
    """Everything deadweight knows about what is inside one image."""

    environments: tuple[PythonEnvironment, ...] = ()
    os_packages: tuple[OsPackage, ...] = ()
    breakdown: dict[str, int] = field(default_factory=dict)  # class -> bytes; sums to the image size
    warnings: tuple[str, ...] = ()
    # static estimates only: package -> why it could not be resolved (no wheel, index unreachable, offline miss);
    # what the estimate says about the image is then incomplete
    unresolved: dict[str, str] = field(default_factory=dict)
    # static estimates only: packages pip would build from an sdist (in ``distributions`` with 0 bytes and the
    # requirements their metadata states), and those whose requirements could not be read, with why: what
    # they might need is unknown, never unused
    sdist_only: tuple[str, ...] = ()
    needs_unknown: dict[str, str] = field(default_factory=dict)

    def distributions(self) -> list[Distribution]:
        return [d for env in self.environments for d in env.distributions]

    def environment_tree(self, max_nodes: int = 1000) -> tuple[SizeNode, ...]:
        """The Python environments by distribution: one ``env`` node per environment (named and with the
        ``path`` of its directory), a ``file`` node per distribution (its ``path`` the canonical name) and one
        for the files none owns (``UNOWNED``), biggest first, small ones folded past ``max_nodes``
        (``sizetree.bounded_trees``)."""
        roots = []
        for env in self.environments:
            files = [(d.name, d.size_bytes) for d in env.distributions if d.size_bytes]
            if env.orphan_bytes:
                files.append((UNOWNED, env.orphan_bytes))
            roots.append((env.path, "env", files))
        trees = bounded_trees(roots, max_nodes)
        return tuple(SizeNode(t.name, t.size_bytes, t.kind, env.path, t.children, t.folded)
                     for t, env in zip(trees, self.environments, strict=True))

    @property
    def os_package_bytes(self) -> int:
        return sum(p.size_bytes for p in self.os_packages)

    @property
    def toolchain_packages(self) -> tuple[OsPackage, ...]:
        return tuple(p for p in self.os_packages if p.is_toolchain)

    @property
    def toolchain_bytes(self) -> int:
        return sum(p.size_bytes for p in self.toolchain_packages)

    def ordered_breakdown(self) -> dict[str, int]:
        """Bytes per class in the documented class order (``BREAKDOWN_CLASSES``), then any other keys sorted."""
        known = [k for k in BREAKDOWN_CLASSES if k in self.breakdown]
        rest = sorted(k for k in self.breakdown if k not in BREAKDOWN_CLASSES)
        return {k: self.breakdown[k] for k in known + rest}

    @property
    def breakdown_bytes(self) -> int:
        """What the breakdown adds up to (the image size, every byte once)."""
        return sum(self.breakdown.values())


@dataclass(frozen=True)
class CpuBuild:
    """Installed size of the CPU build of a framework, and where that figure came from."""

    name: str
    version: str
    installed_bytes: int
    source: str  # the wheel URL, or "table" when offline
    estimated: bool = False

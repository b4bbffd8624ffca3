"""The rule catalog: id -> title, default severity, one-line description, docs page.

This is the single place rule metadata lives. Reports (SARIF ``tool.driver.rules``, Markdown, terminal), the
docs index and the rules themselves read it from here, so an id never means two things. Ids are stable: they
are what users write in ``--ignore``, ``[tool.deadweight] ignore``, ``per-package-ignores`` and
``# deadweight: ignore[DW201]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from deadweight.model.finding import Severity

DOCS_DIR = "docs/rules"
# Where the rule pages are published. SARIF wants an absolute helpUri; change it here and only here.
DOCS_BASE_URL = "https://github.com/deadweight/deadweight/blob/main/docs/rules/"


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """Static description of one rule (what it finds; never how)."""

    id: str
    name: str  # PascalCase identifier, as SARIF's reportingDescriptor.name wants
    title: str  # short, for tables and "top cause"
    severity: Severity  # default; a rule may raise or lower it per finding
    description: str  # one sentence
    fix: str  # the typical fix, one line
    default_enabled: bool = True
    requires: str | None = None  # what must be given for the rule to run, e.g. "--run"

    @property
    def docs_path(self) -> str:
        """Path of the rule page inside the repository, e.g. ``docs/rules/DW101.md``."""
        return f"{DOCS_DIR}/{self.id}.md"

    @property
    def help_uri(self) -> str:
        return f"{DOCS_BASE_URL}{self.id}.md"


_RULES = (
    RuleInfo(
        "DW101", "CudaTorchOnCpuService", "CUDA torch in a CPU-only service", Severity.HIGH,
        "The GPU (CUDA) build of torch, with its nvidia-* wheels and triton, is installed in an image whose "
        "code and deployment never use a GPU.",
        "Install torch from the PyTorch CPU index (torch-cpu-index setting).",
    ),
    RuleInfo(
        "DW102", "GpuOrGuiVariant", "GPU or GUI variant where a lean one fits", Severity.MEDIUM,
        "A GPU or GUI build of a package (tensorflow, onnxruntime-gpu, faiss-gpu, jax[cuda], cupy, "
        "opencv-python) is installed where the CPU or headless variant does the same job.",
        "Depend on the lean variant (tensorflow-cpu, onnxruntime, faiss-cpu, jax, opencv-python-headless).",
    ),
    RuleInfo(
        "DW201", "UnusedDeclaredDependency", "Declared dependency nothing uses", Severity.MEDIUM,
        "A dependency declared in requirements or pyproject is never imported, run, named in a setting or "
        "loaded as a plugin by the service.",
        "Remove it from the requirements.",
    ),
    RuleInfo(
        "DW202", "UndeclaredUnusedPackage", "Installed, undeclared and unused", Severity.LOW,
        "A distribution is installed in the image, is not declared by the project and nothing that is used "
        "needs it.",
        "Find the step that installs it and remove it.",
    ),
    RuleInfo(
        "DW301", "BuildToolchainInFinalImage", "Build toolchain in the final image", Severity.MEDIUM,
        "Compilers, -dev headers or build-essential are present in the image that ships.",
        "Build in a separate stage and copy only the results (multi-stage build).",
    ),
    RuleInfo(
        "DW302", "PackageManagerCache", "Package-manager cache baked into a layer", Severity.MEDIUM,
        "pip, uv or poetry caches, or apt lists, were written into a layer and ship with the image.",
        "Use --no-cache-dir (pip) and clean apt lists in the same RUN.",
    ),
    RuleInfo(
        "DW303", "ShadowedLayerBytes", "Bytes shadowed by later layers", Severity.LOW,
        "Files written by one layer and deleted or overwritten by a later one still ship in the earlier "
        "layer.",
        "Create and delete in one RUN, or use a multi-stage build.",
    ),
    RuleInfo(
        "DW304", "AptInstallRecommends", "apt install without --no-install-recommends", Severity.LOW,
        "apt-get install runs without --no-install-recommends and pulls in recommended packages.",
        "Add --no-install-recommends to apt-get install.",
    ),
    RuleInfo(
        "DW401", "BuildContextBloat", "Build context carries what the image doesn't need", Severity.LOW,
        "The build context sent to the engine contains virtualenvs, .git, caches, data or notebooks.",
        "List them in .dockerignore.",
    ),
    RuleInfo(
        "DW501", "UnpinnedRequirement", "Unpinned requirement", Severity.LOW,
        "A requirement has no exact version (>=, ~= or none), so rebuilds may install something else.",
        "Pin it to the version the image actually has.",
    ),
    RuleInfo(
        "DW601", "HeavierBaseImage", "Heavier base image than needed", Severity.MEDIUM,
        "The base image is a full variant (python:X) where the slim one (or alpine, when every wheel exists "
        "for musl) would do.",
        "Switch to the lighter base image.",
    ),
    RuleInfo(
        "DW701", "MemoryLimitTooTight", "Memory limit tight for the observed peak", Severity.MEDIUM,
        "The compose memory limit leaves little headroom over the memory peak observed when the service ran.",
        "Raise the memory limit in the compose file.",
        requires="--run",
    ),
    RuleInfo(
        "DW702", "MemoryLimitTooLoose", "Memory limit far above the observed peak", Severity.LOW,
        "The compose memory limit is far above the memory peak observed when the service ran.",
        "Lower the memory limit in the compose file.",
        requires="--run",
    ),
    RuleInfo(
        "DW801", "NonRuntimeFilesInSitePackages", "Tests, docs, headers in site-packages", Severity.INFO,
        "Test suites, documentation, C headers or static libraries inside site-packages that the service "
        "never loads.",
        "Strip them in the build stage.",
        default_enabled=False,
    ),
)

RULES: Mapping[str, RuleInfo] = MappingProxyType({rule.id: rule for rule in _RULES})


def rule_info(rule_id: str) -> RuleInfo | None:
    """The catalog entry for ``rule_id``, or None for an id the catalog does not know."""
    return RULES.get(rule_id.upper())


def rule_title(rule_id: str, fallback: str = "") -> str:
    """The catalog title, or ``fallback`` (a finding's own title) for an unknown id."""
    info = rule_info(rule_id)
    return info.title if info else (fallback or rule_id)


def rule_help_uri(rule_id: str) -> str:
    """The docs URL of a rule; unknown ids still get a stable URL so links never break the output."""
    return f"{DOCS_BASE_URL}{rule_id.upper()}.md"

"""Evidence that code, commands or configuration use a module, a command or a distribution.

Produced by ``deadweight.usage`` (scanners), consumed by ``usage/verdicts.py`` and the rules (DW101, DW201,
DW202). Frozen and I/O free so that evidence can be cached, sorted and rendered as JSON
(``{"kind", "detail", "location"}`` in the audit contract).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Confidence(enum.Enum):
    """How sure a piece of evidence is. Ordered: ``HIGH > MEDIUM > LOW``."""

    HIGH = "high"  # a literal import, a command in CMD, a setting that names a module
    MEDIUM = "medium"  # a string that looks like a dotted path in config, a default DB driver
    LOW = "low"  # an f-string prefix, a guess from a naming convention

    @property
    def rank(self) -> int:
        return {"high": 3, "medium": 2, "low": 1}[self.value]


class EvidenceKind(enum.Enum):
    """What the evidence is; also tells what ``UsageEvidence.target`` names (see ``TargetType``)."""

    IMPORT = "import"  # import statement (module)
    DYNAMIC_IMPORT = "dynamic-import"  # importlib.import_module, __import__, find_spec, pydoc.locate (module)
    DYNAMIC_PREFIX = "dynamic-prefix"  # f"plugins.{x}" literal prefix (module prefix)
    DYNAMIC_UNRESOLVED = "dynamic-unresolved"  # import of a non-literal name: could be anything
    DB_URL = "db-url"  # dialect+driver:// names a driver module (module)
    SETTING = "setting"  # Django/Celery/logging setting naming code (module)
    CONFIG_PATH = "config-path"  # dotted path in ini/toml/yaml/json (module)
    APP_PATH = "app-path"  # "pkg.mod:app" given to a server (module)
    COMMAND = "command"  # console script run by CMD/ENTRYPOINT/compose/Procfile/scripts (command)
    PYTHON_M = "python-m"  # python -m module (module)
    COMMAND_ARG = "command-arg"  # argument naming code: gunicorn -k, uvicorn --loop ... (module)
    PYTEST_PLUGIN = "pytest-plugin"  # pytest_plugins / -p name (module)
    OPTIONAL_DEP = "optional-dep"  # curated optional runtime dependency triggered by a pattern (distribution)
    PLUGIN = "plugin"  # entry point in a group consumed by a used distribution (distribution)
    SCAN_WARNING = "scan-warning"  # a file could not be read or parsed: the scan is incomplete
    DEVICE_CPU = "device-cpu"  # CPU-only signal
    DEVICE_GPU = "device-gpu"  # GPU required
    DEVICE_GPU_OPTIONAL = "device-gpu-optional"  # GPU used when available


class TargetType(enum.Enum):
    MODULE = "module"
    MODULE_PREFIX = "module-prefix"
    COMMAND = "command"
    DISTRIBUTION = "distribution"
    NONE = "none"


_TARGET_TYPES: dict[EvidenceKind, TargetType] = {
    EvidenceKind.IMPORT: TargetType.MODULE,
    EvidenceKind.DYNAMIC_IMPORT: TargetType.MODULE,
    EvidenceKind.DYNAMIC_PREFIX: TargetType.MODULE_PREFIX,
    EvidenceKind.DYNAMIC_UNRESOLVED: TargetType.NONE,
    EvidenceKind.DB_URL: TargetType.MODULE,
    EvidenceKind.SETTING: TargetType.MODULE,
    EvidenceKind.CONFIG_PATH: TargetType.MODULE,
    EvidenceKind.APP_PATH: TargetType.MODULE,
    EvidenceKind.COMMAND: TargetType.COMMAND,
    EvidenceKind.PYTHON_M: TargetType.MODULE,
    EvidenceKind.COMMAND_ARG: TargetType.MODULE,
    EvidenceKind.PYTEST_PLUGIN: TargetType.MODULE,
    EvidenceKind.OPTIONAL_DEP: TargetType.DISTRIBUTION,
    EvidenceKind.PLUGIN: TargetType.DISTRIBUTION,
    EvidenceKind.SCAN_WARNING: TargetType.NONE,
    EvidenceKind.DEVICE_CPU: TargetType.NONE,
    EvidenceKind.DEVICE_GPU: TargetType.NONE,
    EvidenceKind.DEVICE_GPU_OPTIONAL: TargetType.NONE,
}


@dataclass(frozen=True, slots=True)
class UsageEvidence:
    """One reason to believe something is used (or, for scan warnings, that we cannot tell).

    ``location`` is ``"file:line"`` (line 0 when the whole file is meant). ``consumer`` is set on
    optional-dependency evidence: the distribution whose use makes the target needed (``fastapi`` for
    ``python-multipart``); the verdict only counts it when the consumer is used.
    """

    kind: EvidenceKind
    detail: str
    location: str
    target: str
    confidence: Confidence = Confidence.HIGH
    type_only: bool = False
    consumer: str | None = None

    def sort_key(self) -> tuple[str, str, str, str]:
        """Deterministic order for reports: location, kind, target, detail."""
        return (self.location, self.kind.value, self.target, self.detail)

    @property
    def target_type(self) -> TargetType:
        return _TARGET_TYPES[self.kind]

    def as_json(self) -> dict[str, str]:
        """The audit contract's ``evidence[]`` entry."""
        return {"kind": self.kind.value, "detail": self.detail, "location": self.location}


class DeviceStatus(enum.Enum):
    CPU_ONLY = "cpu_only"
    GPU_USED = "gpu_used"
    GPU_OPTIONAL = "gpu_optional"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DeviceVerdict:
    status: DeviceStatus
    evidence: tuple[UsageEvidence, ...] = ()
    confidence: Confidence = Confidence.MEDIUM


class VerdictStatus(enum.Enum):
    USED = "used"
    USED_TRANSITIVELY = "used-transitively"
    USED_BY_TOOLING = "used-by-tooling"
    DECLARED_UNUSED = "declared-unused"
    ORPHAN = "orphan"
    UNKNOWN = "unknown"

    @property
    def is_unused(self) -> bool:
        return self in (VerdictStatus.DECLARED_UNUSED, VerdictStatus.ORPHAN)


@dataclass(frozen=True)
class Verdict:
    """Whether a distribution is needed, why, and who needs it (``via``: used dists that require it)."""

    name: str
    status: VerdictStatus
    evidence: tuple[UsageEvidence, ...] = ()
    confidence: Confidence = Confidence.MEDIUM
    via: tuple[str, ...] = ()
    reason: str = ""

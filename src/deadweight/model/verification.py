"""What ``deadweight verify`` (and ``optimize``) found: the images built before and after the fixes, how they
compare, the checks run in them, and which edits were kept or dropped.

``verify/`` produces it, reporters render it (terminal, JSON, the Markdown results report), ``pipeline/verify.py``
and ``pipeline/optimize.py`` wire it. Figures are measured on the images by deadweight's own reader, never
estimated; a reporter computes nothing. Frozen, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from deadweight.model.audit import AuditReport, ServiceResult
from deadweight.model.plan import FixPlan, PlannedFix

__all__ = [
    "BuildRecord",
    "CheckResult",
    "CheckStatus",
    "ClassChange",
    "DistributionChange",
    "EditOutcome",
    "ImageComparison",
    "ImageFigures",
    "LayerRow",
    "ServiceVerification",
    "VerifyReport",
]

# pass: the check ran and held; fail: it ran and did not hold (``detail`` says what broke); skip: it does not
# apply (no OpenAPI document, no user checks), ``detail`` says why; error: it could not be run (never "pass")
CheckStatus = Literal["pass", "fail", "skip", "error"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check in one image (or a differential check across both)."""

    check: str  # "pip-check", "imports", "framework", "start", "openapi", "user", "memory", "import-trace"
    name: str  # what was checked, for people: "import psycopg2", "GET /items -> 200", "pip check"
    status: CheckStatus
    detail: str = ""  # one line: why it failed, was skipped or could not run; a short summary when it passed
    command: str = ""  # a shell command that reruns it by hand (``docker run --rm IMG python -c ...``)
    output: str = ""  # what it printed, bounded (the last 4 KiB)
    image: Literal["before", "after", "both"] = "after"
    seconds: float = 0.0  # wall time the check took
    data: Mapping[str, Any] = field(default_factory=dict)  # per-check figures (module -> error, peak bytes ...)

    @property
    def failed(self) -> bool:
        return self.status in ("fail", "error")


@dataclass(frozen=True, slots=True)
class BuildRecord:
    """One ``docker build`` of a service."""

    image: str  # the tag in the local engine
    cold_seconds: float | None  # no cache (None: not measured, e.g. the before image was given)
    warm_seconds: float | None  # the same build again, unchanged (cache hits)
    log: str = ""  # the build's output, bounded (the last 64 KiB)
    builder: Literal["classic", "buildkit", "given"] = "classic"


@dataclass(frozen=True, slots=True)
class LayerRow:
    index: int
    size_bytes: int
    compressed_bytes: int | None
    created_by: str  # the instruction that made it


@dataclass(frozen=True, slots=True)
class ImageFigures:
    """One image as deadweight's reader measured it."""

    ref: str
    size_bytes: int
    compressed_bytes: int | None  # what a registry stores and a pull transfers (gzip of each layer when the
    # source stores them uncompressed: measured by compressing, never guessed)
    largest_layer_bytes: int
    layers: tuple[LayerRow, ...]
    dead_weight_bytes: int  # the audit's, run on this image
    findings: int


@dataclass(frozen=True, slots=True)
class DistributionChange:
    name: str  # canonical
    change: Literal["removed", "added", "changed", "kept"]
    before_version: str | None
    after_version: str | None
    before_bytes: int
    after_bytes: int


@dataclass(frozen=True, slots=True)
class ClassChange:
    dist_class: str  # the breakdown's class ("gpu", "toolchain", "caches", ...)
    before_bytes: int
    after_bytes: int


@dataclass(frozen=True, slots=True)
class ImageComparison:
    before: ImageFigures
    after: ImageFigures
    distributions: tuple[DistributionChange, ...]  # removed first, then added, changed, kept; by bytes
    classes: tuple[ClassChange, ...]

    @property
    def saved_bytes(self) -> int:
        return self.before.size_bytes - self.after.size_bytes

    @property
    def saved_fraction(self) -> float:
        return self.saved_bytes / self.before.size_bytes if self.before.size_bytes else 0.0


@dataclass(frozen=True, slots=True)
class EditOutcome:
    """What became of one planned fix."""

    fix: PlannedFix
    status: Literal["kept", "dropped", "not-built"]  # not-built: the service could not be built or checked
    broke: tuple[str, ...] = ()  # names of the checks it made fail (dropped ones)
    reason: str = ""  # one line: "DW301's builder stage left out libpq.so.5: `import psycopg2` fails"
    measured_savings_bytes: int | None = None  # on the rebuilt image: size with all kept edits but this one
    # minus size with all kept edits (None: not measured)


@dataclass(frozen=True, slots=True)
class ServiceVerification:
    service: str
    before_build: BuildRecord | None
    after_build: BuildRecord | None
    comparison: ImageComparison | None
    checks: tuple[CheckResult, ...] = ()
    edits: tuple[EditOutcome, ...] = ()
    bisect_builds: int = 0  # extra builds the bisection needed
    verify_seconds: float = 0.0  # time spent in checks (not builds)
    error: str | None = None  # why this service could not be verified (others still are)
    after_audit: ServiceResult | None = None

    @property
    def passed(self) -> bool:
        """Every check held and nothing stopped the verification: the kept edits are proven."""
        return self.error is None and not any(c.failed for c in self.checks)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    root: str
    audit: AuditReport  # the audit of the before images
    plan: FixPlan  # every edit fix proposed
    services: tuple[ServiceVerification, ...]
    written: bool = False  # the kept edits were written to the user's files
    files: tuple[str, ...] = ()  # the files written (or that --write would write), relative to root
    unique_before_bytes: int = 0  # the fleet, layers shared by several images counted once
    unique_after_bytes: int = 0
    warnings: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.services)

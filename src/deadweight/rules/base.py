"""What every rule sees (``RuleContext``) and how a rule is written (``Rule``).

A rule is a small class that carries its catalog entry (id, SARIF name, title, default severity, description,
the typical fix) and ``evaluate(ctx) -> Iterable[Finding]``; ``rules/catalog.py`` builds the catalog every
report reads from these classes, so an id never means two things. A rule only decides *whether* and *how
much*; selection and every kind of ignore are applied once, by ``rules/engine.py``. Rules declare what they
need (an image, observed memory) so the audit can say which were skipped and why instead of silently
reporting nothing.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, TypedDict

from deadweight.config import Config
from deadweight.model.analysis import ImageAnalysis
from deadweight.model.finding import Evidence, Finding, Severity
from deadweight.model.inventory import CpuBuild, Distribution, Inventory
from deadweight.model.project import DeclaredRequirement, Dockerfile, InstallCommand, Instruction, Service, ShippedFile
from deadweight.model.remedy import Edit, describe_remedy
from deadweight.model.usage import Confidence, DeviceStatus, DeviceVerdict, Verdict
from deadweight.project.indexes import TorchIndex

DOCS_DIR = "docs/rules"
# Where the rule pages are published. SARIF wants an absolute helpUri; change it here and only here.
DOCS_BASE_URL = "https://github.com/deadweight/deadweight/blob/main/docs/rules/"


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """Static description of one rule (what it finds; never how), as reports and docs show it."""

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


@dataclass(frozen=True)
class RuleContext:
    """Everything known about one service. ``inventory`` is measured on the image when ``analysis`` is set,
    else estimated from index metadata (``estimated``)."""

    service: Service
    config: Config
    analysis: ImageAnalysis | None = None
    inventory: Inventory | None = None
    estimated: bool = False
    verdicts: Mapping[str, Verdict] = field(default_factory=dict)
    declared: frozenset[str] = frozenset()
    device: DeviceVerdict = field(default_factory=lambda: DeviceVerdict(DeviceStatus.UNKNOWN))
    scan_complete: bool = True
    shipped: Sequence[ShippedFile] = ()
    cpu_builds: Mapping[str, CpuBuild] = field(default_factory=dict)  # "torch" -> CPU build size
    torch_index: TorchIndex | None = None  # the CPU index / lock / backend that serves torch (None: PyPI's)
    gui_calls: tuple[str, ...] = ()  # "file:line" of GUI calls (cv2.imshow ...) in the code
    # distributions with no musllinux wheel for the target Python (() = all have one; None = not checked)
    musl_gaps: tuple[str, ...] | None = None
    memory_peak_bytes: int | None = None
    memory_evidence: str | None = None

    def distributions(self) -> list[Distribution]:
        return self.inventory.distributions() if self.inventory else []

    def distribution(self, name: str) -> Distribution | None:
        for dist in self.distributions():
            if dist.name == name:
                return dist
        return None


class Rule(ABC):
    """Subclasses set their catalog entry (``id``, ``name``, ``title``, ``severity``, ``description``, ``fix``),
    what they need (``needs_image`` / ``needs_run``) and implement ``evaluate``."""

    id: ClassVar[str]
    name: ClassVar[str]  # PascalCase, SARIF's reportingDescriptor.name
    title: ClassVar[str]
    severity: ClassVar[Severity]
    description: ClassVar[str]
    fix: ClassVar[str]  # the typical fix: the hint of a finding that carries neither a remedy nor its own text
    default_enabled: ClassVar[bool] = True
    needs_image: ClassVar[bool] = False  # only meaningful with bytes measured on an image
    needs_run: ClassVar[bool] = False  # needs observed memory (``--run``)

    @property
    def info(self) -> RuleInfo:
        return _info_of(type(self))

    @abstractmethod
    def evaluate(self, ctx: RuleContext) -> Iterable[Finding]: ...

    def finding(
        self,
        ctx: RuleContext,
        *,
        title: str | None = None,
        package: str | None = None,
        path: str | None = None,
        savings_bytes: int = 0,
        estimated: bool | None = None,
        confidence: Confidence = Confidence.HIGH,
        evidence: Sequence[Evidence] = (),
        fix: str | None = None,
        claims: Mapping[str, int] | None = None,
        severity: Severity | None = None,
        remedy: Sequence[Edit] = (),
    ) -> Finding:
        """A finding of this rule with catalog defaults filled in. The hint is rendered from ``remedy`` when
        there is one (``fix`` is then refused: the text must say what the edits do); else it is ``fix``, else
        the rule's typical fix."""
        if remedy and fix is not None:
            raise ValueError(f"{self.id}: a finding with a remedy renders its hint from it; do not pass fix")
        return Finding(
            rule=self.id,
            title=title or self.info.title,
            service=ctx.service.name,
            severity=severity if severity is not None else self.info.severity,
            package=package,
            path=path,
            savings_bytes=max(0, savings_bytes),
            estimated=ctx.estimated if estimated is None else estimated,
            confidence=confidence,
            evidence=tuple(evidence),
            fix=describe_remedy(remedy) if remedy else (fix or self.info.fix),
            claims=dict(claims or {}),
            remedy=tuple(remedy),
        )


@functools.cache
def _info_of(rule: type[Rule]) -> RuleInfo:
    """One ``RuleInfo`` per rule class, so the catalog and ``rule.info`` are the same object."""
    return RuleInfo(
        id=rule.id,
        name=rule.name,
        title=rule.title,
        severity=rule.severity,
        description=rule.description,
        fix=rule.fix,
        default_enabled=rule.default_enabled,
        requires="--run" if rule.needs_run else None,
    )


def file_claims(paths: Iterable[str], ctx: RuleContext) -> dict[str, int]:
    """Claims for image paths, sized from the final tree (``file:<path>`` keys shared by every rule)."""
    if ctx.analysis is None:
        return {}
    tree = ctx.analysis.tree
    return {f"file:{path}": node.size for path in paths if (node := tree.get(path)) is not None}


def distribution_claims(dists: Iterable[Distribution], ctx: RuleContext) -> dict[str, int]:
    """Claims for everything some distributions own; estimated ones claim by name."""
    out: dict[str, int] = {}
    for dist in dists:
        if ctx.analysis is not None and dist.files:
            out.update(file_claims(dist.files, ctx))
        else:
            out[f"dist:{dist.name}"] = dist.size_bytes
    return out


class Span(TypedDict):
    """Where an edit applies, as every ``model.remedy`` edit records it (pass as ``**span``)."""

    file: str | None
    line: int
    end_line: int
    original: str


def requirement_span(req: DeclaredRequirement) -> Span:
    """The logical line declaring ``req`` (a requirements line, a pyproject entry, a RUN pip install)."""
    return Span(file=req.source_file, line=req.line, end_line=req.end_line or req.line, original=req.raw)


def instruction_span(dockerfile: Dockerfile | None, instruction: Instruction) -> Span:
    path = dockerfile.path if dockerfile else None
    return Span(file=path, line=instruction.start_line, end_line=instruction.end_line, original=instruction.original)


def install_span(service: Service, cmd: InstallCommand) -> Span:
    """The RUN instruction an install command came from (its exact text when the Dockerfile was parsed)."""
    dockerfile = service.dockerfile
    for stage in dockerfile.stages if dockerfile else ():
        for instruction in stage.instructions:
            if instruction.start_line == cmd.line:
                return instruction_span(dockerfile, instruction)
    path = dockerfile.path if dockerfile else service.dockerfile_path
    return Span(file=path, line=cmd.line, end_line=cmd.end_line or cmd.line, original="")


UNLOCATED = Span(file=None, line=0, end_line=0, original="")


def package_spans(ctx: RuleContext, package: str) -> list[Span]:
    """Where the service declares ``package`` (each declaration, in order), or one unlocated span when it is
    only installed (a dependency of something declared, or part of the base image)."""
    return [requirement_span(req) for req in ctx.service.requirements if req.name == package] or [UNLOCATED]

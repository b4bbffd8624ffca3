"""``verify``: prove the fixes on rebuilt images. Audit the before images, plan the fixes, build the after image
from a scratch copy with the edits, compare the two images, run the checks in the after image, and when one
fails, bisect the edits to the culprit, drop it and try again. ``write=True`` then writes the kept edits, all or
nothing (``fixes/transaction``), and only when every service passed.

Per service, the edits are built cumulatively in plan order (edit 1, 1+2, ... all), each build reusing the layers
of the one before, so every kept edit's measured saving is the size before it minus the size after it, and the
savings add up exactly to the before image's size minus the after image's. How the bisection works, and every
figure, is in docs/verify.md.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from deadweight.cache import LayerCache
from deadweight.config import Config
from deadweight.engine.client import Engine
from deadweight.errors import DeadweightError, UsageError
from deadweight.fixes.base import FixSettings
from deadweight.fixes.planner import plan_fixes
from deadweight.fixes.transaction import commit
from deadweight.fixes.workspace import Workspace
from deadweight.inventory.build import build_inventory
from deadweight.model.analysis import ImageAnalysis
from deadweight.model.audit import AuditReport, ServiceResult
from deadweight.model.plan import FixPlan, PlannedFix
from deadweight.model.project import Project, Service
from deadweight.model.verification import (
    BuildRecord,
    CheckResult,
    EditOutcome,
    ServiceVerification,
    VerifyReport,
)
from deadweight.pipeline.analyze import analyze_image
from deadweight.pipeline.audit import AuditOptions, audit_config, run_audit
from deadweight.pipeline.images import choose_images, find_image
from deadweight.project.loader import load_project
from deadweight.pypi.store import default_cache_dir
from deadweight.sources.base import SourceOptions
from deadweight.sources.resolve import open_source
from deadweight.usage.service import audit_capture, capture_key, image_groups
from deadweight.verify.bisect import find_culprits
from deadweight.verify.build import BuildRequest, build_once, build_timed, request_for, tag_for
from deadweight.verify.checks import CHECK_IDS, CheckInput, run_checks
from deadweight.verify.compare import CompressedSizes, ImageReading, compare
from deadweight.verify.modules import expected_frameworks, modules_to_import
from deadweight.verify.scratch import Scratch

__all__ = ["CHECK_IDS", "DEFAULT_TAG_PREFIX", "verify"]

#: Images verify builds are tagged ``PREFIX/SERVICE:WHAT``.
DEFAULT_TAG_PREFIX = "deadweight-verify"

Progress = Callable[[str, str], None]
Subset = tuple[int, ...]  # indices into a service's edits, in plan order


def verify(
    path: str | Path = ".",
    *,
    config: Config | None = None,
    images: Mapping[str, str] | None = None,
    write: bool = False,
    network: str | None = None,
    checks: Collection[str] = (),
    progress: Progress | None = None,
    tag_prefix: str = DEFAULT_TAG_PREFIX,
) -> VerifyReport:
    """Verify the fixes of the service or fleet at ``path``, as ``deadweight verify PATH`` does.

    ``images``: service -> reference of the before image (else found in the local engine by its compose name,
    else built from the user's files). ``network``: the network of the builds and of the containers the checks
    start (``--network``; default: the engine's default for builds, the settings' ``[run] network``, none, for
    the checks). ``checks``: only these check ids (default: all). ``write``: write the kept edits when every
    service passed. ``progress(service, what)`` is called at every step. ``tag_prefix``: the images built are
    tagged ``PREFIX/SERVICE:...``.

    Raises ``UsageError`` for a bad path, unknown check or service, ``SourceError`` when the engine cannot be
    reached, ``FixError`` when ``write`` could not write; a service that could not be built or checked gets a row
    with ``error`` and the others go on.
    """
    if not Path(path).exists():
        raise UsageError(f"{path}: no such file or directory")
    unknown = sorted(set(checks) - set(CHECK_IDS))
    if unknown:
        raise UsageError(f"--check {', '.join(unknown)}: no such check (checks: {', '.join(CHECK_IDS)})")
    if not re.fullmatch(r"[a-z0-9]+([._/-][a-z0-9]+)*", tag_prefix):
        raise UsageError(f"--tag-prefix {tag_prefix!r}: not a repository name (lower case, digits, . _ - /)")
    settings = config if config is not None else audit_config(path)
    project = load_project(str(path))
    names = [s.name for s in project.services]
    chosen = choose_images(images or {}, names)
    strays = sorted(set(chosen) - set(names))
    if strays:
        raise UsageError(f"--image names unknown services: {', '.join(strays)} (services: {', '.join(names)})")
    cache_root = Path(settings.cache_dir) if settings.cache_dir else default_cache_dir()
    engine = Engine()
    engine.ping()
    cache = LayerCache(cache_root / "layers.sqlite")
    try:
        with Scratch(project.root) as scratch:
            run = _Run(
                path=Path(path),
                project=project,
                settings=settings,
                engine=engine,
                cache=cache,
                scratch=scratch,
                network=network,
                checks=tuple(checks),
                progress=progress,
                tag_prefix=tag_prefix,
            )
            return run.verify(chosen, write=write)
    finally:
        cache.close()
        engine.close()


@dataclass
class _Before:
    ref: str | None  # what the audit reads ("docker:TAG", an archive ...)
    local: str | None  # the same image as a tag of the local engine (for the checks), when it is one
    record: BuildRecord | None
    error: str | None = None


@dataclass
class _Run:
    """One verification: the shared engine, layer cache, scratch copy and measurements."""

    path: Path
    project: Project
    settings: Config
    engine: Engine
    cache: LayerCache
    scratch: Scratch
    network: str | None
    checks: tuple[str, ...]
    progress: Progress | None
    tag_prefix: str
    compressed: CompressedSizes = field(default_factory=CompressedSizes)
    sizes: dict[str, int] = field(default_factory=dict)  # local tag -> size as the reader counts it
    temporary: list[str] = field(default_factory=list)  # tags removed at the end
    warnings: list[str] = field(default_factory=list)
    report: AuditReport | None = None
    plan: FixPlan | None = None

    def say(self, service: str, what: str) -> None:
        if self.progress is not None:
            self.progress(service, what)

    @property
    def fix_settings(self) -> FixSettings:
        return FixSettings(cpu_index_url=self.settings.torch_cpu_index, offline=self.settings.offline)

    # -- the run ----------------------------------------------------------------------------

    def verify(self, chosen: Mapping[str, str], *, write: bool) -> VerifyReport:
        befores = {s.name: self.before(s, chosen) for s in self.project.services}
        refs = {name: b.ref for name, b in befores.items() if b.ref is not None}
        report = run_audit(
            str(self.path),
            self.settings,
            AuditOptions(images=refs),
            lambda name: self.say(name, "auditing"),
            project=self.project,
        )
        plan, _ = plan_fixes(report, self.project, self.fix_settings)
        self.report, self.plan = report, plan
        results = {r.name: r for r in report.services}
        groups = image_groups(self.project.services)
        verified = []
        try:
            for service in self.project.services:
                verified.append(
                    self.service(service, befores[service.name], results[service.name], groups[service.name])
                )
        finally:
            for tag in self.temporary:
                self.engine.remove_image(tag)
        out = VerifyReport(
            root=self.project.root,
            audit=report,
            plan=plan,
            services=tuple(verified),
            warnings=(*report.warnings, *self.warnings),
        )
        out = replace(
            out, unique_before_bytes=self.unique("before", verified), unique_after_bytes=self.unique("after", verified)
        )
        return self.written(out, write=write)

    def before(self, service: Service, chosen: Mapping[str, str]) -> _Before:
        """The before image: given, found in the engine, or built (cold, then warm) from the user's files."""
        if service.load_error:
            return _Before(None, None, None, error=service.load_error)
        given = chosen.get(service.name) or find_image(service, {})
        if given is not None:
            local = given[len("docker:") :] if given.startswith("docker:") else None
            return _Before(
                given, local, BuildRecord(image=given, cold_seconds=None, warm_seconds=None, builder="given")
            )
        tag = tag_for(self.tag_prefix, service.name, "before")
        try:
            request = request_for(service, network=self.network)
            self.say(service.name, "building before (cold, then warm)")
            record = build_timed(self.engine, request, tag)
        except DeadweightError as exc:
            return _Before(None, None, None, error=str(exc))
        return _Before(f"docker:{tag}", tag, record)

    def written(self, report: VerifyReport, *, write: bool) -> VerifyReport:
        """The kept edits of every service, re-planned together from the original files: the files they change,
        and with ``write`` (and every service passed) those files written, all or nothing."""
        assert self.report is not None
        kept = [o.fix for s in report.services for o in s.edits if o.status == "kept"]
        if not kept:
            return report
        plan, workspace = self.replan(kept, self.project)
        files = plan.changed_files
        if not write:
            return replace(report, files=files)
        if not report.passed:
            failed = ", ".join(s.service for s in report.services if not s.passed)
            return replace(
                report, files=files, warnings=(*report.warnings, f"nothing written: {failed} did not pass its checks")
            )
        commit(workspace)
        return replace(report, files=files, written=True)

    def replan(self, fixes: Collection[PlannedFix], project: Project) -> tuple[FixPlan, Workspace]:
        """The plan of exactly ``fixes``' findings, made afresh on ``project``'s files: a subset of the fixes
        cannot be cherry-picked from the full plan, whose steps build on each other."""
        assert self.report is not None
        keys = {_key(f.service, f.rule, f.package, f.path) for f in fixes}
        services = tuple(
            replace(r, findings=tuple(f for f in r.findings if _key(f.service, f.rule, f.package, f.path) in keys))
            for r in self.report.services
        )
        return plan_fixes(replace(self.report, services=services), project, self.fix_settings)

    # -- one service ------------------------------------------------------------------------

    def service(
        self, service: Service, before: _Before, result: ServiceResult, sharing: Sequence[Service]
    ) -> ServiceVerification:
        assert self.plan is not None
        edits = tuple(f for f in self.plan.fixes if f.service == service.name and f.status == "planned" and f.changed)
        error = before.error or result.error
        if error is not None or before.ref is None:
            return _not_built(service.name, before.record, edits, error or f"{service.name}: no image to verify")
        if not edits and not self.checks:
            return ServiceVerification(service.name, before.record, None, None)  # nothing to verify
        try:
            return _Service(self, service, before=before, result=result, edits=edits, sharing=sharing).verify()
        except DeadweightError as exc:
            return _not_built(service.name, before.record, edits, str(exc))

    def read(self, ref: str, *, dead_weight: int, findings: int) -> ImageReading:
        """``ref`` through deadweight's reader (the audit's capture, so its layer cache answers) with the
        compressed size of each layer."""
        analysis = self._analysis(ref)
        inventory = build_inventory(analysis.tree, analysis.image_config)
        compressed = self.compressed.of(lambda: open_source(ref, SourceOptions()), analysis)
        if ref.startswith("docker:"):
            self.sizes[ref[len("docker:") :]] = analysis.size_bytes
        return ImageReading(
            analysis=analysis,
            inventory=inventory,
            compressed=compressed,
            dead_weight_bytes=dead_weight,
            findings=findings,
        )

    def size(self, tag: str) -> int:
        """The size of local image ``tag`` as the reader counts it (the comparison's own measure)."""
        if tag not in self.sizes:
            self.sizes[tag] = self._analysis(f"docker:{tag}").size_bytes
        return self.sizes[tag]

    def _analysis(self, ref: str) -> ImageAnalysis:
        """``ref`` read as the audit reads it (its capture, so the layer cache answers)."""
        with open_source(ref, SourceOptions()) as source:
            image_config = source.config()
            return analyze_image(
                source,
                want=audit_capture(image_config),
                cache=self.cache,
                capture_key=capture_key(image_config),
                efficiency=False,
            )

    def unique(self, which: str, verified: Sequence[ServiceVerification]) -> int:
        """Fleet bytes with every distinct layer counted once (a service not rebuilt counts its before image)."""
        assert self.report is not None
        layers: dict[str, int] = {}
        by_name = {r.name: r for r in self.report.services}
        for sv in verified:
            result = by_name.get(sv.service)
            if which == "after" and sv.comparison is not None and sv.after_audit is not None:
                layers.update(dict(sv.after_audit.layers))
            elif result is not None:
                layers.update(dict(result.layers))
        return sum(layers.values())


class _Service:
    """The verification of one service's edits: builds by subset, checks, bisection, measured savings."""

    def __init__(
        self,
        run: _Run,
        service: Service,
        *,
        before: _Before,
        result: ServiceResult,
        edits: tuple[PlannedFix, ...],
        sharing: Sequence[Service],
    ) -> None:
        self.run = run
        self.service = service
        self.name = service.name
        self.before = before
        self.result = result
        self.edits = edits
        self.sharing = sharing
        self.tags: dict[Subset, str] = {}
        self.services: dict[Subset, Service] = {}
        self.results: dict[Subset, tuple[CheckResult, ...]] = {}
        self.check_seconds = 0.0
        self.builds = 0  # images built for this service so far
        self.modules: tuple[str, ...] = ()
        self.frameworks: Mapping[str, str] = {}

    def say(self, what: str) -> None:
        self.run.say(self.name, what)

    def verify(self) -> ServiceVerification:
        assert self.before.ref is not None
        self.say("reading the before image")
        before = self.run.read(
            self.before.ref, dead_weight=self.result.dead_weight_bytes, findings=len(self.result.findings)
        )
        self.modules = self.importable(modules_to_import(self.service, before.analysis, before.inventory, self.sharing))
        self.frameworks = expected_frameworks(before.inventory, {f.rule for f in self.edits})
        if not self.edits:  # checks asked for, nothing to change: they run in the image as it is
            checks = self.checks((), self.base_tag())
            return ServiceVerification(
                self.name, self.before.record, None, None, checks=checks, verify_seconds=self.check_seconds
            )
        full: Subset = tuple(range(len(self.edits)))
        self.say(f"building after, {len(self.edits)} edits (cold, then warm)")
        after_record = self.build(full, timed=True)
        for k in range(1, len(full)):
            self.say(f"building edits 1..{k} of {len(full)} (cached layers)")
            self.build(full[:k])
        failing = self.test(full)
        kept, dropped, bisect_builds = full, {}, 0
        if failing:
            self.say(f"bisecting {len(full)} edits")
            built = self.builds
            baseline = self.test(())
            bisection = find_culprits(
                full, self.test, baseline=baseline, known={s: self.failed(s) for s in self.results}
            )
            kept, bisect_builds = bisection.kept, self.builds - built
            dropped = {c.edit: c.broke for c in bisection.culprits}
            if kept != full:
                self.say(f"building after without {len(dropped)} dropped edit(s) (cold, then warm)")
                after_record = self.build(kept, timed=True) if kept else None
                self.results.pop(kept, None)  # the cold rebuild is a new image: it is checked again below
                for k in range(1, len(kept)):
                    self.build(kept[:k])
        final_tag = self.tags[kept] if kept else self.base_tag()
        final_checks = self.results.get(kept) or self.checks(kept, final_tag)
        self.say("auditing the after image")
        self.run.scratch.apply(self.texts(kept))
        after_audit = self.audit_after(final_tag, self.services.get(kept, self.service))
        after = self.run.read(
            f"docker:{final_tag}", dead_weight=after_audit.dead_weight_bytes, findings=len(after_audit.findings)
        )
        comparison = compare(before, after)
        outcomes = self.outcomes(kept, dropped, before.analysis.size_bytes)
        return ServiceVerification(
            self.name,
            self.before.record,
            after_record,
            comparison,
            checks=final_checks,
            edits=outcomes,
            bisect_builds=bisect_builds,
            verify_seconds=round(self.check_seconds, 3),
            after_audit=after_audit,
        )

    def importable(self, modules: tuple[str, ...]) -> tuple[str, ...]:
        """``modules`` less those that do not import in the before image either (``torchgen`` wants PyYAML,
        which torch does not require): the after image must import what the before image imports, and an import
        that never worked is no edit's fault. Said in the report's warnings."""
        if not modules or self.before.local is None or (self.run.checks and "imports" not in self.run.checks):
            return modules
        self.say("importing the modules in the before image")
        target = CheckInput(
            service=self.service,
            after_image=self.before.local,
            before_image=None,
            modules=modules,
            frameworks={},
            project_dir=self.run.scratch.root,
            network=self.run.network or self.run.settings.run.network,
        )
        start = time.monotonic()
        results = run_checks(self.run.engine, target, only=("imports",))
        self.check_seconds += time.monotonic() - start
        broken = {str(m) for r in results for m in (r.data.get("failed") or ())}
        if broken:
            self.run.warnings.append(
                f"{self.name}: {', '.join(sorted(broken))} do not import in the before image "
                "either: not checked in the after image"
            )
        return tuple(m for m in modules if m not in broken)

    # -- building subsets -------------------------------------------------------------------

    def texts(self, subset: Subset) -> dict[str, str | None]:
        """The files as ``subset``'s edits leave them. Each fix's steps are relative to the text the fixes
        before it left, so they are applied in order only while every step starts from exactly the text in
        hand; otherwise (an edit left out that touched the same file) the subset is planned afresh."""
        assert self.run.plan is not None
        originals = {f.path: f.before for f in self.run.plan.files}
        current: dict[str, str | None] = {}
        for index in subset:
            for change in self.edits[index].changes:
                have = current.get(change.path, originals.get(change.path))
                if have != change.before:
                    return self.replanned(subset)
                current[change.path] = change.after
        return current

    def replanned(self, subset: Subset) -> dict[str, str | None]:
        plan, _ = self.run.replan([self.edits[i] for i in subset], self.run.project)
        return {f.path: f.after for f in plan.files if f.before != f.after}

    def tag(self, subset: Subset) -> str:
        if len(subset) == len(self.edits):
            return tag_for(self.run.tag_prefix, self.name, "after")
        label = "edits-" + "-".join(str(i + 1) for i in subset)
        if len(label) > 60:
            label = "edits-" + hashlib.sha256(label.encode()).hexdigest()[:12]
        return tag_for(self.run.tag_prefix, self.name, label)

    def request(self, subset: Subset) -> BuildRequest:
        """Put ``subset``'s texts in the scratch copy and say how to build the service from it (the compose file
        as edited: a fix may change the service's own settings)."""
        self.run.scratch.apply(self.texts(subset))
        edited = load_project(str(self.run.scratch.path(self.run.path.resolve())))
        service = edited.service(self.name) or self.service
        if service.load_error:
            raise DeadweightError(f"{self.name}: the edited files do not load: {service.load_error}")
        self.services[subset] = service
        original = request_for(self.service, network=self.run.network, scratch=self.run.scratch)
        return replace(original, buildargs=dict(service.build_args), target=service.build_target)

    def build(self, subset: Subset, *, timed: bool = False) -> BuildRecord | None:
        """Build ``subset`` (once; ``timed``: cold then warm, for the record)."""
        if not subset:
            self.base_tag()
            return None
        if subset in self.tags and not timed:
            return None
        tag = self.tag(subset)
        request = self.request(subset)
        self.builds += 1
        self.run.sizes.pop(tag, None)  # a rebuilt tag is measured again
        if timed:
            record = build_timed(self.run.engine, request, tag)
        else:
            output = build_once(self.run.engine, request, tag)
            record = BuildRecord(image=tag, cold_seconds=None, warm_seconds=output.seconds, log=output.log)
        self.tags[subset] = tag
        if len(subset) != len(self.edits) and tag not in self.run.temporary:
            self.run.temporary.append(tag)
        return record

    def base_tag(self) -> str:
        """The image with no edit at all: the before image when it is in the local engine, else built."""
        if () not in self.tags:
            if self.before.local is not None:
                self.tags[()] = self.before.local
            else:
                tag = tag_for(self.run.tag_prefix, self.name, "original")
                self.say("building the original files (the before image is not in the local engine)")
                build_once(self.run.engine, self.request(()), tag)
                self.builds += 1
                self.tags[()] = tag
                self.run.temporary.append(tag)
        self.services.setdefault((), self.service)
        return self.tags[()]

    # -- checking ---------------------------------------------------------------------------

    def checks(self, subset: Subset, tag: str) -> tuple[CheckResult, ...]:
        if subset not in self.results:
            self.say(f"checking {'the before image' if not subset else self.describe(subset)}")
            target = CheckInput(
                service=self.services.get(subset, self.service),
                after_image=tag,
                before_image=self.before.local if subset else None,
                modules=self.modules,
                frameworks=self.frameworks if subset else {},
                project_dir=self.run.scratch.root,
                network=self.run.network or self.run.settings.run.network,
                start_timeout=self.run.settings.run.timeout_seconds,
            )
            start = time.monotonic()
            self.results[subset] = run_checks(self.run.engine, target, only=self.run.checks)
            self.check_seconds += time.monotonic() - start
        return self.results[subset]

    def failed(self, subset: Subset) -> frozenset[str]:
        return frozenset(c.check for c in self.results[subset] if c.failed)

    def test(self, subset: Subset) -> frozenset[str]:
        """Build ``subset`` and return the checks that fail in it."""
        if subset:
            self.build(subset)
            tag = self.tags[subset]
        else:
            tag = self.base_tag()
        self.checks(subset, tag)
        return self.failed(subset)

    def describe(self, subset: Subset) -> str:
        if len(subset) == len(self.edits):
            return f"the after image ({len(subset)} edits)"
        return "edits " + ", ".join(str(i + 1) for i in subset)

    # -- results ----------------------------------------------------------------------------

    def audit_after(self, tag: str, service: Service) -> ServiceResult:
        edited = load_project(str(self.run.scratch.path(self.run.path.resolve())))
        project = replace(edited, services=tuple(s for s in edited.services if s.name == self.name) or (service,))
        report = run_audit(
            str(self.run.scratch.root),
            self.run.settings,
            AuditOptions(images={self.name: f"docker:{tag}"}),
            project=project,
        )
        return report.services[0]

    def outcomes(
        self, kept: Subset, dropped: Mapping[int, frozenset[str]], before_size: int
    ) -> tuple[EditOutcome, ...]:
        """Per edit: kept with its measured saving (size with the kept edits before it minus size with it too:
        the savings telescope to the before size minus the after size), or dropped with the checks it broke."""
        savings: dict[int, int] = {}
        previous = before_size
        for k, index in enumerate(kept, start=1):
            size = self.run.size(self.tags[kept[:k]])
            savings[index] = previous - size
            previous = size
        out = []
        for index, fix in enumerate(self.edits):
            if index in savings:
                out.append(EditOutcome(fix, "kept", measured_savings_bytes=savings[index]))
            elif index in dropped:
                broke = tuple(sorted(dropped[index]))
                out.append(EditOutcome(fix, "dropped", broke=broke, reason=self.reason(index, dropped[index])))
            else:
                out.append(EditOutcome(fix, "not-built"))
        return tuple(out)

    def reason(self, index: int, broke: frozenset[str]) -> str:
        """One line: the rule's edit, and the first failure it caused, as the check worded it."""
        fix = self.edits[index]
        what = f"{fix.rule}'s edit ({fix.package or fix.path or fix.title})"
        prefix = next((s for s in self.results if s and s[-1] == index and self.failed(s) & broke), None)
        results = self.results.get(prefix, ()) if prefix is not None else ()
        first = next((c for c in results if c.failed and c.check in broke), None)
        if first is None:
            return f"{what} made the {', '.join(sorted(broke))} check(s) fail"
        return f"{what}: the {first.check} check fails: {first.detail or first.name}"


def _key(service: str, rule: str, package: str | None, path: str | None) -> tuple[str, str, str, str]:
    return (service, rule, package or "", path or "")


def _not_built(name: str, record: BuildRecord | None, edits: Sequence[PlannedFix], error: str) -> ServiceVerification:
    """A service that could not be verified: its edits not built, and why."""
    return ServiceVerification(name, record, None, None, edits=tuple(EditOutcome(f, "not-built") for f in edits),
                               error=error)

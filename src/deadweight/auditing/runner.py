"""Audit a service or a fleet: one ``ServiceResult`` per service, fleet totals, nothing printed.

A service that cannot be audited (its Dockerfile does not parse, its image is missing, its build fails)
gets a row saying so and the others are still audited; the CLI turns such rows into exit code 3.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from deadweight.analysis import analyze_image
from deadweight.auditing.cpu_builds import torch_cpu_build
from deadweight.auditing.images import build_image, find_image
from deadweight.auditing.memory import observe_memory
from deadweight.auditing.musl import musl_gaps
from deadweight.auditing.static import estimate_inventory, index_urls, target_of
from deadweight.auditing.usage import audit_capture, capture_key, service_verdicts
from deadweight.cache import LayerCache
from deadweight.config import Config
from deadweight.errors import DeadweightError, UsageError
from deadweight.inventory.build import build_inventory
from deadweight.model.analysis import ImageAnalysis
from deadweight.model.audit import AuditReport, AuditTotals, ServiceResult, SkippedRule
from deadweight.model.finding import Finding, deduplicated_savings
from deadweight.model.inventory import Inventory
from deadweight.model.project import Project, Service
from deadweight.project.loader import load_project
from deadweight.pypi.store import JsonStore, default_cache_dir
from deadweight.rules.base import CpuBuild, RuleContext
from deadweight.rules.dw101_cuda_torch import GPU_BUILDS
from deadweight.rules.dw601_base_image import BASE_SIZES, python_base
from deadweight.rules.registry import ALL_RULES
from deadweight.sources.base import SourceOptions
from deadweight.sources.resolve import open_source
from deadweight.usage.device import decide_device

Progress = Callable[[str], None]


@dataclass(frozen=True)
class AuditOptions:
    images: dict[str, str] = field(default_factory=dict)  # service -> image ref
    build: bool = False
    run: bool = False
    network: str | None = None  # for --run; None = the config's (default "none")
    verify: bool = False
    platform: str | None = None
    fast_path: bool = True  # docker: read the engine's storage directly when it can


def run_audit(
    path: str,
    config: Config,
    options: AuditOptions,
    progress: Progress | None = None,
    *,
    project: Project | None = None,
) -> AuditReport:
    """Audit every service of the project at ``path`` (or of ``project``, when the caller loaded it)."""
    project = project if project is not None else load_project(path)
    if options.images:
        names = [s.name for s in project.services]
        unknown = sorted(set(options.images) - set(names))
        if unknown:
            raise UsageError(f"--image names unknown services: {', '.join(unknown)} (services: {', '.join(names)})")
    cache_root = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    store = JsonStore(cache_root / "index")
    cache = LayerCache(cache_root / "layers.sqlite")
    results = []
    try:
        for service in project.services:
            if progress is not None:
                progress(service.name)
            results.append(_audit_service(service, config, options, store, cache))
    finally:
        cache.close()
    return AuditReport(
        root=project.root,
        services=tuple(results),
        totals=fleet_totals(results),
        cost=config.cost,
        offline=config.offline,
        warnings=tuple(project.warnings),
    )


def fleet_totals(results: list[ServiceResult]) -> AuditTotals:
    """Plain sums, and the bytes of distinct layers (a base shared by five services is stored once)."""
    unique: dict[str, int] = {}
    size = 0
    for result in results:
        size += result.size_bytes or 0
        if result.layers:
            unique.update(dict(result.layers))
        elif result.size_bytes:
            unique[f"service:{result.name}"] = result.size_bytes
    return AuditTotals(
        size_bytes=size,
        dead_weight_bytes=sum(r.dead_weight_bytes for r in results),
        unique_layer_bytes=sum(unique.values()),
    )


def _audit_service(
    service: Service, config: Config, options: AuditOptions, store: JsonStore, cache: LayerCache
) -> ServiceResult:
    if service.load_error:
        return ServiceResult(service.name, None, "static", None, 0, error=service.load_error)
    ref: str | None = None
    try:
        ref = build_image(service, network=options.network) if options.build else find_image(service, options.images)
        if ref is not None:
            return _audit_image(service, ref, config, options, store=store, cache=cache)
        return _audit_static(service, config, store)
    except DeadweightError as exc:
        return ServiceResult(service.name, ref, "image" if ref else "static", None, 0, error=str(exc))


def _audit_image(
    service: Service, ref: str, config: Config, options: AuditOptions, *, store: JsonStore, cache: LayerCache
) -> ServiceResult:
    source_options = SourceOptions(platform=options.platform, verify=options.verify, fast_path=options.fast_path)
    with open_source(ref, source_options) as source:
        config_ = source.config()
        analysis = analyze_image(source, want=audit_capture(config_), cache=cache,
                                 capture_key=capture_key(config_), efficiency=False)
    inventory = build_inventory(analysis.tree, analysis.config)
    peak: int | None = None
    peak_evidence: str | None = None
    if options.run:
        peak, peak_evidence = observe_memory(service, ref, config, network=options.network)
    findings, skipped, warnings = _evaluate(
        service, config, store, analysis=analysis, inventory=inventory, estimated=False,
        memory=(peak, peak_evidence) if options.run else None,
    )
    return ServiceResult(
        name=service.name,
        image=ref,
        mode="image",
        size_bytes=analysis.size_bytes,
        dead_weight_bytes=deduplicated_savings(findings),
        findings=tuple(sorted(findings, key=Finding.sort_key)),
        skipped=tuple(skipped),
        layers=tuple((layer.diff_id or f"{ref}#{layer.index}", layer.size_bytes) for layer in analysis.layers),
        warnings=tuple(list(inventory.warnings) + warnings),
    )


def _audit_static(service: Service, config: Config, store: JsonStore) -> ServiceResult:
    inventory, estimate_warnings = estimate_inventory(service, store, offline=config.offline)
    findings, skipped, warnings = _evaluate(service, config, store, analysis=None, inventory=inventory,
                                            estimated=True, memory=None)
    packages = sum(d.size_bytes for d in inventory.distributions())
    parsed = python_base(service)
    base = BASE_SIZES.get(parsed[1], 0) if parsed else 0
    notes = [*estimate_warnings, *warnings]
    if config.offline:
        notes.append(f"{service.name}: offline, sizes come from the cache only")
    return ServiceResult(
        name=service.name,
        image=None,
        mode="static",
        size_bytes=(base + packages) or None,
        dead_weight_bytes=deduplicated_savings(findings),
        findings=tuple(sorted(findings, key=Finding.sort_key)),
        skipped=tuple(skipped),
        warnings=tuple(notes),
    )


def _evaluate(
    service: Service,
    config: Config,
    store: JsonStore,
    *,
    analysis: ImageAnalysis | None,
    inventory: Inventory,
    estimated: bool,
    memory: tuple[int | None, str | None] | None,
) -> tuple[list[Finding], list[SkippedRule], list[str]]:
    dists = inventory.distributions()
    joined = service_verdicts(service, inventory=inventory, config=analysis.config if analysis else None,
                              tree=analysis.tree if analysis else None)
    usage, verdicts, declared = joined.usage, joined.verdicts, joined.declared
    device = decide_device(usage.evidence, uses_gpu_framework=usage.uses_gpu_framework, complete=usage.complete)
    warnings: list[str] = []
    cpu_builds: dict[str, CpuBuild] = {}
    target = target_of(service)
    torch = next((d for d in dists if d.name == "torch"), None)
    if torch is not None and torch.build in GPU_BUILDS:
        python = _python_of(inventory, torch.environment) or target.python
        platform = analysis.config.platform if analysis else target.platform
        cpu, why = torch_cpu_build(torch.version, python, platform, config.torch_cpu_index, store,
                                   offline=config.offline)
        cpu_builds["torch"] = cpu
        if why:
            warnings.append(f"{service.name}: {why}")
    gaps = None
    base = python_base(service)
    if config.rule_enabled("DW601") and base is not None and base[1] == "full":
        gaps = musl_gaps(dists, target.python, target.platform, index_urls(service), store, offline=config.offline)
    ctx = RuleContext(
        service=service,
        config=config,
        analysis=analysis,
        inventory=inventory,
        estimated=estimated,
        verdicts=verdicts,
        declared=declared,
        device=device,
        scan_complete=usage.complete,
        shipped=service.shipped,
        cpu_builds=cpu_builds,
        gui_calls=usage.gui_calls,
        musl_gaps=gaps,
        memory_peak_bytes=memory[0] if memory else None,
        memory_evidence=memory[1] if memory else None,
    )
    findings: list[Finding] = []
    skipped: list[SkippedRule] = []
    for rule in ALL_RULES:
        if not config.rule_enabled(rule.id, default_on=rule.info.default_enabled):
            continue
        if rule.needs_run and memory is None:
            skipped.append(SkippedRule(rule.id, "needs --run (observed memory)"))
            continue
        if rule.needs_run and memory is not None and (memory[0] is None or service.memory_limit_bytes is None):
            reason = "no memory limit set" if service.memory_limit_bytes is None else "memory could not be observed"
            skipped.append(SkippedRule(rule.id, reason))
            continue
        if rule.needs_image and analysis is None:
            skipped.append(SkippedRule(rule.id, "needs an image (static audit)"))
            continue
        findings += [f for f in rule.evaluate(ctx) if not config.package_ignored(f.rule, f.package)]
    return findings, skipped, warnings


def _python_of(inventory: Inventory, environment: str) -> str | None:
    for env in inventory.environments:
        if env.path == environment and env.python_version:
            return ".".join(env.python_version.split(".")[:2])
    return None

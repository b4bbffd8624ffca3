"""``audit``: a service or a fleet, one ``ServiceResult`` per service, fleet totals, nothing printed.

A service that cannot be audited (its Dockerfile does not parse, its image is missing, its build fails)
gets a row saying so, with the error's kind, and the others are still audited; the CLI turns such rows
into exit code 2 or 3. Errors about the whole run (no such path, bad options, an unparseable compose
file) are raised as ``DeadweightError`` subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from deadweight.cache import LayerCache
from deadweight.config import Config, deadweight_table, validate_fail_on, validate_rule_list
from deadweight.engine.client import Engine
from deadweight.engine.memory import observe_memory
from deadweight.errors import DeadweightError, UsageError
from deadweight.guard.config import GuardConfig, guarded_config
from deadweight.inventory.build import build_inventory
from deadweight.model.analysis import ImageAnalysis
from deadweight.model.audit import AuditReport, AuditTotals, MemoryObservation, ServiceResult, SkippedRule
from deadweight.model.finding import Finding, deduplicated_savings
from deadweight.model.inventory import CpuBuild, Inventory
from deadweight.model.project import Project, Service
from deadweight.pipeline.analyze import analyze_image
from deadweight.pipeline.images import build_image, choose_images, find_image, image_only, registry_image
from deadweight.pipeline.static import estimate_inventory, index_urls, target_of
from deadweight.project.indexes import torch_index
from deadweight.project.loader import load_project
from deadweight.project.stages import non_python_target
from deadweight.pypi.cpu_builds import torch_cpu_build
from deadweight.pypi.musl import musl_gaps
from deadweight.pypi.store import JsonStore, default_cache_dir
from deadweight.rules.base import RuleContext
from deadweight.rules.dw101_cuda_torch import GPU_BUILDS
from deadweight.rules.dw601_base_image import BASE_SIZES, python_base
from deadweight.rules.engine import evaluate_all
from deadweight.sources.base import SourceOptions
from deadweight.sources.resolve import open_source
from deadweight.usage.gpu import service_device
from deadweight.usage.service import audit_capture, capture_key, image_groups, service_verdicts

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


def _split(values: str | Sequence[str]) -> tuple[str, ...]:
    items = (values,) if isinstance(values, str) else values
    return tuple(v.strip() for value in items for v in value.split(",") if v.strip())


def audit_config(
    path: str | Path = ".",
    *,
    config: Config | None = None,
    config_file: str | Path | None = None,
    fail_on: str | Sequence[str] = (),
    select: str | Sequence[str] = (),
    ignore: str | Sequence[str] = (),
    offline: bool = False,
    torch_cpu_index: str | None = None,
    deployment_gpu: str | None = None,
) -> Config:
    """Defaults < [tool.deadweight] / .deadweight.toml (or ``config_file``, or ``config``) < these options.

    Rule lists and severities may be comma-separated, as on the command line. Raises ``ConfigError`` /
    ``UsageError`` for unknown keys or values, the guard table's included (see ``audit_settings``).
    """
    return audit_settings(path, config=config, config_file=config_file, fail_on=fail_on, select=select,
                          ignore=ignore, offline=offline, torch_cpu_index=torch_cpu_index,
                          deployment_gpu=deployment_gpu)[0]


def audit_settings(
    path: str | Path = ".",
    *,
    config: Config | None = None,
    config_file: str | Path | None = None,
    fail_on: str | Sequence[str] = (),
    select: str | Sequence[str] = (),
    ignore: str | Sequence[str] = (),
    offline: bool = False,
    torch_cpu_index: str | None = None,
    deployment_gpu: str | None = None,
) -> tuple[Config, GuardConfig]:
    """``audit_config``'s settings and the same file's guard table, each read once: a misspelt budget key is
    an error for ``audit`` too, and ``guard`` uses the table it validated. With ``config`` given, no file is
    read and the guard table is empty."""
    budgets = GuardConfig()
    if config is None:
        start = Path(path)
        found = deadweight_table(start if start.exists() else None, Path(config_file) if config_file else None)
        config, budgets = (Config(), GuardConfig()) if found is None else guarded_config(*found)
    overrides: dict[str, Any] = {}
    if _split(fail_on):
        overrides["fail_on"] = validate_fail_on(_split(fail_on), "--fail-on")
    if _split(select):
        overrides["select"] = validate_rule_list(_split(select), "select", "--select")
    if _split(ignore):
        overrides["ignore"] = config.ignore + validate_rule_list(_split(ignore), "ignore", "--ignore")
    if offline:
        overrides["offline"] = True
    if torch_cpu_index:
        overrides["torch_cpu_index"] = torch_cpu_index
    if deployment_gpu:
        overrides["deployment_gpu"] = deployment_gpu
    return config.with_overrides(**overrides), budgets


def audit(
    path: str | Path = ".",
    *,
    images: str | Sequence[str] | Mapping[str, str] = (),
    build: bool = False,
    run: bool = False,
    network: str | None = None,
    platform: str | None = None,
    verify: bool = False,
    fast_path: bool = True,
    config: Config | None = None,
    config_file: str | Path | None = None,
    fail_on: str | Sequence[str] = (),
    select: str | Sequence[str] = (),
    ignore: str | Sequence[str] = (),
    offline: bool = False,
    torch_cpu_index: str | None = None,
    deployment_gpu: str | None = None,
    dockerfile: str | Path | None = None,
    context: str | Path | None = None,
    progress: Progress | None = None,
) -> AuditReport:
    """Audit the service or compose fleet at ``path``, as ``deadweight audit PATH`` does.

    ``images``: the image of the one service (``"docker-archive:app.tar"``), ``SERVICE=REF`` strings, or
    a mapping service -> reference; services without one are looked up in the local engine by their
    compose name, else audited statically. ``fast_path=False`` streams ``docker save`` instead of reading a
    local engine's storage. ``build``/``run``/``network``/``platform``/``verify`` and the
    settings (``config_file`` or ``config``, then ``fail_on``, ``select``, ``ignore``, ``offline``,
    ``torch_cpu_index``, ``deployment_gpu``) mean what the CLI's options of the same name mean; so do
    ``dockerfile`` and ``context`` (one service built from that Dockerfile and context, ``load_project``).
    ``progress(service_name)`` is called as each service starts.

    Raises ``UsageError``/``ConfigError`` for bad arguments or settings and ``ParseError`` when the compose
    file cannot be read; a service that cannot be audited gets a row with ``error`` and ``error_kind``.
    """
    if not Path(path).exists():
        raise UsageError(f"{path}: no such file or directory")
    settings = audit_config(path, config=config, config_file=config_file, fail_on=fail_on, select=select,
                            ignore=ignore, offline=offline, torch_cpu_index=torch_cpu_index,
                            deployment_gpu=deployment_gpu)
    project = load_project(str(path), dockerfile=dockerfile, context=context)
    chosen = choose_images(images, [s.name for s in project.services])
    options = AuditOptions(images=chosen, build=build, run=run, network=network, verify=verify, platform=platform,
                           fast_path=fast_path)
    return run_audit(str(path), settings, options, progress, project=project)


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
    engine = Engine()  # connects only when a service is built or run
    results = []
    # Services that run one image (same build, or same image:) are judged on the union of their usage.
    groups = image_groups(project.services)
    try:
        for service in project.services:
            if progress is not None:
                progress(service.name)
            results.append(_audit_service(service, config, options, store=store, cache=cache, engine=engine,
                                          sharing=groups[service.name]))
    finally:
        cache.close()
        engine.close()
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
    service: Service, config: Config, options: AuditOptions, *, store: JsonStore, cache: LayerCache, engine: Engine,
    sharing: Sequence[Service] = (),
) -> ServiceResult:
    if service.load_error:
        return ServiceResult(service.name, None, "static", None, 0, error=service.load_error, error_kind="input")
    if (why := non_python_target(service)) is not None:
        return ServiceResult(service.name, None, "none", None, 0, not_audited=why)
    ref: str | None = None
    try:
        if options.build and not image_only(service):
            ref = build_image(service, engine, network=options.network)
        else:
            ref = find_image(service, options.images)
        if ref is None and image_only(service):
            ref, why = registry_image(service, offline=config.offline, platform=options.platform)
            if ref is None:
                return ServiceResult(service.name, None, "none", None, 0, not_audited=why)
        if ref is not None:
            return _audit_image(service, ref, config, options, store=store, cache=cache, engine=engine,
                                sharing=sharing)
        return _audit_static(service, config, store, sharing=sharing)
    except DeadweightError as exc:
        kind: Literal["usage", "input"] = "usage" if isinstance(exc, UsageError) else "input"
        return ServiceResult(service.name, ref, "image" if ref else "static", None, 0, error=str(exc), error_kind=kind)


def _audit_image(
    service: Service, ref: str, config: Config, options: AuditOptions, *, store: JsonStore, cache: LayerCache,
    engine: Engine, sharing: Sequence[Service] = (),
) -> ServiceResult:
    source_options = SourceOptions(platform=options.platform, verify=options.verify, fast_path=options.fast_path)
    with open_source(ref, source_options) as source:
        image_config = source.config()
        analysis = analyze_image(source, want=audit_capture(image_config), cache=cache,
                                 capture_key=capture_key(image_config), efficiency=False)
    inventory = build_inventory(analysis.tree, analysis.image_config)
    peak: int | None = None
    peak_evidence: str | None = None
    if options.run:
        peak, peak_evidence = observe_memory(engine, service, ref, seconds=config.run.timeout_seconds,
                                             network=options.network or config.run.network)
    findings, skipped, warnings = _evaluate(
        service, config, store, analysis=analysis, inventory=inventory, estimated=False,
        memory=(peak, peak_evidence) if options.run else None, sharing=sharing,
    )
    return ServiceResult(
        name=service.name,
        image=ref,
        mode="image",
        size_bytes=analysis.size_bytes,
        dead_weight_bytes=deduplicated_savings(findings),
        findings=tuple(sorted(findings, key=Finding.sort_key)),
        skipped=tuple(skipped),
        memory=MemoryObservation(peak, service.memory_limit_bytes, peak_evidence) if options.run else None,
        layers=tuple((layer.diff_id or f"{ref}#{layer.index}", layer.size_bytes) for layer in analysis.layers),
        warnings=tuple(dict.fromkeys([*service.warnings, *inventory.warnings, *warnings])),
    )


#: Rules whose static savings are bytes outside the Python packages the estimate sizes (OS packages, caches,
#: context files); their estimates are part of the estimated image size.
OUTSIDE_PACKAGES = frozenset({"DW301", "DW302", "DW303", "DW304", "DW401"})


def _audit_static(service: Service, config: Config, store: JsonStore, *, sharing: Sequence[Service] = ()
                  ) -> ServiceResult:
    inventory, estimate_warnings = estimate_inventory(service, store, offline=config.offline)
    findings, skipped, warnings = _evaluate(service, config, store, analysis=None, inventory=inventory,
                                            estimated=True, memory=None, sharing=sharing)
    packages = sum(d.size_bytes for d in inventory.distributions())
    # what the build adds besides Python packages (compilers, caches, apt lists, copied clutter) is in the
    # image too: an estimate of the size without it would be smaller than its own dead weight
    outside = deduplicated_savings(f for f in findings if f.rule in OUTSIDE_PACKAGES)
    parsed = python_base(service)
    base = BASE_SIZES.get(parsed[1], 0) if parsed else 0
    notes = [*service.warnings, *estimate_warnings, *warnings]
    if config.offline:
        notes.append(f"{service.name}: offline, sizes come from the cache only")
    return ServiceResult(
        name=service.name,
        image=None,
        mode="static",
        size_bytes=(base + packages + outside) or None,
        dead_weight_bytes=deduplicated_savings(findings),
        findings=tuple(sorted(findings, key=Finding.sort_key)),
        skipped=tuple(skipped),
        warnings=tuple(dict.fromkeys(notes)),
        unresolved=tuple(sorted(inventory.unresolved)),
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
    sharing: Sequence[Service] = (),
) -> tuple[list[Finding], list[SkippedRule], list[str]]:
    dists = inventory.distributions()
    joined = service_verdicts(service, inventory=inventory, image_config=analysis.image_config if analysis else None,
                              tree=analysis.tree if analysis else None, sharing=sharing)
    usage, verdicts, declared = joined.usage, joined.verdicts, joined.declared
    device = service_device(usage.evidence, verdicts, imports_framework=usage.uses_gpu_framework,
                            complete=usage.complete)
    warnings: list[str] = []
    cpu_builds: dict[str, CpuBuild] = {}
    target = target_of(service)
    torch = next((d for d in dists if d.name == "torch"), None)
    if torch is not None and torch.build in GPU_BUILDS:
        python = _python_of(inventory, torch.environment) or target.python
        platform = analysis.image_config.platform if analysis else target.platform
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
        torch_index=torch_index(service),
        gui_calls=usage.gui_calls,
        musl_gaps=gaps,
        memory_peak_bytes=memory[0] if memory else None,
        memory_evidence=memory[1] if memory else None,
    )
    evaluation = evaluate_all(ctx, run=memory is not None)
    return list(evaluation.findings), list(evaluation.skipped), warnings


def _python_of(inventory: Inventory, environment: str) -> str | None:
    for env in inventory.environments:
        if env.path == environment and env.python_version:
            return ".".join(env.python_version.split(".")[:2])
    return None

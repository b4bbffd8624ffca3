"""``deadweight guard`` as a pipeline step: the audit, then the figures budgets need that the audit report
does not carry (layers, compressed size, the breakdown and the distributions), then the verdict. Measured
services are re-read through the layer cache the audit just filled (the same capture, so no layer is streamed
twice when the cache holds it); static services are estimated again from the index cache the audit used."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

from deadweight.cache import LayerCache
from deadweight.config import Config
from deadweight.errors import DeadweightError, UsageError
from deadweight.guard.baseline import load_baseline
from deadweight.guard.evaluate import evaluate
from deadweight.guard.model import Facts, GuardVerdict
from deadweight.inventory.build import build_inventory
from deadweight.model.audit import AuditReport, ServiceResult
from deadweight.model.inventory import Inventory
from deadweight.model.project import Project
from deadweight.pipeline.analyze import analyze_image
from deadweight.pipeline.audit import AuditOptions, audit_settings, run_audit
from deadweight.pipeline.images import choose_images
from deadweight.pipeline.static import estimate_inventory
from deadweight.project.loader import load_project
from deadweight.pypi.store import JsonStore, default_cache_dir
from deadweight.rules.engine import selected_rules
from deadweight.sources.base import SourceOptions
from deadweight.sources.resolve import open_source
from deadweight.usage.service import audit_capture, capture_key


def distribution_sizes(inventory: Inventory) -> dict[str, int]:
    """Canonical name -> bytes, summed over every Python environment of the image."""
    out: dict[str, int] = {}
    for dist in inventory.distributions():
        out[dist.name] = out.get(dist.name, 0) + dist.size_bytes
    return dict(sorted(out.items()))


def static_facts(result: ServiceResult, inventory: Inventory | None, note: str | None = None) -> Facts:
    notes = ["static audit: no image, so no layers, compressed size or breakdown"]
    if note:
        notes.append(note)
    return Facts(
        size_bytes=result.size_bytes,
        compressed_bytes=None,
        largest_layer_bytes=None,
        layer_count=None,
        dead_weight_bytes=result.dead_weight_bytes,
        breakdown=None,
        distributions=None if inventory is None else distribution_sizes(inventory),
        estimated=True,
        notes=tuple(notes),
    )


def image_facts(result: ServiceResult, ref: str, cache: LayerCache, options: SourceOptions) -> Facts:
    with open_source(ref, options) as source:
        image_config = source.config()
        analysis = analyze_image(source, want=audit_capture(image_config), cache=cache,
                                 capture_key=capture_key(image_config), efficiency=False)
    inventory = build_inventory(analysis.tree, analysis.image_config)
    compressed = [layer.compressed_bytes for layer in analysis.layers]
    known = all(isinstance(c, int) for c in compressed) and bool(compressed)
    notes = [] if known else [f"{ref}: the source gives no compressed layer sizes (only registries and OCI "
                              "layouts do)"]
    return Facts(
        size_bytes=result.size_bytes if result.size_bytes is not None else analysis.size_bytes,
        compressed_bytes=sum(c for c in compressed if c is not None) if known else None,
        largest_layer_bytes=max((layer.size_bytes for layer in analysis.layers), default=0),
        layer_count=len(analysis.layers),
        dead_weight_bytes=result.dead_weight_bytes,
        breakdown=dict(inventory.breakdown) if inventory.breakdown else None,
        distributions=distribution_sizes(inventory),
        estimated=False,
        notes=tuple(notes),
    )


def collect_facts(
    report: AuditReport, project: Project, config: Config, *, platform: str | None = None, fast_path: bool = True
) -> Mapping[str, Facts]:
    """Facts for every service the audit could audit; a service whose figures cannot be gathered gets facts
    with those figures missing and a note saying why (its budgets then say "not checked")."""
    cache_root = Path(config.cache_dir) if config.cache_dir else default_cache_dir()
    store = JsonStore(cache_root / "index")
    cache = LayerCache(cache_root / "layers.sqlite")
    services = {s.name: s for s in project.services}
    out: dict[str, Facts] = {}
    try:
        for result in report.services:
            if result.error:
                continue
            if result.mode == "image" and result.image:
                try:
                    source_options = SourceOptions(platform=platform, fast_path=fast_path)
                    out[result.name] = image_facts(result, result.image, cache, source_options)
                except DeadweightError as exc:
                    out[result.name] = Facts(result.size_bytes, None, None, None, result.dead_weight_bytes, None,
                                             None, estimated=False, notes=(f"{result.image}: {exc}",))
                continue
            service = services.get(result.name)
            inventory: Inventory | None = None
            note = None
            if service is not None:
                try:
                    inventory, _ = estimate_inventory(service, store, offline=config.offline)
                except DeadweightError as exc:
                    note = f"{result.name}: distributions could not be estimated: {exc}"
            out[result.name] = static_facts(result, inventory, note)
    finally:
        cache.close()
    return out


def guard(
    path: str | Path = ".",
    *,
    images: str | Sequence[str] | Mapping[str, str] = (),
    build: bool = False,
    run: bool = False,
    network: str | None = None,
    platform: str | None = None,
    verify: bool = False,
    fast_path: bool = True,
    baseline: str | Path | None = None,
    today: dt.date | None = None,
    allow_unchecked: bool = False,
    config_file: str | Path | None = None,
    select: str | Sequence[str] = (),
    ignore: str | Sequence[str] = (),
    offline: bool = False,
    torch_cpu_index: str | None = None,
    deployment_gpu: str | None = None,
) -> GuardVerdict:
    """Audit ``path`` as :func:`deadweight.audit` does, then judge it against the budgets and waivers of its
    ``[tool.deadweight.guard]`` table (and ``baseline``, a previous audit or guard JSON report), as
    ``deadweight guard`` does. ``today`` judges waiver expiry (default: today, UTC).

    Raises ``UsageError``/``ConfigError`` for bad arguments, settings or budgets, ``BaselineError`` for a
    baseline that is not a deadweight report; "over budget" and "could not check" are the verdict's status.
    """
    if not Path(path).exists():
        raise UsageError(f"{path}: no such file or directory")
    settings, budgets = audit_settings(path, config_file=config_file, select=select, ignore=ignore,
                                       offline=offline, torch_cpu_index=torch_cpu_index,
                                       deployment_gpu=deployment_gpu)
    previous = load_baseline(str(baseline)) if baseline is not None else None
    project = load_project(str(path))
    names = [s.name for s in project.services]
    unknown = sorted(set(budgets.services) - set(names))
    if unknown:
        raise UsageError(f"{budgets.source}: [guard.services] names unknown services: {', '.join(unknown)} "
                         f"(services: {', '.join(names)})")
    chosen = choose_images(images, names)
    options = AuditOptions(images=chosen, build=build, run=run, network=network, verify=verify, platform=platform,
                           fast_path=fast_path)
    report = run_audit(str(path), settings, options, project=project)
    facts = collect_facts(report, project, settings, platform=platform, fast_path=fast_path)
    ran = frozenset(rule.id for rule in selected_rules(settings))
    return evaluate(report, facts, budgets, baseline=previous, today=today or dt.datetime.now(dt.UTC).date(),
                    allow_unchecked=allow_unchecked, rules_run=ran)

"""The figures budgets need that the audit report does not carry: layers, compressed size, the breakdown
and the distributions. Measured services are re-read through the layer cache the audit just filled (the
same capture, so no layer is streamed twice when the cache holds it); static services are estimated again
from the index cache the audit used."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from deadweight.analysis import analyze_image
from deadweight.auditing.static import estimate_inventory
from deadweight.auditing.usage import audit_capture, capture_key
from deadweight.cache import LayerCache
from deadweight.config import Config
from deadweight.errors import DeadweightError
from deadweight.guard.model import Facts
from deadweight.inventory.build import build_inventory
from deadweight.model.audit import AuditReport, ServiceResult
from deadweight.model.inventory import Inventory
from deadweight.model.project import Project
from deadweight.pypi.store import JsonStore, default_cache_dir
from deadweight.sources.base import SourceOptions
from deadweight.sources.resolve import open_source


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
        config = source.config()
        analysis = analyze_image(source, want=audit_capture(config), cache=cache, capture_key=capture_key(config),
                                 efficiency=False)
    inventory = build_inventory(analysis.tree, analysis.config)
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
    report: AuditReport, project: Project, config: Config, *, platform: str | None = None
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
                    out[result.name] = image_facts(result, result.image, cache, SourceOptions(platform=platform))
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

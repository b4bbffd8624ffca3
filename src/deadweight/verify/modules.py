"""What the after image must still import and which framework builds it must hold, worked out from the before
image the way the audit judged it: the top-level modules of every distribution whose usage verdict is "used",
the application's own modules the code scan saw imported or named (``app:app``), and, per framework with a
known build label, the label the after image must have (``cpu`` once DW101 moved torch to the CPU index).

Joined from ``usage.service.service_verdicts`` (the audit's own verdicts), so the modules checked are exactly the
evidence the findings rest on; the audit's model is not touched.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import PurePosixPath

from deadweight.model.analysis import ImageAnalysis
from deadweight.model.inventory import Inventory
from deadweight.model.project import Service
from deadweight.model.usage import EvidenceKind, VerdictStatus
from deadweight.rules.dw101_cuda_torch import GPU_BUILDS
from deadweight.usage.device import GPU_FRAMEWORKS
from deadweight.usage.service import service_verdicts

__all__ = ["app_modules", "app_top_levels", "expected_frameworks", "modules_to_import"]

#: Evidence kinds whose target is a module the service itself imports or hands a server.
_MODULE_KINDS = frozenset(
    {
        EvidenceKind.IMPORT,
        EvidenceKind.APP_PATH,
        EvidenceKind.PYTHON_M,
        EvidenceKind.SETTING,
        EvidenceKind.DYNAMIC_IMPORT,
    }
)
#: Rules whose fix moves the torch family onto CPU builds.
_CPU_RULES = frozenset({"DW101"})


def app_modules(service: Service) -> frozenset[str]:
    """Dotted names of the application's modules that ship (``app.py`` -> ``app``, ``pkg/x.py`` -> ``pkg.x``,
    ``pkg/__init__.py`` -> ``pkg``), relative to the build context."""
    out = set()
    for shipped in service.shipped:
        path = PurePosixPath(shipped.context_path)
        if path.suffix != ".py":
            continue
        parts = [*path.parts[:-1], path.stem] if path.stem != "__init__" else list(path.parts[:-1])
        if parts and all(part.isidentifier() for part in parts):
            out.add(".".join(parts))
    return frozenset(out)


def app_top_levels(service: Service) -> frozenset[str]:
    """Top-level module names of the application code that ships."""
    return frozenset(name.split(".")[0] for name in app_modules(service))


def modules_to_import(
    service: Service, analysis: ImageAnalysis, inventory: Inventory, sharing: Sequence[Service] = ()
) -> tuple[str, ...]:
    """The dotted modules the after image must import, sorted. An application target (``app:app``,
    ``from pkg.views import handler``) counts as its longest prefix that is a module that ships: the rest may
    be an attribute, which ``import`` cannot take."""
    joined = service_verdicts(
        service, inventory=inventory, image_config=analysis.image_config, tree=analysis.tree, sharing=sharing
    )
    modules: set[str] = set()
    for dist in inventory.distributions():
        verdict = joined.verdicts.get(dist.name)
        if verdict is None or verdict.status is not VerdictStatus.USED:
            continue
        modules.update(name for name in dist.import_names if name.isidentifier() and not name.startswith("_"))
    shipped = app_modules(service)
    for evidence in joined.usage.evidence:
        if evidence.kind not in _MODULE_KINDS or evidence.type_only:
            continue
        parts = evidence.target.replace(":", ".").split(".")
        prefix = next((".".join(parts[:n]) for n in range(len(parts), 0, -1) if ".".join(parts[:n]) in shipped), None)
        if prefix is not None:
            modules.add(prefix)
    return tuple(sorted(modules))


def expected_frameworks(inventory: Inventory, rules: Collection[str]) -> Mapping[str, str]:
    """Framework distribution -> the build label the after image must have: ``cpu`` for a GPU build when a kept
    edit of ``rules`` moved it to CPU wheels, else the build the before image had."""
    out: dict[str, str] = {}
    for dist in inventory.distributions():
        if dist.build is None or dist.name.replace("-", "_") not in GPU_FRAMEWORKS:
            continue
        moved = dist.build in GPU_BUILDS and bool(_CPU_RULES & set(rules))
        out[dist.name] = "cpu" if moved else dist.build
    return out

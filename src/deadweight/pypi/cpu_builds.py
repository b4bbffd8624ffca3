"""How big the CPU build of a framework would be, for DW101/DW102 savings.

Read from the configured CPU index (PyTorch's own by default; Artifactory/Nexus mirrors are common) as the
installed size of the wheel pip would pick there. Offline or unreachable, a documented table is used and
the figure is marked estimated.
"""

from __future__ import annotations

from deadweight.errors import SourceError
from deadweight.model.image import Platform
from deadweight.model.inventory import CpuBuild
from deadweight.pypi.index import IndexClient
from deadweight.pypi.remote_wheel import WheelInspector
from deadweight.pypi.select import pick_wheel
from deadweight.pypi.store import JsonStore
from deadweight.pypi.tags import target_tags

#: Installed bytes of torch CPU wheels (linux x86_64, CPython 3.11), measured from the wheels' central
#: directories. Used only when the CPU index cannot be read; versions not listed use the nearest.
TORCH_CPU_TABLE = {"2.13.0": 699_298_109}


def torch_cpu_build(
    version: str, python: str, platform: Platform, index_url: str, store: JsonStore, *, offline: bool
) -> tuple[CpuBuild, str | None]:
    """The CPU build of torch ``version`` and, when the index could not be used, why."""
    public = version.split("+", 1)[0]
    client = IndexClient(index_url, store, offline=offline)
    inspector = WheelInspector(store, offline=offline)
    try:
        files = client.project_files("torch")
        choice = pick_wheel(files, f"=={public}", target_tags(python, platform), python)
        if choice is None:
            raise SourceError(f"{index_url}: no torch {public} wheel for CPython {python}")
        facts = inspector.facts(choice.url)
        return CpuBuild("torch", str(choice.version() or public), facts.installed_bytes, choice.url), None
    except SourceError as exc:
        nearest = min(TORCH_CPU_TABLE, key=lambda v: _distance(v, public))
        why = f"CPU torch size from the built-in table ({exc})"
        return CpuBuild("torch", nearest, TORCH_CPU_TABLE[nearest], "table", estimated=True), why
    finally:
        client.close()
        inspector.close()


def _distance(a: str, b: str) -> int:
    def key(v: str) -> int:
        parts = [int(p) for p in v.split(".")[:3] if p.isdigit()] + [0, 0, 0]
        return parts[0] * 10_000 + parts[1] * 100 + parts[2]

    return abs(key(a) - key(b))

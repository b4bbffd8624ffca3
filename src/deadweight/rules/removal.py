"""What leaves the image with a distribution: the one definition DW101, DW102, DW201 and DW202 share."""

from __future__ import annotations

from deadweight.inventory.depgraph import DepGraph
from deadweight.model.inventory import DistClass, Distribution, Inventory, PythonEnvironment


def environment_of(inventory: Inventory, dist: Distribution) -> PythonEnvironment | None:
    for env in inventory.environments:
        if env.path == dist.environment:
            return env
    return None


def dependency_graph(env: PythonEnvironment) -> DepGraph:
    edges = {d.name: [r.name for r in d.requires if r.active] for d in env.distributions}
    return DepGraph(edges, {d.name: d.size_bytes for d in env.distributions})


def freed_with(inventory: Inventory, dist: Distribution) -> list[Distribution]:
    """``dist`` and every distribution only it needs, sorted by name."""
    env = environment_of(inventory, dist)
    if env is None:
        return [dist]
    names = dependency_graph(env).freed_by_removing(dist.name)
    return sorted((d for d in env.distributions if d.name in names), key=lambda d: d.name)


def gpu_stack(inventory: Inventory, dist: Distribution) -> list[Distribution]:
    """``dist`` and the GPU distributions that leave with it (nvidia-*, triton); CPU deps like numpy stay."""
    return [d for d in freed_with(inventory, dist) if d.name == dist.name or d.dist_class is DistClass.GPU]

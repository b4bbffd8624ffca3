"""What leaves the image with a distribution: the one definition DW101, DW102, DW201 and DW202 share, and the
one way DW201 and DW202 turn a removal into a finding."""

from __future__ import annotations

from collections.abc import Sequence

from deadweight.inventory.depgraph import DepGraph
from deadweight.model.finding import Evidence, Finding
from deadweight.model.inventory import DistClass, Distribution, Inventory, PythonEnvironment
from deadweight.model.remedy import Edit
from deadweight.model.usage import Confidence
from deadweight.rules.base import Rule, RuleContext, distribution_claims
from deadweight.units import human_bytes


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


def freed_by_removing(ctx: RuleContext, package: str) -> list[Distribution]:
    """What removing ``package`` frees in the service's inventory ([] when it is not installed, or no inventory).

    Only what the dependency graph says nothing else needs, less what stays anyway: a distribution the
    project declares (the requirement keeps installing it), one whose verdict is not unused (used directly,
    by tooling, or unknown; no verdict at all counts as unknown), and whatever those require.
    """
    dist = ctx.distribution(package)
    if ctx.inventory is None or dist is None:
        return []
    freed = freed_with(ctx.inventory, dist)
    by_name = {d.name: d for d in freed}
    stays = [
        name for name in by_name
        if name != package and (name in ctx.declared or (v := ctx.verdicts.get(name)) is None or not v.status.is_unused)
    ]
    kept: set[str] = set()
    while stays:
        name = stays.pop()
        if name in kept or name == package:
            continue
        kept.add(name)
        stays.extend(r.name for r in by_name[name].requires if r.active and r.name in by_name)
    return [d for d in freed if d.name not in kept]


def removal_finding(
    rule: Rule,
    ctx: RuleContext,
    package: str,
    freed: Sequence[Distribution],
    *,
    title: str,
    evidence: Sequence[Evidence],
    confidence: Confidence,
    remedy: Sequence[Edit] = (),
    fix: str | None = None,
) -> Finding:
    """A finding that ``package`` can go: it saves what leaves with it (``freed``, each byte claimed by file),
    its title says how much, and its evidence ends with what else leaves."""
    savings = sum(d.size_bytes for d in freed)
    others = [d.name for d in freed if d.name != package]
    cited = list(evidence)
    if others:
        cited.append(Evidence("record", f"also frees {', '.join(others[:8])}", None))
    return rule.finding(
        ctx,
        title=f"{package} {title} ({human_bytes(savings)})",
        package=package,
        savings_bytes=savings,
        confidence=confidence,
        evidence=cited,
        claims=distribution_claims(freed, ctx),
        remedy=remedy,
        fix=fix,
    )

"""The join: distributions × declarations × evidence → one verdict per installed distribution.

Why so careful: telling a user "nothing uses X, remove it" when a service needs X breaks production.
"declared-unused" and "orphan" are only given when the scan was complete, nothing names the distribution
(imports, commands, strings, plugins, optional-dependency triggers), nothing used requires it, and no
dynamic import could reach it. Everything else that is not proven used is "unknown".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from packaging.utils import canonicalize_name

from deadweight.model.inventory import Distribution
from deadweight.model.usage import (
    Confidence,
    EvidenceKind,
    TargetType,
    UsageEvidence,
    Verdict,
    VerdictStatus,
)
from deadweight.usage.mapping import ModuleMapper
from deadweight.usage.optional import OptionalTable, optional_table

TOOLING = frozenset({"pip", "setuptools", "wheel"})
_SCRIPT_GROUPS = frozenset({"console_scripts", "gui_scripts"})
_CONDITIONAL_KINDS = frozenset({EvidenceKind.OPTIONAL_DEP, EvidenceKind.PLUGIN, EvidenceKind.PYTEST_PLUGIN})


def _best(evidence: Iterable[UsageEvidence]) -> Confidence:
    ranks = [e.confidence for e in evidence]
    return max(ranks, key=lambda c: c.rank) if ranks else Confidence.LOW


class _Join:
    def __init__(self, distributions: Sequence[Distribution], mapper: ModuleMapper,
                 table: OptionalTable) -> None:
        self.dists = {d.name: d for d in distributions}
        self.mapper = mapper
        self.table = table
        self.direct: dict[str, list[UsageEvidence]] = {}
        self.type_only: dict[str, list[UsageEvidence]] = {}
        self.conditional: list[tuple[str, str, UsageEvidence]] = []  # (consumer, dist, evidence)
        self.maybe: dict[str, list[UsageEvidence]] = {}
        self.unresolved: list[UsageEvidence] = []

    def targets(self, ev: UsageEvidence) -> tuple[str, ...]:
        """Installed distributions an evidence item names."""
        kind = ev.target_type
        if kind is TargetType.MODULE:
            mapping = self.mapper.resolve(ev.target)
            names = mapping.distributions if mapping else ()
        elif kind is TargetType.COMMAND:
            names = self.mapper.resolve_command(ev.target)[0]
        elif kind is TargetType.DISTRIBUTION:
            names = (canonicalize_name(ev.target),)
        else:
            names = ()
        return tuple(n for n in names if n in self.dists)

    def collect(self, evidence: Sequence[UsageEvidence]) -> None:
        for ev in evidence:
            if ev.kind is EvidenceKind.DYNAMIC_UNRESOLVED:
                self.unresolved.append(ev)
                continue
            if ev.target_type is TargetType.MODULE_PREFIX:
                for name in self.mapper.resolve_prefix(ev.target):
                    if name in self.dists:
                        self.maybe.setdefault(name, []).append(ev)
                continue
            consumer = ev.consumer or ("pytest" if ev.kind is EvidenceKind.PYTEST_PLUGIN else None)
            for name in self.targets(ev):
                if consumer is not None and ev.kind in _CONDITIONAL_KINDS:
                    self.conditional.append((canonicalize_name(consumer), name, ev))
                elif ev.type_only:
                    self.type_only.setdefault(name, []).append(ev)
                else:
                    self.direct.setdefault(name, []).append(ev)

    def _plugin_consumers(self, group: str) -> tuple[str, ...]:
        known = self.table.plugin_groups.get(group)
        if known is not None:
            return known
        token = group.replace("-", "_").split(".")[0].split("_")[0].lower()
        found = [n for n, d in self.dists.items()
                 if canonicalize_name(token) == n or token in {t.lower() for t in d.import_names}]
        return tuple(found)

    def dependents_of_consumers(self) -> list[tuple[str, str]]:
        """(distribution, consumer) pairs: optional deps, conditional evidence and plugins by consumer."""
        pairs = [(name, consumer) for consumer, name, _ in self.conditional]
        for entry in self.table.entries:
            if entry.when == "used":
                pairs.extend((name, entry.consumer) for name in entry.provides if name in self.dists)
        for name, dist in self.dists.items():
            for ep in dist.entry_points:
                if ep.group not in _SCRIPT_GROUPS:
                    pairs.extend((name, c) for c in self._plugin_consumers(ep.group) if c != name)
        return pairs

    def propagate(self) -> tuple[dict[str, list[UsageEvidence]], dict[str, set[str]]]:
        """Fixpoint: used (with evidence) and transitive (with the used dists that require them)."""
        used: dict[str, list[UsageEvidence]] = {n: list(evs) for n, evs in self.direct.items() if n not in TOOLING}
        trans: dict[str, set[str]] = {}
        changed = True
        while changed:
            changed = False
            needed = set(used) | set(trans)
            for name in sorted(needed):
                for req in self.dists[name].requires:
                    if req.active and req.name in self.dists and req.name not in used:
                        via = trans.setdefault(req.name, set())
                        if name not in via:
                            via.add(name)
                            changed = True
            needed = set(used) | set(trans)
            for consumer, name, ev in self.conditional:
                if consumer in needed and name not in used:
                    used[name] = [ev]
                    changed = True
            for consumer in sorted(needed):
                for entry in self.table.when_used(consumer):
                    for name in entry.provides:
                        if name in self.dists and name not in used:
                            used[name] = [UsageEvidence(EvidenceKind.OPTIONAL_DEP,
                                                   f"{consumer} uses {name} when installed: {entry.why}",
                                                   f"{self.dists[consumer].metadata_path}:0", name,
                                                   Confidence.MEDIUM, consumer=consumer)]
                            changed = True
            for name, dist in self.dists.items():
                if name in used or name in TOOLING:
                    continue
                for ep in dist.entry_points:
                    if ep.group in _SCRIPT_GROUPS:
                        continue
                    consumers = [c for c in self._plugin_consumers(ep.group)
                                 if c in needed and c != name and c not in TOOLING]
                    if consumers:
                        used[name] = [UsageEvidence(EvidenceKind.PLUGIN,
                                               f"entry point {ep.name} in group {ep.group} loaded by "
                                               f"{consumers[0]}", f"{dist.metadata_path}:0", name,
                                               Confidence.HIGH, consumer=consumers[0])]
                        changed = True
                        break
        for name in used:
            trans.pop(name, None)
        return used, trans


def decide(distributions: Sequence[Distribution], declared: Iterable[str], evidence: Sequence[UsageEvidence], *,
           mapper: ModuleMapper | None = None, complete: bool | None = None,
           table: OptionalTable | None = None, opaque: Iterable[str] = (),
           needs_unknown: Mapping[str, str] | None = None) -> dict[str, Verdict]:
    """One verdict per installed distribution (keyed by canonical name).

    ``declared``: canonical names the project declares. ``complete``: whether the code scan read every
    file (default: no ``scan-warning`` evidence present). ``opaque``: distributions whose modules are not
    known (a static audit's sdist-only packages): unused is never said of them, only unknown, and so of
    what they require. ``needs_unknown``: packages whose requirements could not be read (name -> why):
    they might need anything, so nothing else is called unused either.
    """
    declared_set = {str(canonicalize_name(n)) for n in declared}
    if complete is None:
        complete = not any(e.kind is EvidenceKind.SCAN_WARNING for e in evidence)
    join = _Join(distributions, mapper or ModuleMapper(distributions), table or optional_table())
    join.collect(evidence)
    used, trans = join.propagate()
    verdicts: dict[str, Verdict] = {}
    for name in sorted(join.dists):
        if name in used:
            evs = tuple(sorted(used[name], key=UsageEvidence.sort_key))
            via = tuple(sorted({e.consumer for e in evs if e.consumer and e.consumer != name}))
            verdicts[name] = Verdict(name, VerdictStatus.USED, evs, _best(evs), via)
        elif name in trans:
            verdicts[name] = Verdict(name, VerdictStatus.USED_TRANSITIVELY, (), Confidence.HIGH,
                                     tuple(sorted(trans[name])), "required by a used distribution")
        elif name in TOOLING:
            verdicts[name] = Verdict(name, VerdictStatus.USED_BY_TOOLING, tuple(join.direct.get(name, ())),
                                     Confidence.HIGH, (), "packaging tool: never reported unused")
    _undecided(join, declared_set, complete, verdicts, opaque=frozenset(opaque),
               needs_unknown=dict(needs_unknown or {}))
    return verdicts


def _undecided(join: _Join, declared: set[str], complete: bool, verdicts: dict[str, Verdict], *,
               opaque: frozenset[str] = frozenset(), needs_unknown: dict[str, str] | None = None) -> None:
    """Declared-unused / orphan when the evidence is strong that nothing uses it, else unknown."""
    unknown: dict[str, str] = {}
    needs = sorted(needs_unknown or {})
    for name in join.dists:
        if name in verdicts:
            continue
        if name in opaque:
            unknown[name] = ("only a source distribution: which modules it installs is unknown until it is "
                             "built, so it is never called unused")
        elif needs and name not in needs:
            unknown[name] = (f"{needs[0]} has only a source distribution whose requirements could not be read "
                             f"({(needs_unknown or {})[needs[0]]}): it might need this")
        elif not complete:
            unknown[name] = "the code scan was incomplete (a file could not be read or parsed)"
        elif join.unresolved:
            first = join.unresolved[0]
            unknown[name] = f"a dynamic import with a computed name could load it ({first.location})"
        elif name in join.maybe:
            unknown[name] = f"a dynamic import by name prefix could load it ({join.maybe[name][0].location})"
    # Whatever an unknown distribution requires is unknown too, not orphan.
    changed = True
    while changed:
        changed = False
        for name in list(unknown):
            for req in join.dists[name].requires:
                if (req.active and req.name in join.dists and req.name not in verdicts
                        and req.name not in unknown):
                    unknown[req.name] = f"required by {name}, whose use is unknown"
                    changed = True
        for target, consumer in join.dependents_of_consumers():
            if consumer in unknown and target not in verdicts and target not in unknown:
                unknown[target] = f"{consumer} may need it, and whether {consumer} is used is unknown"
                changed = True
    for name in sorted(join.dists):
        if name in verdicts:
            continue
        evs = tuple(sorted(join.type_only.get(name, []) + join.maybe.get(name, []), key=UsageEvidence.sort_key))
        if name in unknown:
            verdicts[name] = Verdict(name, VerdictStatus.UNKNOWN, evs, Confidence.LOW, (), unknown[name])
            continue
        status = VerdictStatus.DECLARED_UNUSED if name in declared else VerdictStatus.ORPHAN
        if join.type_only.get(name):
            verdicts[name] = Verdict(name, status, evs, Confidence.MEDIUM, (),
                                     "imported only under TYPE_CHECKING: never at run time")
        else:
            reason = ("declared, but no import, command, string, plugin or optional trigger names it"
                      if status is VerdictStatus.DECLARED_UNUSED
                      else "installed, not declared, and required by nothing that is used")
            verdicts[name] = Verdict(name, status, (), Confidence.HIGH, (), reason)

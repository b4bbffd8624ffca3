"""The dependency graph of one environment: closures and exclusive bytes.

Edges are the *active* requirements (markers true for the environment's Python and the image
platform, extras only when something installed asks for them) whose target is installed in the same
environment. ``exclusive_bytes`` of a distribution is what removing it, and everything that only it
needs, would free while everything else stays: a dependency shared with a distribution outside the
closure (the bottom of a diamond whose other arm stays) is not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class DepGraph:
    """Directed graph over canonical names; sizes are each node's own bytes."""

    def __init__(
        self, edges: Mapping[str, Iterable[str]], sizes: Mapping[str, int], *, kept: Iterable[str] = ()
    ) -> None:
        """``kept``: nodes something outside the graph requires (a venv that imports this environment's
        distributions): they and what they need stay whatever is removed, unless removed themselves."""
        self.nodes = sorted(sizes)
        known = set(self.nodes)
        self.edges: dict[str, list[str]] = {
            n: sorted({d for d in edges.get(n, ()) if d in known and d != n}) for n in self.nodes
        }
        self.sizes = dict(sizes)
        self.kept = sorted(set(kept) & known)

    def closure(self, start: Iterable[str], *, without: str | None = None) -> set[str]:
        """``start`` and everything it needs, transitively (cycle-safe), never entering ``without``."""
        seen: set[str] = {without} if without is not None else set()
        stack = [s for s in start if s in self.edges]
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            stack.extend(d for d in self.edges[node] if d not in seen)
        if without is not None:
            seen.discard(without)
        return seen

    def freed_by_removing(self, name: str) -> set[str]:
        """The distributions that go away with ``name``: itself, and its closure minus what the rest needs.

        ``name`` itself always goes (it is what is being removed, even if something else requires it);
        a dependency goes only when nothing outside the removed set reaches it without passing ``name``.
        """
        mine = self.closure([name])
        others = [n for n in self.nodes if n not in mine] + self.kept
        still_needed = self.closure(others, without=name)
        return (mine - still_needed) | {name}

    def exclusive_bytes(self, name: str) -> int:
        return sum(self.sizes[n] for n in self.freed_by_removing(name))

    def dependents(self) -> dict[str, list[str]]:
        """Reverse edges: who requires each distribution."""
        rev: dict[str, list[str]] = {n: [] for n in self.nodes}
        for node, deps in self.edges.items():
            for dep in deps:
                rev[dep].append(node)
        return {n: sorted(v) for n, v in rev.items()}

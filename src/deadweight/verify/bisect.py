"""Which edits broke the rebuilt image: delta debugging over the plan's ordered edits.

``test(subset)`` builds the image with exactly that subset of edits (the layer cache makes a subset whose
prefix was built before cheap) and returns the checks that fail in it. Checks that already fail with no edit at
all (the before image) are nobody's fault and are left out. The edits keep their plan order, and a failure that
appears when an edit joins the ones before it is that edit's: the first failing prefix is found by binary search
(about log2(n) builds), that edit is taken out, and the rest is tested again, until the rest passes. So each
culprit costs O(log n) builds, and an edit that breaks only together with an earlier one is still named (it is
the one whose arrival made the image fail). Results are memoised: a subset is never built or checked twice.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

__all__ = ["Bisection", "Culprit", "find_culprits"]

T = TypeVar("T", bound=Hashable)


@dataclass(frozen=True)
class Culprit(Generic[T]):
    edit: T
    broke: frozenset[str]  # the checks that fail once it joins the edits before it


@dataclass(frozen=True)
class Bisection(Generic[T]):
    kept: tuple[T, ...]  # in plan order
    culprits: tuple[Culprit[T], ...]
    still_failing: frozenset[str]  # failures of ``kept`` (empty: the kept edits pass)
    tests: int  # subsets tested (built and checked), the memoised ones not counted again
    results: dict[tuple[T, ...], frozenset[str]] = field(default_factory=dict)


def find_culprits(
    edits: Sequence[T],
    test: Callable[[tuple[T, ...]], frozenset[str]],
    *,
    baseline: frozenset[str] = frozenset(),
    known: dict[tuple[T, ...], frozenset[str]] | None = None,
) -> Bisection[T]:
    """The edits to drop so that the rest passes ``test`` (failures in ``baseline`` ignored).

    ``known``: results already measured (the full set's, the cumulative prefixes' ...), reused as they are."""
    results: dict[tuple[T, ...], frozenset[str]] = dict(known or {})
    tests = 0

    def failing(subset: tuple[T, ...]) -> frozenset[str]:
        nonlocal tests
        if subset not in results:
            tests += 1
            results[subset] = frozenset(test(subset))
        return results[subset] - baseline

    kept = tuple(edits)
    culprits: list[Culprit[T]] = []
    now = failing(kept)
    while now and kept:
        lo, hi = 1, len(kept)  # the first failing prefix has length in [lo, hi]; kept[:hi] fails
        while lo < hi:
            mid = (lo + hi) // 2
            if failing(kept[:mid]):
                hi = mid
            else:
                lo = mid + 1
        culprit = kept[lo - 1]
        culprits.append(Culprit(culprit, failing(kept[:lo])))
        kept = kept[: lo - 1] + kept[lo:]
        now = failing(kept) if kept else frozenset()
    return Bisection(kept=kept, culprits=tuple(culprits), still_failing=now, tests=tests, results=results)

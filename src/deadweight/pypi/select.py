"""Pick the file pip would install for a requirement in a given image, by pip's own rules.

For one project, pip's finder and resolver (``PackageFinder`` and the resolvelib factory, pip 22 to 25) do:

1. candidates: every wheel with a tag the target supports and every source archive, whose Requires-Python
   admits the target Python; yanked files are still candidates at this step;
2. pre-releases: ``specifier.filter(candidate versions, prereleases=True if --pre else None)``, packaging's
   PEP 440 rule: a pre-release passes when the specifier itself names one (``>=2.0b1``, ``==1.0rc1``) or
   when no final release among the candidates satisfies the specifier;
3. yanked (PEP 592): skipped, unless every remaining candidate is yanked and the specifier pins one version
   (``==`` without a wildcard, or ``===``);
4. the best: highest version; within it a wheel before a source archive, the best tag, the highest build tag.

Note packaging (22+) ``SpecifierSet.contains(v, prereleases=None)`` on a single pre-release answers True
(among the "candidates" ``[v]`` there is no final release), so the rule above cannot be applied one version
at a time with ``contains``: it needs the whole candidate set, which is what ``best_file`` looks at.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from packaging.specifiers import SpecifierSet
from packaging.tags import Tag
from packaging.version import Version

from deadweight.pypi.index import IndexFile
from deadweight.pypi.tags import wheel_file_tags, wheel_rank


@lru_cache(maxsize=4096)
def _specifier(text: str) -> SpecifierSet | None:
    try:
        return SpecifierSet(text)
    except ValueError:  # InvalidSpecifier, or a number too long for int()
        return None


@lru_cache(maxsize=4096)
def python_ok(requires_python: str | None, python: str) -> bool:
    """Whether CPython ``python`` ("3.11" is read as 3.11.0) satisfies ``Requires-Python``; an invalid
    value admits every Python, as pip treats it."""
    if not requires_python:
        return True
    spec = _specifier(requires_python)
    if spec is None:
        return True
    try:
        return spec.contains(Version(python + (".0" if python.count(".") == 1 else "")), prereleases=True)
    except ValueError:  # InvalidVersion, or a number too long for int() (4300 digits)
        return True


def pinned(spec: SpecifierSet) -> bool:
    """pip's test for "this specifier pins a version": an ``===``, or an ``==`` without a wildcard."""
    return any(s.operator == "===" or (s.operator == "==" and not s.version.endswith(".*")) for s in spec)


def _best_of_version(files: Sequence[IndexFile], tags: Sequence[Tag], python: str) -> list[IndexFile]:
    """The candidates among ``files`` (all of one version), best first: wheels by tag then build tag, then
    source archives; files whose tags or Requires-Python rule them out are left out."""
    ranked: list[tuple[int, int, str, IndexFile]] = []
    for item in files:
        if not python_ok(item.requires_python, python):
            continue
        if item.is_wheel:
            rank = wheel_rank(item.filename, tags)
            if rank is None:
                continue
            parsed = wheel_file_tags(item.filename)
            build = parsed[1][0] if parsed and parsed[1] else -1
            ranked.append((rank, -build, item.filename, item))
        elif item.is_sdist:
            ranked.append((len(tags), 0, item.filename, item))
    ranked.sort(key=lambda row: row[:3])
    return [row[3] for row in ranked]


def best_file(
    files: Sequence[IndexFile], specifier: str, tags: Sequence[Tag], python: str, *, prereleases: bool = False
) -> IndexFile | None:
    """The file pip would install for ``specifier`` (a wheel, or a source archive it would build), or None.

    ``prereleases`` is pip's ``--pre``. Local version labels count as pip counts them: ``==2.5.1`` matches
    ``2.5.1+cpu``. Files from several indexes may be mixed: pip pools every index's files the same way.
    """
    spec = _specifier(specifier or "")
    if spec is None:
        return None
    by_version: dict[Version, list[IndexFile]] = {}
    for item in files:
        version = item.version()
        if version is not None:
            by_version.setdefault(version, []).append(item)
    satisfying = sorted(spec.filter(by_version, prereleases=True), reverse=True)
    allow_pre: bool | None = True if prereleases else spec.prereleases
    finals = [v for v in satisfying if not v.is_prerelease]
    rounds = [satisfying] if allow_pre else [finals]
    if allow_pre is None:
        rounds.append([v for v in satisfying if v.is_prerelease])  # only if no final release is a candidate
    for versions in rounds:
        any_candidate = False
        best_yanked: IndexFile | None = None
        for version in versions:
            candidates = _best_of_version(by_version[version], tags, python)
            if not candidates:
                continue
            any_candidate = True
            usable = [c for c in candidates if not c.yanked]
            if usable:
                return usable[0]
            if best_yanked is None:
                best_yanked = candidates[0]
        if any_candidate:
            return best_yanked if best_yanked is not None and pinned(spec) else None
    return None


def pick_wheel(
    files: Sequence[IndexFile], specifier: str, tags: Sequence[Tag], python: str, *, prereleases: bool = False
) -> IndexFile | None:
    """The wheel pip would install for ``specifier``; None when there is none, or when pip would build a
    source archive instead (its version has no wheel for ``tags``)."""
    choice = best_file(files, specifier, tags, python, prereleases=prereleases)
    return choice if choice is not None and choice.is_wheel else None

"""Pick the wheel pip would install for a requirement in a given image: version first, then best tag."""

from __future__ import annotations

from collections.abc import Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag
from packaging.version import Version

from deadweight.pypi.index import IndexFile
from deadweight.pypi.tags import wheel_rank


def _python_ok(requires_python: str | None, python: str) -> bool:
    if not requires_python:
        return True
    try:
        return Version(python + (".0" if python.count(".") == 1 else "")) in SpecifierSet(requires_python)
    except (InvalidSpecifier, ValueError):
        return True


def pick_wheel(
    files: Sequence[IndexFile], specifier: str, tags: Sequence[Tag], python: str, *, prereleases: bool = False
) -> IndexFile | None:
    """The highest non-yanked version matching ``specifier`` with a wheel for ``tags``, and its best wheel.

    Local version labels count as pip counts them: ``==2.5.1`` matches ``2.5.1+cpu``.
    """
    try:
        spec = SpecifierSet(specifier or "")
    except InvalidSpecifier:
        return None
    by_version: dict[Version, list[tuple[int, IndexFile]]] = {}
    for item in files:
        version = item.version()
        if version is None or item.yanked or not _python_ok(item.requires_python, python):
            continue
        if not spec.contains(version, prereleases=prereleases or None):
            continue
        rank = wheel_rank(item.filename, tags)
        if rank is not None:
            by_version.setdefault(version, []).append((rank, item))
    if not by_version:
        return None
    best_version = max(by_version)
    return min(by_version[best_version], key=lambda pair: (pair[0], pair[1].filename))[1]

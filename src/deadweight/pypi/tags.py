"""Which wheel a `pip install` in the target image would pick: tags for a Python version and platform."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from deadweight.model.image import Platform

_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "ppc64le": "ppc64le", "s390x": "s390x"}


def _platform_tags(platform: Platform, libc: str, libc_version: tuple[int, int]) -> Iterator[str]:
    arch = _ARCH.get(platform.architecture, platform.architecture)
    major, minor = libc_version
    if libc == "musl":
        for m in range(minor, -1, -1):
            yield f"musllinux_{major}_{m}_{arch}"
    else:
        for m in range(minor, 16, -1):
            yield f"manylinux_{major}_{m}_{arch}"
            if m == 17:
                yield f"manylinux2014_{arch}"
        if arch in ("x86_64", "i686"):
            yield f"manylinux2010_{arch}"
            yield f"manylinux1_{arch}"
    yield f"linux_{arch}"


def target_tags(
    python: str, platform: Platform, *, libc: str = "glibc", libc_version: tuple[int, int] | None = None
) -> list[Tag]:
    """Tags in pip's preference order for CPython ``python`` ("3.11") on ``platform``.

    ``libc_version`` defaults to what the usual bases ship: glibc 2.36 (Debian bookworm), musl 1.2 (alpine).
    """
    parts = python.split(".")
    version = (int(parts[0]), int(parts[1]))
    libc_version = libc_version or ((1, 2) if libc == "musl" else (2, 36))
    platforms = list(_platform_tags(platform, libc, libc_version))
    return [*cpython_tags(version, platforms=platforms), *compatible_tags(version, platforms=platforms)]


def wheel_rank(filename: str, tags: Sequence[Tag]) -> int | None:
    """Position of the best tag of ``filename`` in ``tags`` (lower is better); None if incompatible."""
    try:
        _, _, _, file_tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return None
    index = {tag: i for i, tag in enumerate(tags)}
    ranks = [index[t] for t in file_tags if t in index]
    return min(ranks) if ranks else None

"""Which wheel a `pip install` in the target image would pick: tags for a Python version and platform."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from functools import lru_cache
from threading import Lock

from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import BuildTag, parse_wheel_filename

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


@lru_cache(maxsize=32)
def target_tags(
    python: str, platform: Platform, *, libc: str = "glibc", libc_version: tuple[int, int] | None = None
) -> tuple[Tag, ...]:
    """Tags in pip's preference order for CPython ``python`` ("3.11") on ``platform``.

    ``libc_version`` defaults to what the usual bases ship: glibc 2.36 (Debian bookworm), musl 1.2 (alpine).
    The tuple is shared (cached per target), which lets ``wheel_rank`` build its priority table once.
    """
    parts = python.split(".")
    version = (int(parts[0]), int(parts[1]))
    libc_version = libc_version or ((1, 2) if libc == "musl" else (2, 36))
    platforms = list(_platform_tags(platform, libc, libc_version))
    return (*cpython_tags(version, platforms=platforms), *compatible_tags(version, platforms=platforms))


#: Priority tables (tag -> position) per tag sequence, keyed by ``id``. Each entry holds the sequence itself,
#: so the id cannot be reused by another object while its entry lives.
_TABLES: OrderedDict[int, tuple[Sequence[Tag], dict[Tag, int]]] = OrderedDict()
_TABLES_MAX = 16
_TABLES_LOCK = Lock()


def tag_priorities(tags: Sequence[Tag]) -> dict[Tag, int]:
    """``{tag: position in tags}``, built once per tag sequence (most recently used 16 kept)."""
    with _TABLES_LOCK:
        entry = _TABLES.get(id(tags))
        if entry is not None and entry[0] is tags:
            _TABLES.move_to_end(id(tags))
            return entry[1]
    table: dict[Tag, int] = {}
    for i, tag in enumerate(tags):
        table.setdefault(tag, i)
    with _TABLES_LOCK:
        _TABLES[id(tags)] = (tags, table)
        while len(_TABLES) > _TABLES_MAX:
            _TABLES.popitem(last=False)
    return table


@lru_cache(maxsize=65536)
def wheel_file_tags(filename: str) -> tuple[frozenset[Tag], BuildTag] | None:
    """The tags and build tag a wheel's file name declares; None if it is not a valid wheel name."""
    try:
        _, _, build, file_tags = parse_wheel_filename(filename)
    except ValueError:  # InvalidWheelFilename, InvalidVersion, or a number too long for int()
        return None
    return file_tags, build


def wheel_rank(filename: str, tags: Sequence[Tag]) -> int | None:
    """Position of the best tag of ``filename`` in ``tags`` (lower is better); None if incompatible."""
    parsed = wheel_file_tags(filename)
    if parsed is None:
        return None
    table = tag_priorities(tags)
    best: int | None = None
    for tag in parsed[0]:
        rank = table.get(tag)
        if rank is not None and (best is None or rank < best):
            best = rank
    return best

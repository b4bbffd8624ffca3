"""Tag priorities for the target image: pip's order, computed once per target."""

from __future__ import annotations

from packaging.tags import parse_tag

from deadweight.model.image import Platform
from deadweight.pypi.tags import tag_priorities, target_tags, wheel_rank

AMD64 = Platform("linux", "amd64")
FILENAMES = [
    "numpy-2.1.3-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "orjson-3.10.7-cp311-cp311-musllinux_1_2_x86_64.whl",
    "pydantic_core-2.23.4-cp311-none-any.whl",
    "six-1.16.0-py2.py3-none-any.whl",
    "cffi-1.17.1-cp311-cp311-manylinux1_x86_64.whl",
    "torch-2.5.1+cpu-cp311-cp311-linux_x86_64.whl",
    "charset_normalizer-3.4.0-cp311-abi3-manylinux_2_28_x86_64.whl",
    "win-1.0-cp311-cp311-win_amd64.whl",
    "old-1.0-cp310-cp310-manylinux_2_17_x86_64.whl",
    "not-a-wheel.tar.gz",
]


def _reference_rank(filename: str, tags: list) -> int | None:  # type: ignore[type-arg]
    """pip's own definition: the smallest index in the supported list of any of the file's tags."""
    if not filename.endswith(".whl"):
        return None
    parts = filename[:-4].split("-")
    file_tags = parse_tag("-".join(parts[-3:]))
    ranks = [tags.index(t) for t in file_tags if t in tags]
    return min(ranks) if ranks else None


def test_target_tags_are_built_once_per_target_and_shared() -> None:
    first = target_tags("3.11", AMD64)
    assert target_tags("3.11", AMD64) is first
    assert target_tags("3.11", AMD64, libc="musl") is not first
    assert tag_priorities(first) is tag_priorities(first)  # the table is cached with the tags
    assert str(first[0]).startswith("cp311-cp311-manylinux_2_36_x86_64")
    assert str(first[-1]) == "py30-none-any"


def test_wheel_rank_matches_the_supported_list_order() -> None:
    for libc in ("glibc", "musl"):
        tags = target_tags("3.11", AMD64, libc=libc)
        for filename in FILENAMES:
            assert wheel_rank(filename, tags) == _reference_rank(filename, list(tags)), (libc, filename)
    glibc = target_tags("3.11", AMD64)
    assert wheel_rank(FILENAMES[7], glibc) is None and wheel_rank(FILENAMES[8], glibc) is None
    assert wheel_rank(FILENAMES[1], glibc) is None  # musllinux on a glibc base
    # a plain list works too (callers may build their own), and gets its own table
    assert wheel_rank(FILENAMES[0], list(glibc)) == wheel_rank(FILENAMES[0], glibc)

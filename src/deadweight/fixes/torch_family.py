"""The torch family table (data/torch_family.toml): which torchvision / torchaudio release goes with a torch.

Installing torch from the CPU index without its family members of the matching release lets pip or uv pull
a CUDA torch back in for them (torchvision 0.20.1 requires torch==2.5.1, and the CPU build must satisfy it).
The table holds each member release's torch requirement exactly as its wheel declares it; see the file's
header for where it was read.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from deadweight.errors import ParseError

__all__ = ["FAMILY", "MEMBERS", "member_version", "table"]

FAMILY = ("torch", "torchvision", "torchaudio")
MEMBERS = ("torchvision", "torchaudio")
_PATH = "deadweight/data/torch_family.toml"


@cache
def table() -> dict[str, tuple[tuple[Version, SpecifierSet], ...]]:
    """Per member: (member version, its torch requirement), newest first."""
    try:
        raw = tomllib.loads(resources.files("deadweight.data").joinpath("torch_family.toml").read_text("utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ParseError(f"{_PATH}: {exc}") from exc
    if raw.get("schema") != 1:
        raise ParseError(f"{_PATH}: unknown schema {raw.get('schema')!r}")
    out: dict[str, tuple[tuple[Version, SpecifierSet], ...]] = {}
    for member in MEMBERS:
        entries = raw.get(member)
        if not isinstance(entries, dict):
            raise ParseError(f"{_PATH}: no [{member}] table")
        rows = []
        for version, spec in entries.items():
            try:
                rows.append((Version(version), SpecifierSet(str(spec))))
            except (InvalidVersion, InvalidSpecifier) as exc:
                raise ParseError(f"{_PATH}: [{member}] {version!r} = {spec!r}: {exc}") from exc
        out[member] = tuple(sorted(rows, key=lambda row: row[0], reverse=True))
    return out


def member_version(member: str, torch_version: str) -> str | None:
    """The newest ``member`` release whose torch requirement ``torch_version`` satisfies (its local label,
    ``+cpu``, ignored), or None when the table knows none."""
    try:
        torch = Version(Version(torch_version).public)
    except InvalidVersion:
        return None
    for version, spec in table().get(member, ()):
        if spec.contains(torch, prereleases=True):
            return str(version)
    return None

"""What an image is, as the sources deliver it: config, layer descriptors and layer entries."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deadweight.errors import UsageError


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform. ``variant`` is optional and only compared when both sides name one."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"bad platform {text!r}: expected os/arch[/variant], e.g. linux/amd64")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def matches(self, other: Platform) -> bool:
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        return self.variant is None or other.variant is None or self.variant == other.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One entry of the config's history; ``empty_layer`` entries have no layer of their own."""

    created_by: str
    created: str | None = None
    empty_layer: bool = False
    comment: str | None = None


@dataclass(frozen=True)
class ImageConfig:
    """The parts of the OCI/Docker image config that deadweight reasons about, plus the raw JSON."""

    digest: str | None
    platform: Platform
    diff_ids: tuple[str, ...]
    history: tuple[HistoryEntry, ...] = ()
    env: tuple[str, ...] = ()
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    working_dir: str = ""
    user: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)

    def env_map(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.env:
            key, _, value = item.partition("=")
            out[key] = value
        return out


class Compression(enum.Enum):
    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"


@dataclass(frozen=True, slots=True)
class LayerDescriptor:
    """A layer as the manifest describes it. Fields a source cannot know are ``None``.

    ``digest`` is the blob digest as stored (compressed for registries/OCI, equal to ``diff_id`` for
    uncompressed docker-archive layers); ``diff_id`` is the sha256 of the uncompressed tar.
    """

    index: int
    digest: str | None
    diff_id: str | None
    media_type: str | None = None
    compressed_size: int | None = None


class EntryKind(enum.Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    WHITEOUT = "whiteout"  # .wh.NAME: deletes NAME from lower layers
    OPAQUE = "opaque"  # .wh..wh..opq: hides every lower-layer child of its directory
    OTHER = "other"  # devices, fifos


@dataclass(frozen=True, slots=True)
class LayerEntry:
    """One tar member of a layer, path normalised: no leading ``/`` or ``./``, no ``..``.

    For WHITEOUT the path is the deleted path (``.wh.`` removed); for OPAQUE it is the directory.
    ``size`` is the tar header size (0 for everything but regular files).
    """

    path: str
    kind: EntryKind
    size: int = 0
    link_target: str | None = None
    mode: int = 0o644

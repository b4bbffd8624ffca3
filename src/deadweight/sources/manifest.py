"""Parse OCI and Docker v2 (schema 2) manifests, indexes and image configs; pick a platform.

Every source that reads manifests (OCI layouts, docker-archive's OCI form, registries) goes through
here, so media types, digest syntax and platform choice are decided once.
"""

from __future__ import annotations

import json
import platform as host_platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deadweight.errors import SourceError
from deadweight.model.image import Compression, HistoryEntry, ImageConfig, LayerDescriptor, Platform
from deadweight.safetext import printable

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)

MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIG_TYPES = frozenset({OCI_CONFIG, DOCKER_CONFIG})

#: Layer media type -> how its blob is compressed (``None``: decide by the magic bytes).
LAYER_COMPRESSION: Mapping[str, Compression | None] = {
    "application/vnd.oci.image.layer.v1.tar": Compression.NONE,
    "application/vnd.oci.image.layer.v1.tar+gzip": Compression.GZIP,
    "application/vnd.oci.image.layer.v1.tar+zstd": Compression.ZSTD,
    "application/vnd.oci.image.layer.nondistributable.v1.tar": Compression.NONE,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": Compression.GZIP,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": Compression.ZSTD,
    "application/vnd.docker.image.rootfs.diff.tar": Compression.NONE,
    "application/vnd.docker.image.rootfs.diff.tar.gzip": Compression.GZIP,
    "application/vnd.docker.image.rootfs.diff.tar.zstd": Compression.ZSTD,
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": Compression.GZIP,
    "application/vnd.docker.image.rootfs.foreign.diff.tar": Compression.NONE,
}
LAYER_TYPES = frozenset(LAYER_COMPRESSION)

#: JSON documents larger than this are refused: real manifests and configs are kilobytes (the largest
#: configs, with long histories and many labels, are a few hundred KB). Parsing costs up to ~20 times the
#: document's size in memory, so this also bounds what a hostile document can make us allocate.
MAX_JSON_BYTES = 4 << 20
#: Arrays and objects nested deeper than this are refused (real documents nest 5 or 6 levels).
MAX_JSON_DEPTH = 64
#: A blob size beyond this is a corrupt or hostile descriptor.
MAX_BLOB_SIZE = 1 << 44  # 16 TiB
#: More layers than this in one manifest or config is a hostile document (Docker stops at 127).
MAX_LAYERS = 1000
#: More entries than this in one index (platforms, or the tags of an OCI layout).
MAX_INDEX_ENTRIES = 10_000
#: More history entries than this in one config (layers plus metadata-only steps).
MAX_HISTORY = 10_000

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$|^sha512:[0-9a-f]{128}$")


@dataclass(frozen=True)
class Manifest:
    """An image manifest: which config, which layers (``diff_id`` unknown until the config is read)."""

    media_type: str | None
    config_digest: str
    config_size: int | None
    layers: tuple[LayerDescriptor, ...]
    config_media_type: str | None = None


@dataclass(frozen=True)
class IndexEntry:
    """One entry of an OCI index or Docker manifest list."""

    digest: str
    media_type: str | None
    size: int | None
    platform: Platform | None
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def is_attestation(self) -> bool:
        """BuildKit attaches provenance/SBOM manifests with platform unknown/unknown."""
        if self.annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            return True
        return self.platform is not None and (self.platform.os, self.platform.architecture) == (
            "unknown",
            "unknown",
        )


def load_json(data: bytes, source: str, what: str) -> Any:
    """Decode a JSON document, refusing absurdly large or deeply nested ones; errors name ``source`` and ``what``."""
    if len(data) > MAX_JSON_BYTES:
        raise SourceError(f"{source}: {what} is too large ({len(data)} bytes, the limit is {MAX_JSON_BYTES})")
    try:
        doc = json.loads(data)
    except RecursionError:
        raise SourceError(f"{source}: {what} is nested too deeply (more than {MAX_JSON_DEPTH} levels)") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise SourceError(f"{source}: {what} is not valid JSON ({printable(str(exc))[:200]})") from None
    if json_depth(doc) > MAX_JSON_DEPTH:
        raise SourceError(f"{source}: {what} is nested too deeply (more than {MAX_JSON_DEPTH} levels)")
    return doc


def json_depth(doc: Any) -> int:
    """How deeply arrays and objects nest in a decoded document (a scalar is 0), walked without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        depth += 1
        if depth > deepest:
            deepest = depth
            if deepest > MAX_JSON_DEPTH:
                return deepest
        stack.extend((child, depth) for child in children if isinstance(child, dict | list))
    return deepest


def _get_str(doc: dict[str, Any], key: str, source: str, what: str) -> str | None:
    """``doc[key]`` when it is a string, ``None`` when absent or null; any other type is an error."""
    value = doc.get(key)
    if value is None or isinstance(value, str):
        return value
    raise SourceError(f"{source}: {what} {key} must be a string, not {_type_name(value)}")


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number",
            str: "a string"}.get(
        type(value), type(value).__name__
    )


def _check_count(items: list[Any], limit: int, source: str, what: str) -> None:
    if len(items) > limit:
        raise SourceError(f"{source}: {what} has {len(items)} entries, more than the limit of {limit}")


def check_digest_syntax(value: Any, source: str, what: str) -> str:
    """Return ``value`` if it is a well-formed ``sha256:``/``sha512:`` digest."""
    if value is None:
        raise SourceError(f"{source}: {what} has no digest")
    if not isinstance(value, str):
        raise SourceError(f"{source}: {what} digest must be a string, not {_type_name(value)}")
    if not _DIGEST.match(value):
        raise SourceError(f"{source}: {what} has a malformed digest: {value[:100]!r}")
    return value


def _size(value: Any, source: str, what: str, *, required: bool = False) -> int | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SourceError(f"{source}: {what} size must be a number, not {_type_name(value)}")
    if value < 0:
        raise SourceError(f"{source}: {what} has an invalid size: {value}")
    if value > MAX_BLOB_SIZE:
        raise SourceError(f"{source}: {what} declares an absurd size ({value} bytes)")
    return value


def _object(value: Any, source: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SourceError(f"{source}: {what} is not a JSON object")
    return value


def _str_map(value: Any) -> dict[str, str]:
    """Annotations and labels: string values only (others are dropped, not guessed at)."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def parse_manifest(data: bytes, source: str) -> Manifest:
    """Parse an OCI image manifest or a Docker v2 schema 2 manifest."""
    doc = _object(load_json(data, source, "manifest"), source, "manifest")
    media_type = _get_str(doc, "mediaType", source, "manifest")
    if media_type in INDEX_TYPES:
        raise SourceError(f"{source}: expected an image manifest, got an index ({media_type})")
    if media_type in DOCKER_SCHEMA1 or doc.get("schemaVersion") == 1:
        raise SourceError(f"{source}: Docker schema 1 manifests are not supported")
    if media_type is not None and media_type not in MANIFEST_TYPES:
        raise SourceError(f"{source}: unknown manifest media type {media_type[:100]!r}")
    config = _object(doc.get("config"), source, "manifest config descriptor")
    config_digest = check_digest_syntax(config.get("digest"), source, "manifest config")
    config_size = _size(config.get("size"), source, "manifest config")
    raw_layers = doc.get("layers")
    if raw_layers is None:
        raise SourceError(f"{source}: manifest has no layers list")
    if not isinstance(raw_layers, list):
        raise SourceError(f"{source}: manifest layers must be a list, not {_type_name(raw_layers)}")
    _check_count(raw_layers, MAX_LAYERS, source, "manifest layers")
    layers: list[LayerDescriptor] = []
    for index, item in enumerate(raw_layers):
        layer = _object(item, source, f"manifest layer {index}")
        layer_type = _get_str(layer, "mediaType", source, f"manifest layer {index}")
        if layer_type not in LAYER_TYPES:
            raise SourceError(f"{source}: layer {index} has unknown media type {str(layer_type)[:100]!r}")
        layers.append(
            LayerDescriptor(
                index=index,
                digest=check_digest_syntax(layer.get("digest"), source, f"manifest layer {index}"),
                diff_id=None,
                media_type=layer_type,
                compressed_size=_size(layer.get("size"), source, f"manifest layer {index}"),
            )
        )
    return Manifest(
        media_type=media_type,
        config_digest=config_digest,
        config_size=config_size,
        layers=tuple(layers),
        config_media_type=_get_str(config, "mediaType", source, "manifest config descriptor"),
    )


def _parse_platform(value: Any) -> Platform | None:
    if not isinstance(value, dict):
        return None
    os_name, arch = value.get("os"), value.get("architecture")
    if not isinstance(os_name, str) or not isinstance(arch, str) or not os_name or not arch:
        return None
    variant = value.get("variant")
    return Platform(os_name, arch, variant if isinstance(variant, str) and variant else None)


def parse_index(data: bytes, source: str) -> list[IndexEntry]:
    """Parse an OCI image index or a Docker manifest list (also an OCI layout's ``index.json``)."""
    doc = _object(load_json(data, source, "index"), source, "index")
    media_type = _get_str(doc, "mediaType", source, "index")
    if media_type is not None and media_type not in INDEX_TYPES:
        raise SourceError(f"{source}: expected an index, got {media_type[:100]!r}")
    raw_entries = doc.get("manifests")
    if not isinstance(raw_entries, list):
        if raw_entries is None:
            raise SourceError(f"{source}: index has no manifests list")
        raise SourceError(f"{source}: index manifests must be a list, not {_type_name(raw_entries)}")
    _check_count(raw_entries, MAX_INDEX_ENTRIES, source, "index manifests")
    entries: list[IndexEntry] = []
    for i, item in enumerate(raw_entries):
        entry = _object(item, source, f"index entry {i}")
        entries.append(
            IndexEntry(
                digest=check_digest_syntax(entry.get("digest"), source, f"index entry {i}"),
                media_type=_get_str(entry, "mediaType", source, f"index entry {i}"),
                size=_size(entry.get("size"), source, f"index entry {i}"),
                platform=_parse_platform(entry.get("platform")),
                annotations=_str_map(entry.get("annotations")),
            )
        )
    return entries


def is_index(media_type: str | None, data: bytes) -> bool:
    """Whether a fetched document is an index: by media type, else by its own fields."""
    if media_type in INDEX_TYPES:
        return True
    if media_type in MANIFEST_TYPES:
        return False
    if len(data) > MAX_JSON_BYTES:
        return False  # the parser that comes next says why
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    if not isinstance(doc, dict):
        return False
    declared = doc.get("mediaType")
    if not isinstance(declared, str):
        declared = None
    if declared in INDEX_TYPES:
        return True
    if declared in MANIFEST_TYPES:
        return False
    return "manifests" in doc and "layers" not in doc


def _str_tuple(value: Any, source: str, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):  # some tools write a bare string; Docker treats it as one argument
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourceError(f"{source}: config {what} is not a list of strings")
    return tuple(value)


def parse_config(data: bytes, digest: str | None, source: str) -> ImageConfig:
    """Parse an image config. ``digest`` is recorded, not checked (see ``streams.check_digest``)."""
    doc = _object(load_json(data, source, "image config"), source, "image config")
    rootfs = doc.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise SourceError(f"{source}: image config has no rootfs.diff_ids")
    _check_count(rootfs["diff_ids"], MAX_LAYERS, source, "image config rootfs.diff_ids")
    diff_ids = tuple(
        check_digest_syntax(d, source, f"config diff id {i}") for i, d in enumerate(rootfs["diff_ids"])
    )
    history: list[HistoryEntry] = []
    raw_history = doc.get("history")
    if raw_history is None:
        raw_history = []
    if not isinstance(raw_history, list):
        raise SourceError(f"{source}: image config history is not a list")
    _check_count(raw_history, MAX_HISTORY, source, "image config history")
    for i, item in enumerate(raw_history):
        if not isinstance(item, dict):
            raise SourceError(f"{source}: image config history entry is not an object")
        what = f"image config history entry {i}"
        created = item.get("created")
        comment = item.get("comment")
        empty = item.get("empty_layer", False)
        if not isinstance(empty, bool | None):
            raise SourceError(f"{source}: {what} empty_layer must be a boolean, not {_type_name(empty)}")
        history.append(
            HistoryEntry(
                created_by=_get_str(item, "created_by", source, what) or "",
                created=created if isinstance(created, str) else None,
                empty_layer=bool(empty),
                comment=comment if isinstance(comment, str) else None,
            )
        )
    cfg = doc.get("config") or {}
    if not isinstance(cfg, dict):
        raise SourceError(f"{source}: image config 'config' is not an object")
    os_name = doc.get("os")
    arch = doc.get("architecture")
    variant = doc.get("variant")
    plat = Platform(
        os_name if isinstance(os_name, str) and os_name else "unknown",
        arch if isinstance(arch, str) and arch else "unknown",
        variant if isinstance(variant, str) and variant else None,
    )
    env = _str_tuple(cfg.get("Env"), source, "Env") or ()
    working_dir = cfg.get("WorkingDir")
    user = cfg.get("User")
    return ImageConfig(
        digest=digest,
        platform=plat,
        diff_ids=diff_ids,
        history=tuple(history),
        env=env,
        cmd=_str_tuple(cfg.get("Cmd"), source, "Cmd"),
        entrypoint=_str_tuple(cfg.get("Entrypoint"), source, "Entrypoint"),
        working_dir=working_dir if isinstance(working_dir, str) else "",
        user=user if isinstance(user, str) else "",
        labels=_str_map(cfg.get("Labels")),
        raw=doc,
    )


_ARCH = {
    "x86_64": ("amd64", None),
    "amd64": ("amd64", None),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "armv5tel": ("arm", "v5"),
    "i386": ("386", None),
    "i686": ("386", None),
    "ppc64le": ("ppc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
    "mips64": ("mips64", None),
    "loongarch64": ("loong64", None),
}


def default_platform() -> Platform:
    """``linux`` with this machine's architecture, spelled as OCI spells it."""
    machine = host_platform.machine().lower()
    arch, variant = _ARCH.get(machine, (machine or "amd64", None))
    return Platform("linux", arch, variant)


def select_platform(entries: list[IndexEntry], wanted: Platform | None, source: str) -> IndexEntry:
    """Pick the index entry for ``wanted`` (or, unset, the only image or this machine's platform).

    Attestation entries are never images. An entry that names no platform (``docker save``'s OCI
    index has none) is taken when it is the only image entry, whatever was asked: the caller can
    compare with the config's platform.
    """
    images = [e for e in entries if not e.is_attestation]
    if not images:
        raise SourceError(f"{source}: index lists no image manifests")

    def available() -> str:
        names = sorted({str(e.platform) if e.platform else "unspecified" for e in images})
        return ", ".join(names)

    if wanted is not None:
        for entry in images:
            if entry.platform is not None and entry.platform.matches(wanted):
                return entry
        if len(images) == 1 and images[0].platform is None:
            return images[0]
        raise SourceError(f"{source}: no image for platform {wanted}; available: {available()}")
    if len(images) == 1:
        return images[0]
    host = default_platform()
    for entry in images:
        if entry.platform is not None and entry.platform.matches(host):
            return entry
    raise SourceError(
        f"{source}: several platforms and none is this machine's ({host}); "
        f"choose one with --platform: {available()}"
    )


def layer_compression(media_type: str | None) -> Compression | None:
    """How a layer with this media type is compressed; ``None`` means look at the magic bytes."""
    if media_type is None:
        return None
    return LAYER_COMPRESSION.get(media_type)

"""``docker-archive:PATH``: a ``docker save`` tarball, legacy layout or the OCI layout of Docker 25+.

The outer tar is read by seeking from header to header (a handful of members), then each layer is
a window over its member: an inspect that only needs tar headers seeks over file data and never
reads it. ``iter_archive_stream`` serves the daemon source, which gets ``docker save`` as a
non-seekable stream and must take layers in the order the engine writes them.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterator
from typing import Any, BinaryIO

from deadweight.errors import SourceError
from deadweight.model.image import Compression, LayerDescriptor, Platform
from deadweight.safetext import printable
from deadweight.sources.archive_select import choose
from deadweight.sources.base import ByteStream, OpenedLayer, SourceOptions
from deadweight.sources.manifest import MAX_INDEX_ENTRIES, MAX_JSON_BYTES, MAX_LAYERS, load_json, parse_config
from deadweight.sources.oci_layout import (
    ResolvedImage,
    StoredImageSource,
    StoredLayer,
    TarStore,
    check_platform,
    digest_of_blob_path,
    resolve_layout,
    safe_archive_path,
)
from deadweight.sources.streams import ReadStream, StreamedLayer, check_digest, sniff_compression
from deadweight.sources.tarstream import BLOCK, iter_headers, normalize_member_path, padding

_LEGACY_MEDIA_TYPES = {
    Compression.NONE: "application/vnd.docker.image.rootfs.diff.tar",
    Compression.GZIP: "application/vnd.docker.image.rootfs.diff.tar.gzip",
    Compression.ZSTD: "application/vnd.docker.image.rootfs.diff.tar.zstd",
}



class DockerArchiveSource(StoredImageSource):
    """A ``docker save`` tar. With several images in it, ``image`` names the one to read (a tag or ``@N``)."""

    def __init__(self, path: str, options: SourceOptions, image: str | None = None) -> None:
        archive = f"docker-archive:{path}"
        ref = archive if image is None else f"{archive}:{image}"
        store = TarStore(path, printable(archive))
        try:
            wanted = Platform.parse(options.platform) if options.platform else None
            if store.has("index.json"):
                resolved = resolve_layout(store, wanted, image)
            elif store.has("manifest.json"):
                resolved = _resolve_legacy(store, wanted, image)
            else:
                raise SourceError(f"{printable(ref)}: not a docker save archive (no manifest.json or index.json)")
        except BaseException:
            store.close()
            raise
        super().__init__(ref, store, resolved, options)


def _config_digest(config_path: str) -> str | None:
    """Legacy archives name the config ``<hex>.json``; Docker 25+ ``blobs/sha256/<hex>``."""
    digest = digest_of_blob_path(config_path)
    if digest:
        return digest
    base = posixpath.basename(config_path)
    stem = base[: -len(".json")] if base.endswith(".json") else ""
    if len(stem) == 64 and all(c in "0123456789abcdef" for c in stem):
        return f"sha256:{stem}"
    return None


def _resolve_legacy(store: TarStore, wanted: Platform | None, selector: str | None) -> ResolvedImage:
    source = store.source
    doc: Any = load_json(store.read_small("manifest.json", "manifest.json"), source, "manifest.json")
    if not isinstance(doc, list) or not doc:
        raise SourceError(f"{source}: manifest.json lists no images")
    if len(doc) > MAX_INDEX_ENTRIES:
        raise SourceError(f"{source}: manifest.json lists {len(doc)} images, more than {MAX_INDEX_ENTRIES}")
    if not all(isinstance(entry, dict) for entry in doc):
        raise SourceError(f"{source}: manifest.json entry is not an object")
    image = doc[choose([_repo_tags(entry) for entry in doc], selector, source)]
    config_path = safe_archive_path(image.get("Config"), source, "manifest.json Config")
    raw_layers = image.get("Layers")
    if not isinstance(raw_layers, list):
        raise SourceError(f"{source}: manifest.json entry has no Layers list")
    if len(raw_layers) > MAX_LAYERS:
        raise SourceError(f"{source}: manifest.json lists {len(raw_layers)} layers, more than {MAX_LAYERS}")
    layer_paths = [safe_archive_path(p, source, f"manifest.json layer {i}") for i, p in enumerate(raw_layers)]

    config_digest = _config_digest(config_path)
    config_data = store.read_small(config_path, "image config", MAX_JSON_BYTES)
    if config_digest is not None:
        check_digest(config_data, config_digest, source, "image config")
    config = parse_config(config_data, config_digest, f"{source} image config")
    check_platform(config, wanted, source)
    if len(config.diff_ids) != len(layer_paths):
        raise SourceError(
            f"{source}: manifest.json lists {len(layer_paths)} layers but the config "
            f"has {len(config.diff_ids)} diff ids"
        )
    layers: list[StoredLayer] = []
    for index, (path, diff_id) in enumerate(zip(layer_paths, config.diff_ids, strict=True)):
        what = f"layer {index}"
        size = store.size(path, what)
        compression = store.sniff(path, what) if size else Compression.NONE
        # The stored bytes are the tar itself when uncompressed, so the blob digest is the diff id.
        digest = digest_of_blob_path(path) or (diff_id if compression is Compression.NONE else None)
        descriptor = LayerDescriptor(
            index=index,
            digest=digest,
            diff_id=diff_id,
            media_type=_LEGACY_MEDIA_TYPES[compression],
            compressed_size=size,
        )
        layers.append(StoredLayer(descriptor, path, compression))
    return ResolvedImage(config, None, tuple(layers))


def _repo_tags(entry: dict[str, Any]) -> tuple[str, ...]:
    tags = entry.get("RepoTags")
    return tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()


class _Bounded:
    """The data of one member of a streamed tar: reads stop at the member's end."""

    def __init__(self, raw: ByteStream, size: int, source: str) -> None:
        self._raw = raw
        self.remaining = size
        self._source = source

    def read(self, n: int = -1, /) -> bytes:
        if n < 0 or n > self.remaining:
            n = self.remaining
        if n == 0:
            return b""
        data = self._raw.read(n)
        if not data:
            raise SourceError(f"{self._source}: truncated archive stream ({self.remaining} bytes missing)")
        self.remaining -= len(data)
        return data

    def skip(self, n: int, /) -> None:
        if n > self.remaining:
            raise SourceError(f"{self._source}: cannot skip past the end of the member")
        self._raw.skip(n)
        self.remaining -= n


class _Head:
    """Serves the peeked start of a member, then the rest of it."""

    def __init__(self, head: bytes, inner: _Bounded) -> None:
        self._head = head
        self._inner = inner

    def read(self, n: int = -1, /) -> bytes:
        if self._head:
            if n < 0:
                n = len(self._head)
            data, self._head = self._head[:n], self._head[n:]
            return data
        return self._inner.read(n)

    def skip(self, n: int, /) -> None:
        taken = min(n, len(self._head))
        self._head = self._head[taken:]
        if n - taken:
            self._inner.skip(n - taken)


def _read_full(stream: ByteStream, n: int) -> bytes:
    chunks: list[bytes] = []
    got = 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _looks_like_layer(head: bytes) -> bool:
    """A blob is a layer candidate if it is compressed, a tar, or an empty tar (all zeros)."""
    if sniff_compression(head) is not Compression.NONE:
        return True
    if len(head) >= 263 and head[257:262] == b"ustar":
        return True
    return len(head) == BLOCK and head.count(0) == BLOCK


def iter_archive_stream(fileobj: BinaryIO, source: str) -> Iterator[OpenedLayer]:
    """Yield each layer of a non-seekable ``docker save`` stream, in the order the engine wrote them.

    Layers are legacy ``*/layer.tar`` members and, in the OCI form, ``blobs/*/*`` members whose first
    block is a tar or compressed (manifests and configs are JSON and are passed over). Each has
    ``descriptor.index == -1``; ``finish()`` drains it and returns the diff id that places it.
    """
    raw = ReadStream(fileobj, source)
    seen: set[str] = set()
    for member_name, _link, size, kind_code, _mode in iter_headers(raw, source):
        name = normalize_member_path(member_name, source)
        pad = padding(size)
        if kind_code == tarfile.DIRTYPE:
            raw.skip(size + pad)
            continue
        if name in seen:
            raise SourceError(f"{source}: duplicate archive member {printable(name)}")
        seen.add(name)
        blob_digest = digest_of_blob_path(name)
        is_legacy_layer = posixpath.basename(name) == "layer.tar"
        if kind_code not in tarfile.REGULAR_TYPES or not (is_legacy_layer or blob_digest):
            raw.skip(size + pad)
            continue
        member = _Bounded(raw, size, f"{source} member {name}")
        head = _read_full(member, min(size, BLOCK))
        if len(head) < min(size, BLOCK):
            raise SourceError(f"{source}: truncated archive stream (member {name})")
        if not is_legacy_layer and not _looks_like_layer(head):
            member.skip(member.remaining)
            raw.skip(pad)
            continue
        descriptor = LayerDescriptor(
            index=-1, digest=blob_digest, diff_id=None, media_type=None, compressed_size=size
        )
        layer = StreamedLayer(descriptor, _Head(head, member), f"{source} {name}", verify=True)
        try:
            yield layer
        finally:
            layer.close()
        if member.remaining:
            member.skip(member.remaining)
        raw.skip(pad)

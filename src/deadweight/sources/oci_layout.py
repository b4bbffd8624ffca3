"""``oci:PATH``: an OCI image layout, as a directory or as a tar of one.

The layout's files are reached through a small store interface (directory or seekable tar), so
the same resolution (index.json, nested indexes, platform, manifest, config) also serves the OCI
form of ``docker save`` archives (see ``docker_archive``). Layers are served as windows over the
blob files: uncompressed layers skip by seeking, and nothing is hashed unless asked to verify.
"""

from __future__ import annotations

import os
import posixpath
import re
import tarfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from deadweight.errors import SourceError
from deadweight.model.image import Compression, ImageConfig, LayerDescriptor, Platform
from deadweight.sources.archive_select import choose
from deadweight.sources.base import ImageSource, OpenedLayer, SourceOptions
from deadweight.sources.manifest import (
    INDEX_TYPES,
    MAX_JSON_BYTES,
    IndexEntry,
    Manifest,
    check_digest_syntax,
    is_index,
    layer_compression,
    parse_config,
    parse_index,
    parse_manifest,
    select_platform,
)
from deadweight.sources.streams import FileWindow, StreamedLayer, check_digest, sniff_compression

#: Nested indexes deeper than this are refused (real ones nest once, for attestations or tags).
MAX_INDEX_DEPTH = 4
#: Symlink/hardlink hops followed inside an archive.
MAX_LINK_HOPS = 8
BLOCK = 512

_BLOB_PATH = re.compile(r"^blobs/(sha256|sha512)/([0-9a-f]{64,128})$")


def blob_path(digest: str) -> str:
    """Where a blob lives in a layout: ``blobs/<algorithm>/<hex>``."""
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def digest_of_blob_path(path: str) -> str | None:
    """The digest a ``blobs/<alg>/<hex>`` path names, else ``None``."""
    match = _BLOB_PATH.match(path)
    return f"{match.group(1)}:{match.group(2)}" if match else None


def safe_archive_path(path: object, source: str, what: str) -> str:
    """Return a manifest-named archive path if it stays inside the archive, else raise."""
    if not isinstance(path, str) or not path or "\x00" in path:
        raise SourceError(f"{source}: {what} names an invalid path: {str(path)[:100]!r}")
    if path.startswith("/") or ".." in path.split("/"):
        raise SourceError(f"{source}: {what} names a path outside the archive: {path[:200]!r}")
    return posixpath.normpath(path)


class _OwnedWindow(FileWindow):
    """A window that owns its file (a blob file in a layout directory) and closes it."""

    def __init__(self, fileobj: BinaryIO, length: int, source: str) -> None:
        super().__init__(fileobj, 0, length, source)
        self._owned = fileobj

    def close(self) -> None:
        self._owned.close()


class LayoutStore(ABC):
    """Files of a layout or archive by relative path; windows over them for streaming."""

    def __init__(self, source: str) -> None:
        self.source = source

    @abstractmethod
    def has(self, path: str) -> bool: ...

    @abstractmethod
    def size(self, path: str, what: str) -> int: ...

    @abstractmethod
    def open_window(self, path: str, what: str) -> FileWindow:
        """A stream over the file; close it (``close()`` where it has one) when done."""

    def read_small(self, path: str, what: str, limit: int = MAX_JSON_BYTES) -> bytes:
        """Read a whole small file (JSON), refusing absurd sizes."""
        size = self.size(path, what)
        if size > limit:
            raise SourceError(f"{self.source}: {what} is absurdly large ({size} bytes)")
        window = self.open_window(path, what)
        try:
            chunks: list[bytes] = []
            while True:
                chunk = window.read(size)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            close = getattr(window, "close", None)
            if close is not None:
                close()

    def sniff(self, path: str, what: str) -> Compression:
        """Compression of a stored file by its first bytes (one small read)."""
        window = self.open_window(path, what)
        try:
            return sniff_compression(window.read(4))
        finally:
            close = getattr(window, "close", None)
            if close is not None:
                close()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release open files."""


class DirStore(LayoutStore):
    """A layout directory on disk."""

    def __init__(self, root: str, source: str) -> None:
        super().__init__(source)
        self._root = root

    def _path(self, path: str) -> str:
        return os.path.join(self._root, *path.split("/"))

    def has(self, path: str) -> bool:
        return os.path.isfile(self._path(path))

    def size(self, path: str, what: str) -> int:
        try:
            return os.stat(self._path(path)).st_size
        except FileNotFoundError:
            raise SourceError(f"{self.source}: missing {what} ({path})") from None
        except OSError as exc:
            raise SourceError(f"{self.source}: cannot read {what} ({path}): {exc.strerror}") from None

    def open_window(self, path: str, what: str) -> FileWindow:
        try:
            fh = open(self._path(path), "rb")  # noqa: SIM115 - the window owns and closes it
        except FileNotFoundError:
            raise SourceError(f"{self.source}: missing {what} ({path})") from None
        except OSError as exc:
            raise SourceError(f"{self.source}: cannot read {what} ({path}): {exc.strerror}") from None
        return _OwnedWindow(fh, os.fstat(fh.fileno()).st_size, f"{self.source} {what}")


def open_archive_file(path: str, source: str) -> BinaryIO:
    """Open a local archive file, turning OS errors into one-line ``SourceError``s."""
    try:
        fh = open(path, "rb")  # noqa: SIM115 - the store owns and closes it
    except FileNotFoundError:
        raise SourceError(f"{source}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{source}: is a directory, expected a tar archive") from None
    except OSError as exc:
        raise SourceError(f"{source}: cannot open ({exc.strerror or exc})") from None
    return fh


class TarStore(LayoutStore):
    """A seekable tar archive: its member table is read once, by seeking from header to header."""

    def __init__(self, path: str, source: str) -> None:
        super().__init__(source)
        self._file = open_archive_file(path, source)
        try:
            self._members = self._read_members()
        except BaseException:
            self._file.close()
            raise

    def _read_members(self) -> dict[str, tarfile.TarInfo]:
        file_size = os.fstat(self._file.fileno()).st_size
        head = self._file.read(512)
        self._file.seek(0)
        if not head:
            raise SourceError(f"{self.source}: empty file, expected a tar archive")
        if sniff_compression(head) is not Compression.NONE:
            kind = sniff_compression(head).value
            raise SourceError(f"{self.source}: archive is {kind}-compressed; decompress it first")
        members: dict[str, tarfile.TarInfo] = {}
        try:
            with tarfile.open(fileobj=self._file, mode="r:") as tar:
                for info in tar:
                    name = posixpath.normpath(info.name.lstrip("/")) if info.name not in ("", ".") else "."
                    if name.startswith("../") or name == "..":
                        raise SourceError(f"{self.source}: archive member escapes the archive: {info.name!r}")
                    if info.isreg() and info.offset_data + info.size > file_size:
                        raise SourceError(f"{self.source}: truncated archive (member {name} is cut short)")
                    previous = members.get(name)
                    if previous is not None and not (previous.isdir() and info.isdir()):
                        raise SourceError(f"{self.source}: duplicate archive member {name}")
                    members[name] = info
                # tarfile stops quietly at a cut or garbled header; a whole archive ends in zero blocks.
                self._file.seek(tar.offset)
                end = self._file.read(BLOCK)
                if members and (len(end) < BLOCK or end.count(0) != BLOCK):
                    raise SourceError(
                        f"{self.source}: truncated or corrupt archive (no end-of-archive marker "
                        f"after {len(members)} members)"
                    )
        except tarfile.TarError as exc:
            if not members:
                raise SourceError(f"{self.source}: not a tar archive ({exc})") from None
            raise SourceError(f"{self.source}: corrupt or truncated tar archive ({exc})") from None
        if not members:
            raise SourceError(f"{self.source}: not a tar archive (no members)")
        return members

    def _resolve(self, path: str, what: str) -> tarfile.TarInfo:
        name = posixpath.normpath(path)
        for _ in range(MAX_LINK_HOPS):
            info = self._members.get(name)
            if info is None:
                raise SourceError(f"{self.source}: missing {what} ({path}) in the archive")
            if info.isreg():
                return info
            if info.issym():
                name = posixpath.normpath(posixpath.join(posixpath.dirname(name), info.linkname))
            elif info.islnk():
                name = posixpath.normpath(info.linkname.lstrip("/"))
            else:
                raise SourceError(f"{self.source}: {what} ({path}) is not a regular file in the archive")
            if name.startswith("../"):
                raise SourceError(f"{self.source}: {what} ({path}) links outside the archive")
        raise SourceError(f"{self.source}: {what} ({path}): too many links")

    def has(self, path: str) -> bool:
        return posixpath.normpath(path) in self._members

    def size(self, path: str, what: str) -> int:
        return self._resolve(path, what).size

    def open_window(self, path: str, what: str) -> FileWindow:
        info = self._resolve(path, what)
        return FileWindow(self._file, info.offset_data, info.size, f"{self.source} {what}")

    def names(self) -> list[str]:
        return list(self._members)

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class StoredLayer:
    """Where a layer's blob is in the store and how it is compressed (``None``: sniff)."""

    descriptor: LayerDescriptor
    path: str
    compression: Compression | None


@dataclass(frozen=True)
class ResolvedImage:
    """An image found in a store: its config, manifest digest (if any) and layers in order."""

    image_config: ImageConfig
    manifest_digest: str | None
    layers: tuple[StoredLayer, ...]


def check_platform(image_config: ImageConfig, wanted: Platform | None, source: str) -> None:
    """Refuse an image whose config says it is for another platform than the one asked for."""
    if wanted is None or image_config.platform.os == "unknown" or image_config.platform.architecture == "unknown":
        return
    if not image_config.platform.matches(wanted):
        raise SourceError(f"{source}: image is {image_config.platform}, not the requested {wanted}")


def _read_blob(store: LayoutStore, digest: str, size: int | None, what: str) -> bytes:
    path = blob_path(digest)
    actual = store.size(path, what)
    if size is not None and actual != size:
        raise SourceError(f"{store.source}: {what} is {actual} bytes, the descriptor says {size}")
    data = store.read_small(path, what)
    check_digest(data, digest, store.source, what)
    return data


#: The tag an OCI layout gives an index entry (``skopeo copy ... oci:DIR:TAG``, ``docker save`` on 25+).
REF_NAME = "org.opencontainers.image.ref.name"


def _pick_image(
    entries: list[IndexEntry], wanted: Platform | None, selector: str | None, source: str
) -> IndexEntry:
    """The top of index.json: several images (``docker save a b``, a layout with many tags) are told apart by
    name; entries for the platforms of one image (no names, or the same name) are chosen by platform."""
    images = [e for e in entries if not e.is_attestation]
    names = [_ref_names(e) for e in images]
    several = len(images) > 1 and (
        all(e.platform is None for e in images) or (wanted is None and len(set(names)) > 1)
    )
    if selector is None and not several:
        return select_platform(entries, wanted, f"{source} index.json")
    return images[choose(names, selector, source)]


def _ref_names(entry: IndexEntry) -> tuple[str, ...]:
    names = (entry.annotations.get("io.containerd.image.name"), entry.annotations.get(REF_NAME))
    return tuple(n for n in names if n)


def resolve_layout(store: LayoutStore, wanted: Platform | None, selector: str | None = None) -> ResolvedImage:
    """index.json -> (nested indexes) -> manifest -> config; digests of these are always checked."""
    source = store.source
    data = store.read_small("index.json", "index.json")
    entries = parse_index(data, f"{source} index.json")
    entry = _pick_image(entries, wanted, selector, source)
    for _ in range(MAX_INDEX_DEPTH):
        what = f"manifest {entry.digest[:19]}"
        data = _read_blob(store, entry.digest, entry.size, what)
        if entry.media_type in INDEX_TYPES or (entry.media_type is None and is_index(None, data)):
            entries = parse_index(data, f"{source} index {entry.digest[:19]}")
            entry = select_platform(entries, wanted, f"{source} index {entry.digest[:19]}")
            continue
        manifest = parse_manifest(data, f"{source} {what}")
        return _resolve_manifest(store, manifest, entry.digest, wanted)
    raise SourceError(f"{source}: indexes nested more than {MAX_INDEX_DEPTH} deep")


def _resolve_manifest(
    store: LayoutStore, manifest: Manifest, manifest_digest: str, wanted: Platform | None
) -> ResolvedImage:
    source = store.source
    config_data = _read_blob(store, manifest.config_digest, manifest.config_size, "image config")
    config = parse_config(config_data, manifest.config_digest, f"{source} image config")
    check_platform(config, wanted, source)
    if len(config.diff_ids) != len(manifest.layers):
        raise SourceError(
            f"{source}: manifest lists {len(manifest.layers)} layers but the config "
            f"has {len(config.diff_ids)} diff ids"
        )
    layers: list[StoredLayer] = []
    for desc, diff_id in zip(manifest.layers, config.diff_ids, strict=True):
        digest = check_digest_syntax(desc.digest, source, f"layer {desc.index}")
        layers.append(
            StoredLayer(
                LayerDescriptor(
                    index=desc.index,
                    digest=digest,
                    diff_id=diff_id,
                    media_type=desc.media_type,
                    compressed_size=desc.compressed_size,
                ),
                blob_path(digest),
                layer_compression(desc.media_type),
            )
        )
    return ResolvedImage(config, manifest_digest, tuple(layers))


class StoredImageSource(ImageSource):
    """An image whose blobs sit in a local store (layout directory, layout tar, docker save tar)."""

    def __init__(self, ref: str, store: LayoutStore, resolved: ResolvedImage, options: SourceOptions) -> None:
        self.ref = ref
        self._store = store
        self._resolved = resolved
        self._verify = options.verify

    @property
    def manifest_digest(self) -> str | None:
        return self._resolved.manifest_digest

    def config(self) -> ImageConfig:
        return self._resolved.image_config

    def layers(self) -> Sequence[LayerDescriptor]:
        return [layer.descriptor for layer in self._resolved.layers]

    def iter_layers(self, *, verify: bool = False) -> Iterator[OpenedLayer]:
        verify = verify or self._verify
        for stored in self._resolved.layers:
            desc = stored.descriptor
            what = f"layer {desc.index}"
            label = f"{self.ref} layer {desc.index}" + (f" ({desc.digest[:19]})" if desc.digest else "")
            window = self._store.open_window(stored.path, what)
            if desc.compressed_size is not None and window.remaining != desc.compressed_size:
                size = window.remaining
                getattr(window, "close", lambda: None)()
                raise SourceError(
                    f"{label}: blob is {size} bytes, the manifest says {desc.compressed_size}"
                )
            layer = StreamedLayer(desc, window, label, verify=verify, compression=stored.compression)
            try:
                yield layer
            finally:
                layer.close()

    def close(self) -> None:
        self._store.close()


class OciLayoutSource(StoredImageSource):
    """``oci:PATH``: an OCI image layout directory, or a tar of one."""

    def __init__(self, path: str, options: SourceOptions, image: str | None = None) -> None:
        layout = f"oci:{path}"
        ref = layout if image is None else f"{layout}:{image}"
        store: LayoutStore
        if os.path.isdir(path):
            store = DirStore(path, layout)
        elif os.path.exists(path):
            store = TarStore(path, layout)
        else:
            raise SourceError(f"{layout}: no such file or directory")
        try:
            if not store.has("index.json"):
                raise SourceError(f"{layout}: not an OCI image layout (no index.json)")
            wanted = Platform.parse(options.platform) if options.platform else None
            resolved = resolve_layout(store, wanted, image)
        except BaseException:
            store.close()
            raise
        super().__init__(ref, store, resolved, options)

"""``oci:PATH``: an OCI image layout, as a directory or as a tar of one.

The layout's files are reached through a small store interface (directory or seekable tar), so
the same resolution (index.json, nested indexes, platform, manifest, config) also serves the OCI
form of ``docker save`` archives (see ``docker_archive``). Layers are served as windows over the
blob files: uncompressed layers skip by seeking, and nothing is hashed unless asked to verify.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
import stat
import tarfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from deadweight.errors import SourceError
from deadweight.model.image import Compression, ImageConfig, LayerDescriptor, Platform
from deadweight.safetext import printable
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
from deadweight.sources.tarstream import BLOCK, iter_headers, padding

#: Nested indexes deeper than this are refused (real ones nest once, for attestations or tags).
MAX_INDEX_DEPTH = 4
#: Symlink/hardlink hops followed inside an archive.
MAX_LINK_HOPS = 8
#: Members of an outer archive (``docker save`` writes about four per layer).
MAX_ARCHIVE_MEMBERS = 100_000

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
            raise SourceError(f"{self.source}: {what} is too large ({size} bytes, the limit is {limit})")
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


def _open_regular(path: str) -> BinaryIO:
    """Open ``path`` for reading without ever blocking, and only if it is a regular file.

    ``O_NONBLOCK`` keeps ``open`` of a FIFO from waiting for a writer forever; the ``fstat`` check then
    refuses FIFOs, devices (a symlink to ``/dev/zero``) and sockets with ``NotARegularFile``.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFileError(_file_kind(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class NotARegularFileError(OSError):
    """What ``_open_regular`` raises for a FIFO, device, socket or directory; the message names the kind."""


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, NotARegularFileError):
        return f"is {exc.args[0]}, not a regular file" if not exc.args[0].startswith("not") else exc.args[0]
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return exc.strerror or str(exc)


class DirStore(LayoutStore):
    """A layout directory on disk. Only regular files (or symlinks to them) are read."""

    def __init__(self, root: str, source: str) -> None:
        super().__init__(source)
        self._root = root

    def _path(self, path: str) -> str:
        return os.path.join(self._root, *path.split("/"))

    def has(self, path: str) -> bool:
        return os.path.lexists(self._path(path))

    def size(self, path: str, what: str) -> int:
        try:
            info = os.stat(self._path(path))
        except FileNotFoundError:
            raise SourceError(f"{self.source}: missing {what} ({path})") from None
        except OSError as exc:
            raise SourceError(f"{self.source}: cannot read {what} ({path}): {_os_reason(exc)}") from None
        if not stat.S_ISREG(info.st_mode):
            raise SourceError(f"{self.source}: {what} ({path}) is {_file_kind(info.st_mode)}, not a regular file")
        return info.st_size

    def open_window(self, path: str, what: str) -> FileWindow:
        try:
            fh = _open_regular(self._path(path))
        except FileNotFoundError:
            raise SourceError(f"{self.source}: missing {what} ({path})") from None
        except OSError as exc:
            raise SourceError(f"{self.source}: cannot read {what} ({path}): {_os_reason(exc)}") from None
        return _OwnedWindow(fh, os.fstat(fh.fileno()).st_size, f"{self.source} {what}")


def open_archive_file(path: str, source: str) -> BinaryIO:
    """Open a local archive file, turning OS errors into one-line ``SourceError``s.

    Only a regular file is an archive: a FIFO (``<(docker save app)``) is refused rather than waited on,
    since the archive is read by seeking; a device or a directory is refused too.
    """
    try:
        return _open_regular(path)
    except FileNotFoundError:
        raise SourceError(f"{source}: no such file") from None
    except NotARegularFileError as exc:
        hint = "; save the stream to a file first, or read the engine with docker:NAME" if "FIFO" in exc.args[0] else ""
        raise SourceError(f"{source}: {_os_reason(exc)}, expected a tar archive{hint}") from None
    except OSError as exc:
        raise SourceError(f"{source}: cannot open ({_os_reason(exc)})") from None


@dataclass(frozen=True, slots=True)
class _Member:
    """One member of an archive's table: where its data is, what it is."""

    offset: int
    size: int
    kind: bytes
    link: str

    def isreg(self) -> bool:
        return self.kind in _REGULAR

    def isdir(self) -> bool:
        return self.kind == tarfile.DIRTYPE


_REGULAR = frozenset({tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE})
_NO_DATA = frozenset({tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.DIRTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE,
                      tarfile.FIFOTYPE})


class TarStore(LayoutStore):
    """A seekable tar archive: its member table is read once, by seeking from header to header.

    The headers go through the same strict reader as layers (``tarstream.iter_headers``): a malformed pax
    record, a bad checksum, a cut header or a missing end-of-archive marker is an error, never a quiet stop.
    """

    def __init__(self, path: str, source: str) -> None:
        super().__init__(source)
        self._file = open_archive_file(path, source)
        try:
            self._members = self._read_members()
        except BaseException:
            self._file.close()
            raise

    def _read_members(self) -> dict[str, _Member]:
        file_size = os.fstat(self._file.fileno()).st_size
        head = self._file.read(BLOCK)
        if not head:
            raise SourceError(f"{self.source}: empty file, expected a tar archive")
        compression = sniff_compression(head)
        if compression is not Compression.NONE:
            raise SourceError(f"{self.source}: archive is {compression.value}-compressed; decompress it first")
        if len(head) < BLOCK:
            raise SourceError(f"{self.source}: not a tar archive (shorter than one tar block)")
        if head.count(0) == BLOCK:
            raise SourceError(f"{self.source}: not a tar archive (no members)")
        try:
            tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
        except tarfile.HeaderError as exc:
            raise SourceError(f"{self.source}: not a tar archive ({exc})") from None
        window = FileWindow(self._file, 0, file_size, self.source)
        members: dict[str, _Member] = {}
        for member_name, link, size, kind, _mode in iter_headers(window, self.source, require_end_marker=True):
            offset = file_size - window.remaining
            name = posixpath.normpath(member_name.lstrip("/")) if member_name not in ("", ".") else "."
            if name.startswith("../") or name == "..":
                raise SourceError(f"{self.source}: archive member escapes the archive: {member_name!r}")
            data = 0 if kind in _NO_DATA else size
            if offset + data > file_size:
                raise SourceError(f"{self.source}: truncated archive (member {printable(name)} is cut short)")
            member = _Member(offset, size, kind, link)
            previous = members.get(name)
            if previous is not None and not (previous.isdir() and member.isdir()):
                raise SourceError(f"{self.source}: duplicate archive member {printable(name)}")
            if len(members) >= MAX_ARCHIVE_MEMBERS:
                raise SourceError(f"{self.source}: more than {MAX_ARCHIVE_MEMBERS} archive members")
            members[name] = member
            window.skip(data + padding(data))
        if not members:
            raise SourceError(f"{self.source}: not a tar archive (no members)")
        return members

    def _resolve(self, path: str, what: str) -> _Member:
        name = posixpath.normpath(path)
        for _ in range(MAX_LINK_HOPS):
            info = self._members.get(name)
            if info is None:
                raise SourceError(f"{self.source}: missing {what} ({path}) in the archive")
            if info.isreg():
                return info
            if info.kind == tarfile.SYMTYPE:
                name = posixpath.normpath(posixpath.join(posixpath.dirname(name), info.link))
            elif info.kind == tarfile.LNKTYPE:
                name = posixpath.normpath(info.link.lstrip("/"))
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
        return FileWindow(self._file, info.offset, info.size, f"{self.source} {what}")

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
            label = f"{printable(self.ref)} layer {desc.index}" + (f" ({desc.digest[:19]})" if desc.digest else "")
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
        ref = f"oci:{path}" if image is None else f"oci:{path}:{image}"
        layout = printable(f"oci:{path}")
        store: LayoutStore
        if os.path.isdir(path):
            store = DirStore(path, layout)
        elif os.path.exists(path):
            store = TarStore(path, layout)
        elif os.path.lexists(path):
            raise SourceError(f"{layout}: a dangling symlink or a symlink loop")
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

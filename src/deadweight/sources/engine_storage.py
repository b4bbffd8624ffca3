"""The engine storage fast path: read a local Docker image's layers from the engine's own files.

``docker save`` makes the engine re-tar every byte of an image (about 50 s for 5 GB here). But the engine
keeps, for every layer it stores with overlay2, the *tar-split* record of the layer's tar: the exact
bytes of every tar header (pax and GNU extension headers, padding and end marker included), in order,
and for each member with data only its name and size. ``docker save`` itself rebuilds each layer tar
from that record plus the file contents in the layer's overlay2 ``diff`` directory. This module does the
same, lazily: :class:`TarSplitStream` is a ``ByteStream`` whose bytes are the very tar ``docker save``
would send, but member data is read from the ``diff`` directory only when the scan reads it (the few
files the inventory wants); ``skip`` over the rest costs nothing. The layer scan is the one the
``docker save`` path runs, on the same bytes, so the analysis (and its JSON) is identical by
construction: whiteouts come as the ``.wh.`` members the engine wrote, hard links as the engine ordered
them, modes, sizes and link targets from the same headers.

Why tar-split and not a walk of the ``diff`` directory: a directory cannot say in which order the
layer's tar listed its members, which decides which name of a hard-linked file carries its bytes, and a
layer the engine imported or pulled keeps the order of the tar it came in. The record is the engine's.

Where the files are comes from the engine, not guesses: ``docker info`` gives ``DockerRootDir`` and the
driver, ``docker image inspect`` gives ``RootFS.Layers`` (the diff ids) and ``GraphDriver`` (each
layer's ``diff`` directory). The layer store keys a layer by its chain id
(``ROOT/image/overlay2/layerdb/sha256/CHAIN/`` holding ``diff``, ``cache-id`` and
``tar-split.json.gz``); :func:`locate` checks that each record names the diff id the image lists and the
directory ``GraphDriver`` reports. Anything else (another driver, a missing or unreadable file, an
engine whose storage is not this machine's) gives a reason, and the caller streams ``docker save``.
"""

from __future__ import annotations

import base64
import binascii
import errno
import gzip
import hashlib
import json
import os
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any

from deadweight.errors import DigestMismatchError, SourceError
from deadweight.model.image import LayerDescriptor
from deadweight.sources.base import ByteStream, OpenedLayer
from deadweight.sources.tarstream import normalize_member_path

#: tar-split entry types (github.com/vbatts/tar-split/tar/storage): raw bytes, and a member's data.
SEGMENT = 2
FILE = 1

READ_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class StoredLayer:
    """Where one layer of an image lives in the engine's storage."""

    diff_id: str
    diff_dir: str  # the layer's overlay2 ``diff`` directory: member data
    tar_split: str  # ``tar-split.json.gz``: the tar's headers, in order


def chain_ids(diff_ids: Sequence[str]) -> list[str]:
    """OCI chain ids: ``chain(0) = diff(0)``, ``chain(n) = sha256(chain(n-1) + " " + diff(n))``."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest())
    return out


def _why(exc: OSError, path: str) -> str:
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{path}: permission denied"
    if exc.errno == errno.ENOENT:
        return f"{path}: missing"
    return f"{path}: {exc.strerror or exc}"


def _read_small(path: str) -> str:
    with open(path, encoding="ascii", errors="replace") as handle:
        return handle.read(4096).strip()


def locate(inspect: Mapping[str, Any], info: Mapping[str, Any]) -> tuple[list[StoredLayer] | None, str | None]:
    """Each layer's storage, bottom first, from ``image inspect`` and ``info``; or ``None`` and why not."""
    driver = (inspect.get("GraphDriver") or {}).get("Name") or info.get("Driver") or "unknown"
    if driver != "overlay2":
        return None, f"the storage driver is {driver}, not overlay2"
    root = info.get("DockerRootDir")
    if not isinstance(root, str) or not root:
        return None, "the engine did not say where its storage is (no DockerRootDir)"
    diff_ids = list((inspect.get("RootFS") or {}).get("Layers") or [])
    if not diff_ids:
        return None, "the image lists no layers"
    data = (inspect.get("GraphDriver") or {}).get("Data") or {}
    upper = data.get("UpperDir")
    lower = [d for d in str(data.get("LowerDir") or "").split(":") if d]
    reported = [os.path.normpath(d) for d in [*reversed(lower), upper] if isinstance(d, str) and d]
    layerdb = os.path.join(root, "image", "overlay2", "layerdb", "sha256")
    layers: list[StoredLayer] = []
    for diff_id, chain in zip(diff_ids, chain_ids(diff_ids), strict=True):
        record = os.path.join(layerdb, chain.removeprefix("sha256:"))
        try:
            listed = _read_small(os.path.join(record, "diff"))
            cache_id = _read_small(os.path.join(record, "cache-id"))
        except OSError as exc:
            return None, _why(exc, exc.filename or record)
        if listed != diff_id:
            return None, f"{record}: the layer store names {listed or 'no diff id'}, the image {diff_id}"
        if not cache_id or "/" in cache_id or cache_id in (".", ".."):
            return None, f"{record}/cache-id: not a layer directory name"
        diff_dir = os.path.join(root, "overlay2", cache_id, "diff")
        tar_split = os.path.join(record, "tar-split.json.gz")
        for path, mode in ((tar_split, os.R_OK), (diff_dir, os.R_OK | os.X_OK)):
            if not os.path.exists(path):
                return None, f"{path}: missing"
            if not os.access(path, mode):
                return None, f"{path}: permission denied"
        if not os.path.isdir(diff_dir):
            return None, f"{diff_dir}: not a directory"
        layers.append(StoredLayer(diff_id, diff_dir, tar_split))
    found = [os.path.normpath(layer.diff_dir) for layer in layers]
    if reported != found:
        return None, "the engine's GraphDriver directories do not match its layer store (not this machine's storage?)"
    return layers, None


_SEGMENT_HEAD = b'{"type":2,"payload":"'
_FILE_HEAD = b'{"type":1,'


def _segment(entry: Any) -> bytes:
    """The raw bytes of a segment entry parsed as JSON (raises on anything else)."""
    if entry["type"] != SEGMENT:
        raise ValueError(f"unknown entry type {entry['type']!r}")
    payload = entry.get("payload")
    return base64.b64decode(payload) if payload else b""


class TarSplitStream:
    """The layer tar ``docker save`` sends, rebuilt from the tar-split record and the ``diff`` directory.

    Headers come from the record; a member's data is read from its file only when ``read`` asks for it,
    and ``skip`` over data opens nothing. With ``digest`` every byte (data included) is hashed, so
    ``skip`` reads what it passes over: that is what ``--verify`` costs.
    """

    def __init__(self, layer: StoredLayer, source: str, *, digest: bool = False) -> None:
        self._layer = layer
        self._source = source
        try:
            self._raw: IO[bytes] = open(layer.tar_split, "rb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            why = _why(exc, layer.tar_split)
            raise SourceError(f"{source}: cannot read the engine's layer record ({why})") from None
        self._lines = gzip.GzipFile(fileobj=self._raw, mode="rb")
        self._buf = b""
        self._pos = 0
        self._name = ""  # the member whose data comes next (decoded from ``_entry`` when its data is read)
        self._entry = b""
        self._left = 0  # data bytes of that member not yet passed
        self._offset = 0  # data bytes of that member passed
        self._file: IO[bytes] | None = None
        self._hash = hashlib.sha256() if digest else None
        self._done = False

    # -- the record ------------------------------------------------------------------------

    def _next_part(self) -> bool:
        """Load the next segment into the buffer or the next member's data as pending; False at the end.

        Go writes each entry with its fields in a fixed order (type, name, name_raw, size, payload,
        position), so the common lines are sliced rather than parsed: a JSON parse per line was a third
        of the scan. A member's name is decoded only when its data is read; anything unexpected takes
        the JSON parser.
        """
        self._close_file()
        while True:
            try:
                line = self._lines.readline()
            except (OSError, EOFError, zlib.error) as exc:
                raise SourceError(f"{self._source}: corrupt layer record {self._layer.tar_split} ({exc})") from None
            if not line:
                self._done = True
                return False
            try:
                if line.startswith(_SEGMENT_HEAD):
                    end = line.find(b'"', len(_SEGMENT_HEAD))
                    data = base64.b64decode(line[len(_SEGMENT_HEAD) : end]) if end > 0 else None
                    if data is None:
                        data = _segment(json.loads(line))
                elif line.startswith(_FILE_HEAD):
                    at = line.rfind(b'"size":')
                    if at < 0:
                        continue  # no data: a directory, link or empty file
                    cut = at + 7
                    stop = cut
                    while line[stop : stop + 1].isdigit():
                        stop += 1
                    size = int(line[cut:stop])
                    if size > 0:
                        self._name, self._entry, self._left, self._offset = "", line, size, 0
                        return True
                    continue
                elif not line.strip():
                    continue
                else:
                    entry = json.loads(line)
                    if entry.get("type") == FILE:
                        size = int(entry.get("size") or 0)
                        if size > 0:
                            self._name, self._entry, self._left, self._offset = "", line, size, 0
                            return True
                        continue
                    data = _segment(entry)
            except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
                raise SourceError(f"{self._source}: corrupt layer record {self._layer.tar_split} ({exc})") from None
            if data:
                self._buf, self._pos = data, 0
                return True

    def _member_name(self) -> str:
        if not self._name:
            try:
                entry = json.loads(self._entry)
                raw = entry.get("name_raw")
                name = base64.b64decode(raw).decode("utf-8", "surrogateescape") if raw else str(entry.get("name") or "")
            except (ValueError, TypeError, AttributeError, binascii.Error) as exc:
                raise SourceError(f"{self._source}: corrupt layer record {self._layer.tar_split} ({exc})") from None
            self._name = name
        return self._name

    # -- member data -----------------------------------------------------------------------

    def _open(self) -> IO[bytes]:
        if self._file is None:
            rel = normalize_member_path(self._member_name(), self._source)
            path = os.path.join(self._layer.diff_dir, rel)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
            except OSError as exc:
                why = _why(exc, path)
                raise SourceError(f"{self._source}: cannot read /{rel} from the engine's storage ({why})") from None
            handle = os.fdopen(fd, "rb", buffering=0)
            if self._offset:
                handle.seek(self._offset)
            self._file = handle
        return self._file

    def _data(self, n: int) -> bytes:
        data = self._open().read(min(n, self._left))
        if not data:
            name = self._member_name().lstrip("./")
            raise SourceError(f"{self._source}: /{name} in the engine's storage is shorter than its tar header says")
        return data

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _ready(self) -> bool:
        """Make sure a part with bytes left is current; False at the end of the record."""
        while self._pos >= len(self._buf) and self._left == 0:
            if self._done or not self._next_part():
                return False
        return True

    def _pass_data(self, n: int) -> int:
        """Pass up to ``n`` bytes of member data unread (read and hashed when computing the digest)."""
        if self._hash is not None:
            data = self._data(min(n, READ_CHUNK))
            self._hash.update(data)
            step = len(data)
        else:
            step = min(n, self._left)
            self._close_file()
        self._left -= step
        self._offset += step
        return step

    # -- ByteStream -------------------------------------------------------------------------

    def read(self, n: int = -1, /) -> bytes:
        if n is None or n < 0:
            chunks = []
            while chunk := self.read(READ_CHUNK):
                chunks.append(chunk)
            return b"".join(chunks)
        out: list[bytes] = []
        want = n
        while want > 0 and self._ready():
            if self._pos < len(self._buf):
                data = self._buf[self._pos : self._pos + want]
                self._pos += len(data)
            else:
                data = self._data(want)
                self._left -= len(data)
                self._offset += len(data)
            if self._hash is not None:
                self._hash.update(data)
            out.append(data)
            want -= len(data)
        return out[0] if len(out) == 1 else b"".join(out)

    def skip(self, n: int, /) -> None:
        left = n
        while left > 0:
            if not self._ready():
                raise SourceError(f"{self._source}: truncated tar (the layer record ended early)")
            if self._pos < len(self._buf):
                step = min(left, len(self._buf) - self._pos)
                if self._hash is not None:
                    self._hash.update(self._buf[self._pos : self._pos + step])
                self._pos += step
            else:
                step = self._pass_data(left)
            left -= step

    def drain(self) -> None:
        """Pass every remaining byte (hashing it when a digest is computed)."""
        while self._ready():
            if self._pos < len(self._buf):
                if self._hash is not None:
                    self._hash.update(self._buf[self._pos :])
                self._pos = len(self._buf)
            else:
                self._pass_data(self._left)

    def hexdigest(self) -> str | None:
        return None if self._hash is None else "sha256:" + self._hash.hexdigest()

    def close(self) -> None:
        self._close_file()
        self._lines.close()
        self._raw.close()


class StoredOpenedLayer(OpenedLayer):
    """One layer read from the engine's storage. ``finish()`` returns the diff id the engine's layer store
    records for it (recomputed from every byte, and checked, when ``verify`` was asked for)."""

    def __init__(self, descriptor: LayerDescriptor, layer: StoredLayer, source: str, *, verify: bool) -> None:
        self.descriptor = descriptor
        self._layer = layer
        self._source = source
        self._verify = verify
        self._stream = TarSplitStream(layer, source, digest=verify)

    @property
    def stream(self) -> ByteStream:
        return self._stream

    def finish(self) -> str | None:
        try:
            if self._verify:
                self._stream.drain()
                computed = self._stream.hexdigest()
                if computed != self._layer.diff_id:
                    raise DigestMismatchError(
                        f"{self._source}: layer {self._layer.diff_id} in the engine's storage hashes to {computed}"
                    )
        finally:
            self._stream.close()
        return self._layer.diff_id


def iter_stored_layers(
    layers: Sequence[StoredLayer], descriptors: Sequence[LayerDescriptor], source: str, *, verify: bool
) -> Iterator[OpenedLayer]:
    """Each layer in image order, opened from the engine's storage."""
    for descriptor, layer in zip(descriptors, layers, strict=True):
        opened = StoredOpenedLayer(descriptor, layer, source, verify=verify)
        try:
            yield opened
        finally:
            opened._stream.close()

"""Byte streams the sources hand out: file windows, read adapters, hashing, decompression.

Layers can be many GB, so everything here works in bounded memory and big chunks: a window over
an archive member seeks to skip (an inspect that only needs tar headers never reads file data),
hashing is only layered in when digests must be checked, and decompression streams with the
fastest binding available (ISA-L for gzip). A layer whose digests are checked is read, hashed and
inflated ahead in worker threads (readahead.py) so that work overlaps with parsing.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from collections.abc import Callable
from typing import Any, BinaryIO, cast

import zstandard
from isal import igzip, igzip_threaded

from deadweight.errors import DigestMismatchError, SourceError
from deadweight.model.image import Compression, LayerDescriptor
from deadweight.sources.base import ByteStream, OpenedLayer
from deadweight.sources.readahead import ReadAhead, pipelined

#: Chunk size for skipping by reading and for draining.
CHUNK = 1 << 20

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(data: bytes, digest: str, source: str, what: str) -> None:
    """Raise ``DigestMismatchError`` unless ``data`` hashes to ``digest`` (only sha256 is checked).

    Small blobs (configs, manifests) are held in memory anyway, so checking them is always cheap.
    """
    algorithm, _, expected = digest.partition(":")
    if algorithm != "sha256":
        return
    actual = hashlib.sha256(data).hexdigest()
    if not hmac.compare_digest(actual, expected):
        raise DigestMismatchError(f"{source}: {what} digest mismatch: expected {digest}, got sha256:{actual}")


class FileWindow:
    """A ``ByteStream`` over bytes ``[offset, offset+length)`` of an open, seekable binary file.

    It seeks before every read, so several windows over one archive file stay independent, and
    ``skip()`` is a seek: skipping a 2 GB member costs nothing.
    """

    def __init__(self, fileobj: BinaryIO, offset: int, length: int, source: str) -> None:
        self._file = fileobj
        self._offset = offset
        self._length = length
        self._pos = 0
        self._source = source

    @property
    def remaining(self) -> int:
        return self._length - self._pos

    def read(self, n: int = -1, /) -> bytes:
        left = self._length - self._pos
        if n < 0 or n > left:
            n = left
        if n == 0:
            return b""
        try:
            self._file.seek(self._offset + self._pos)
            data = self._file.read(n)
        except OSError as exc:
            raise SourceError(f"{self._source}: read failed ({exc.strerror or exc})") from None
        if not data:
            raise SourceError(f"{self._source}: truncated: file ended {left} bytes before the member's end")
        self._pos += len(data)
        return data

    def skip(self, n: int, /) -> None:
        if n < 0:
            raise ValueError("skip() needs a non-negative count")
        if n > self._length - self._pos:
            raise SourceError(f"{self._source}: truncated: cannot skip {n} bytes past the member's end")
        self._pos += n


class ReadStream:
    """A ``ByteStream`` over anything with ``read(n)`` (a socket file, an HTTP body, a pipe).

    ``skip()`` reads and discards in 1 MiB chunks, since such objects cannot seek.
    """

    def __init__(self, raw: Any, source: str) -> None:
        self._raw = raw
        self._source = source

    def read(self, n: int = -1, /) -> bytes:
        try:
            data: bytes = self._raw.read(n)
        except OSError as exc:
            raise SourceError(f"{self._source}: read failed ({exc.strerror or exc})") from None
        return data or b""

    def skip(self, n: int, /) -> None:
        _skip_by_reading(self.read, n, self._source)

    def close(self) -> None:
        close = getattr(self._raw, "close", None)
        if close is not None:
            close()


class ChunkStream:
    """``read(n)`` over a source that yields chunks of whatever size it likes (an HTTP body, the Engine API's
    ``docker save`` generator). Subclasses implement ``_next_chunk()``, returning ``b""`` at the end."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._eof = False

    def _next_chunk(self) -> bytes:
        raise NotImplementedError

    def read(self, n: int = -1, /) -> bytes:
        while not self._eof and (n < 0 or len(self._buffer) < n):
            chunk = self._next_chunk()
            if not chunk:
                self._eof = True
                break
            self._buffer += chunk
        if n < 0 or n >= len(self._buffer):
            out = bytes(self._buffer)
            self._buffer.clear()
        else:
            out = bytes(self._buffer[:n])
            del self._buffer[:n]
        return out


def _skip_by_reading(read: Callable[[int], bytes], n: int, source: str) -> None:
    if n < 0:
        raise ValueError("skip() needs a non-negative count")
    while n > 0:
        chunk = read(min(n, CHUNK))
        if not chunk:
            raise SourceError(f"{source}: truncated: stream ended {n} bytes early")
        n -= len(chunk)


class HashingStream:
    """A ``ByteStream`` that sha256-hashes every byte that passes, read or skipped.

    Skipping must then read; that is the price of ``--verify``, and why it is opt-in for local files.
    """

    def __init__(self, inner: ByteStream, source: str, expected: str | None = None) -> None:
        self._inner = inner
        self._source = source
        self.expected = expected
        self._hash = hashlib.sha256()
        self.bytes_read = 0

    def read(self, n: int = -1, /) -> bytes:
        data = self._inner.read(n)
        if data:
            self._hash.update(data)
            self.bytes_read += len(data)
        return data

    def skip(self, n: int, /) -> None:
        _skip_by_reading(self.read, n, self._source)

    def drain(self) -> None:
        """Read to the end, so the digest covers the whole stream."""
        while self.read(CHUNK):
            pass

    def hexdigest(self) -> str:
        return "sha256:" + self._hash.hexdigest()

    def verify(self, what: str) -> None:
        """Drain, then raise ``DigestMismatchError`` if the digest is not the expected one."""
        self.drain()
        if self.expected is None:
            return
        actual = self.hexdigest()
        if not hmac.compare_digest(actual, self.expected):
            raise DigestMismatchError(
                f"{self._source}: {what} digest mismatch: expected {self.expected}, got {actual}"
            )

    def close(self) -> None:
        _close(self._inner)


def close_stream(stream: object) -> None:
    """Close ``stream`` if it has a ``close()`` (a ``ByteStream`` need not)."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()


_close = close_stream


def sniff_compression(head: bytes) -> Compression:
    """Tell gzip and zstd from anything else by their magic bytes."""
    if head.startswith(GZIP_MAGIC):
        return Compression.GZIP
    if head.startswith(ZSTD_MAGIC):
        return Compression.ZSTD
    return Compression.NONE


class _Prefixed:
    """Serves bytes already peeked from a stream, then the rest of the stream; ``skip`` stays cheap."""

    def __init__(self, head: bytes, inner: ByteStream) -> None:
        self._head = head
        self._inner = inner

    def read(self, n: int = -1, /) -> bytes:
        if self._head:
            if n < 0:
                data = self._head + self._inner.read(-1)
                self._head = b""
                return data
            data, self._head = self._head[:n], self._head[n:]
            return data
        return self._inner.read(n)

    def readinto(self, buffer: Any, /) -> int:
        """For decoders (ISA-L's gzip reader) that fill their own buffer."""
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def skip(self, n: int, /) -> None:
        if self._head:
            taken = min(n, len(self._head))
            self._head = self._head[taken:]
            n -= taken
        if n:
            self._inner.skip(n)

    def close(self) -> None:
        _close(self._inner)


def _peek(raw: ByteStream, n: int) -> bytes:
    head = b""
    while len(head) < n:
        chunk = raw.read(n - len(head))
        if not chunk:
            break
        head += chunk
    return head


class _ZstdFrameTracker:
    """Follows zstd frame and block headers in the compressed bytes as they pass by.

    ``zstandard``'s stream reader reports a truncated input as a clean end of data, and the output
    then usually ends on a block boundary that also looks like a clean end of a tar. Walking the
    block headers (a few Python steps per 128 KiB block) tells a complete frame from a cut one.
    """

    def __init__(self, inner: ByteStream) -> None:
        self._inner = inner
        self._skip = 0
        self._need = 4
        self._buf = b""
        self._state = "magic"
        self._checksum = False
        self.frames = 0

    def read(self, n: int = -1, /) -> bytes:
        data = self._inner.read(n)
        if data:
            self._feed(data)
        return data

    def complete(self) -> bool:
        return self._state == "magic" and not self._buf and not self._skip and self.frames > 0

    def _feed(self, data: bytes) -> None:
        i, end = 0, len(data)
        while i < end:
            if self._skip:
                taken = min(self._skip, end - i)
                self._skip -= taken
                i += taken
                continue
            want = self._need - len(self._buf)
            piece = data[i : i + want]
            self._buf += piece
            i += len(piece)
            if len(self._buf) < self._need:
                return
            header, self._buf = self._buf, b""
            self._on_header(header)

    def _on_header(self, header: bytes) -> None:
        state = self._state
        if state == "magic":
            magic = int.from_bytes(header, "little")
            if header == ZSTD_MAGIC:
                self._state, self._need = "frame", 1
            elif 0x184D2A50 <= magic <= 0x184D2A5F:
                self._state, self._need = "skippable", 4
            else:
                self._state = "garbage"  # the decompressor reports this itself
                self._skip = 1 << 62
        elif state == "skippable":
            self._skip = int.from_bytes(header, "little")
            self._state, self._need = "magic", 4
        elif state == "frame":
            descriptor = header[0]
            fcs_flag = descriptor >> 6
            single_segment = (descriptor >> 5) & 1
            self._checksum = bool((descriptor >> 2) & 1)
            dict_size = (0, 1, 2, 4)[descriptor & 3]
            fcs_size = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
            self._skip = (0 if single_segment else 1) + dict_size + fcs_size
            self._state, self._need = "block", 3
        elif state == "block":
            value = int.from_bytes(header, "little")
            last = value & 1
            block_type = (value >> 1) & 3
            size = value >> 3
            self._skip = 1 if block_type == 1 else size
            if last:
                self._skip += 4 if self._checksum else 0
                self.frames += 1
                self._state, self._need = "magic", 4


class _Decompressed:
    """A ``ByteStream`` over a decompressing reader; maps codec errors to one-line ``SourceError``s."""

    def __init__(
        self,
        reader: Any,
        source: str,
        kind: str,
        raw: ByteStream,
        at_eof: Callable[[], bool] | None = None,
    ) -> None:
        self._reader = reader
        self._source = source
        self._kind = kind
        self._raw = raw
        self._at_eof = at_eof
        self._done = False

    def read(self, n: int = -1, /) -> bytes:
        if self._done:
            return b""
        try:
            data: bytes = self._reader.read(n)
        except SourceError:
            raise
        except EOFError:
            raise SourceError(f"{self._source}: truncated {self._kind} data") from None
        except Exception as exc:  # OSError, zlib/isal errors, zstandard.ZstdError: all mean bad data
            raise SourceError(f"{self._source}: corrupt {self._kind} data ({_describe(exc)})") from None
        if not data and n != 0:
            self._done = True
            if self._at_eof is not None and not self._at_eof():
                raise SourceError(f"{self._source}: truncated {self._kind} data")
        return data

    def skip(self, n: int, /) -> None:
        _skip_by_reading(self.read, n, self._source)

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a failed decoder must not mask the first error
            self._reader.close()
        _close(self._raw)


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def decompressed(
    raw: ByteStream, source: str, compression: Compression | None = None, *, threaded: bool = False
) -> ByteStream:
    """Return a stream of the uncompressed bytes of ``raw``.

    The magic bytes decide (they are peeked, not lost); a declared ``compression`` that the bytes
    contradict is an error, except that data declared uncompressed but carrying a gzip or zstd
    magic is decompressed anyway (mislabelled layers exist in the wild). Uncompressed data comes
    back with its own cheap ``skip()``. The returned stream has ``close()``; call it when done.
    """
    head = _peek(raw, 4)
    sniffed = sniff_compression(head)
    if compression not in (None, Compression.NONE) and sniffed is not compression and head:
        raise SourceError(f"{source}: declared {compression.value} but the data is not {compression.value}")
    if sniffed is Compression.GZIP and len(head) == 4 and head[3] & 0xE0:
        # RFC 1952: a decoder must refuse reserved FLG bits (the first member's; later ones are not seen here)
        raise SourceError(f"{source}: corrupt gzip data (reserved header flag bits set)")
    prefixed = _Prefixed(head, raw)
    if sniffed is Compression.NONE:
        return prefixed
    if sniffed is Compression.GZIP:
        return _open_gzip(prefixed, source, threaded)
    return _open_zstd(prefixed, source)


def _open_gzip(prefixed: _Prefixed, source: str, threaded: bool) -> ByteStream:
    reader: Any
    if threaded:
        # One reader thread inflates (ISA-L releases the GIL) while this thread parses tar headers. Off by
        # default: measured on a 3.3 GB torch layer on 2 cores, the queue hand-off cost more than the overlap
        # gained (10.8 s threaded, 9.9 s single, 9.0 s bare decompression).
        reader = igzip_threaded.open(prefixed, "rb", threads=1, block_size=CHUNK)  # type: ignore[no-untyped-call]
    else:
        reader = igzip.IGzipFile(fileobj=prefixed, mode="rb")  # type: ignore[no-untyped-call]
    return _Decompressed(reader, source, "gzip", prefixed)


def _open_zstd(prefixed: _Prefixed, source: str) -> ByteStream:
    tracker = _ZstdFrameTracker(prefixed)
    reader = zstandard.ZstdDecompressor().stream_reader(
        cast(BinaryIO, tracker), read_size=CHUNK, read_across_frames=True, closefd=False
    )
    return _Decompressed(reader, source, "zstd", prefixed, at_eof=tracker.complete)


class StreamedLayer(OpenedLayer):
    """An ``OpenedLayer`` over a raw (as stored) blob stream, with optional digest checks.

    Without ``verify`` nothing is hashed and ``finish()`` returns ``None``. With it, the stored
    bytes are hashed against ``descriptor.digest`` (when known) and the uncompressed bytes against
    ``descriptor.diff_id`` (when known), and ``finish()`` returns the computed diff id. An
    uncompressed blob is hashed once: its blob digest is its diff id.
    """

    def __init__(
        self,
        descriptor: LayerDescriptor,
        raw: ByteStream,
        source: str,
        *,
        verify: bool,
        compression: Compression | None = None,
        threaded: bool = False,
        readahead: bool | None = None,
    ) -> None:
        self.descriptor = descriptor
        self._source = source
        self._verify = verify
        self._finished = False
        self._blob_hash: HashingStream | None = None
        self._diff_hash: HashingStream | None = None
        # By default only a layer whose digests are checked is read ahead: the two sha256 passes (and, from a
        # registry, the HTTP reading) are work worth a thread. Inflating alone in a thread measured no faster
        # on 2 shared cores than inline (bench/README.md), as the igzip_threaded reader before it.
        ahead = (verify and pipelined()) if readahead is None else readahead
        self._ahead = False
        if verify and descriptor.digest is not None:
            self._blob_hash = HashingStream(raw, source, descriptor.digest)
            raw = self._blob_hash
            if ahead:  # reading the stored bytes and hashing them: one stage
                raw = ReadAhead(raw, source, name="fetch")
                self._ahead = True
        try:
            inner = decompressed(raw, source, compression, threaded=threaded)
        except BaseException:
            _close(raw)
            raise
        compressed = not isinstance(inner, _Prefixed)
        self._compressed = compressed
        # Inflating, and hashing what it gives, are read ahead only for a compressed layer, which must be
        # read whole anyway (an uncompressed one skips file data by seeking).
        if ahead and compressed:
            inner = ReadAhead(inner, source, name="inflate")
            self._ahead = True
        self._inner = inner
        if verify and (compressed or self._blob_hash is None):
            self._diff_hash = HashingStream(inner, source, descriptor.diff_id)
            self._stream: ByteStream = self._diff_hash
            if ahead and compressed:
                self._stream = ReadAhead(self._diff_hash, source, name="hash")
        else:
            self._stream = inner

    @property
    def stream(self) -> ByteStream:
        return self._stream

    def finish(self) -> str | None:
        if self._finished:
            return None
        self._finished = True
        try:
            if self._ahead or (self._compressed and not self._verify):
                # what follows the tar's end marker is a few KB of padding and the codec's trailer: reading
                # it is cheap and is how a blob cut short is caught without --verify. Read ahead, every stage
                # is run to its end here (its thread then stops), so the checks below read nothing more.
                while self._stream.read(CHUNK):
                    pass
            if not self._verify:
                return None
            label = f"layer {self.descriptor.index}"
            if self._diff_hash is not None:
                self._diff_hash.verify(f"{label} diff id")
            if self._blob_hash is not None:
                self._blob_hash.verify(f"{label} blob")
            if self._diff_hash is not None:
                return self._diff_hash.hexdigest()
            assert self._blob_hash is not None  # uncompressed, hashed once as stored
            diff_id = self._blob_hash.hexdigest()
            expected = self.descriptor.diff_id
            if expected is not None and not hmac.compare_digest(diff_id, expected):
                raise DigestMismatchError(
                    f"{self._source}: {label} diff id digest mismatch: expected {expected}, got {diff_id}"
                )
            return diff_id
        finally:
            self.close()

    def close(self) -> None:
        """Release the decoder (and its reader threads) without verifying."""
        self._finished = True
        _close(self._stream)

"""Byte streams: windows seek, hashing covers skips, decompression detects truncation and corruption."""

from __future__ import annotations

import gzip
import hashlib
import io
import os

import pytest
import zstandard

from deadweight.errors import DigestMismatchError, SourceError
from deadweight.model.image import Compression, LayerDescriptor
from deadweight.sources.streams import (
    FileWindow,
    HashingStream,
    ReadStream,
    StreamedLayer,
    check_digest,
    decompressed,
    sniff_compression,
)

# Compressible but not trivial: a mix of random blocks and long zero runs.
PAYLOAD = os.urandom(64 << 10) * 8 + b"\0" * (3 << 20) + os.urandom(4096)


class CountingFile(io.BytesIO):
    """A seekable file that counts the bytes handed out by read()."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.bytes_read = 0

    def read(self, n: int | None = -1, /) -> bytes:
        data = super().read(n)
        self.bytes_read += len(data)
        return data


class Trickle:
    """A pipe-like reader: short reads, no seek."""

    def __init__(self, data: bytes, step: int = 777) -> None:
        self._buf = io.BytesIO(data)
        self._step = step

    def read(self, n: int = -1, /) -> bytes:
        if n < 0 or n > self._step:
            n = self._step
        return self._buf.read(n)


def read_all(stream: object, chunk: int = 1 << 20) -> bytes:
    out = []
    while True:
        data = stream.read(chunk)  # type: ignore[attr-defined]
        if not data:
            return b"".join(out)
        assert len(data) <= chunk
        out.append(data)


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def zstd_stream(data: bytes, **kwargs: object) -> bytes:
    """zstd as a streaming writer writes it: no content size in the frame header."""
    out = io.BytesIO()
    with zstandard.ZstdCompressor(**kwargs).stream_writer(out, closefd=False) as writer:  # type: ignore[arg-type]
        writer.write(data)
    return out.getvalue()


COMPRESSORS = {
    "gzip": lambda d: gzip.compress(d, compresslevel=1),
    "zstd": lambda d: zstandard.ZstdCompressor().compress(d),
    "zstd-stream-checksum": lambda d: zstd_stream(d, write_checksum=True),
}


# --- FileWindow ---------------------------------------------------------------------------------


def test_file_window_reads_only_its_range() -> None:
    data = bytes(range(256)) * 40
    window = FileWindow(io.BytesIO(data), 100, 1000, "w")
    assert read_all(window, 333) == data[100:1100]
    assert window.read(10) == b""


def test_file_window_skip_seeks_instead_of_reading() -> None:
    data = os.urandom(5 << 20)
    fh = CountingFile(data)
    window = FileWindow(fh, 512, 4 << 20, "w")
    window.skip(3 << 20)
    assert window.read(16) == data[512 + (3 << 20) : 512 + (3 << 20) + 16]
    assert fh.bytes_read == 16


def test_independent_windows_over_one_file() -> None:
    data = b"a" * 100 + b"b" * 100
    fh = io.BytesIO(data)
    first, second = FileWindow(fh, 0, 100, "1"), FileWindow(fh, 100, 100, "2")
    assert first.read(10) == b"a" * 10
    assert second.read(10) == b"b" * 10
    assert first.read(10) == b"a" * 10


def test_file_window_errors() -> None:
    window = FileWindow(io.BytesIO(b"x" * 10), 0, 50, "archive.tar member")
    with pytest.raises(SourceError, match="cannot skip"):
        window.skip(51)
    assert window.read(100) == b"x" * 10
    with pytest.raises(SourceError, match=r"archive\.tar member: truncated"):
        window.read(100)


def test_decompressed_uncompressed_keeps_seeking_skip() -> None:
    data = os.urandom(2 << 20)
    fh = CountingFile(data)
    stream = decompressed(FileWindow(fh, 0, len(data), "w"), "w")
    assert stream.read(2) == data[:2]
    stream.skip(1 << 20)
    assert stream.read(8) == data[(1 << 20) + 2 : (1 << 20) + 10]
    assert fh.bytes_read < 64


# --- ReadStream / HashingStream ---------------------------------------------------------------------


def test_read_stream_skip_reads_and_detects_early_end() -> None:
    stream = ReadStream(Trickle(b"0123456789" * 10), "pipe")
    stream.skip(95)
    assert stream.read(100) == b"56789"
    with pytest.raises(SourceError, match="pipe: truncated"):
        ReadStream(Trickle(b"abc"), "pipe").skip(4)


def test_hashing_stream_hashes_skipped_bytes() -> None:
    data = os.urandom(3 << 20)
    stream = HashingStream(FileWindow(io.BytesIO(data), 0, len(data), "w"), "w", expected=sha(data))
    stream.read(10)
    stream.skip(2 << 20)
    stream.verify("blob")
    assert stream.hexdigest() == sha(data)


def test_hashing_stream_mismatch_is_one_line_naming_source_and_what() -> None:
    stream = HashingStream(ReadStream(io.BytesIO(b"hello"), "img.tar"), "img.tar", expected=sha(b"hellO"))
    with pytest.raises(DigestMismatchError) as info:
        stream.verify("layer 3 blob")
    message = str(info.value)
    assert "\n" not in message
    assert "img.tar" in message and "layer 3 blob" in message and sha(b"hello") in message


def test_check_digest() -> None:
    check_digest(b"abc", sha(b"abc"), "s", "config")
    with pytest.raises(DigestMismatchError, match="s: config digest mismatch"):
        check_digest(b"abd", sha(b"abc"), "s", "config")


# --- compression ----------------------------------------------------------------------------------


def test_sniff_compression() -> None:
    assert sniff_compression(gzip.compress(b"x")) is Compression.GZIP
    assert sniff_compression(zstandard.ZstdCompressor().compress(b"x")) is Compression.ZSTD
    assert sniff_compression(b"usr/\0\0") is Compression.NONE
    assert sniff_compression(b"") is Compression.NONE


@pytest.mark.parametrize("threaded", [True, False])
@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_decompressed_round_trip_from_trickling_reader(kind: str, threaded: bool) -> None:
    blob = COMPRESSORS[kind](PAYLOAD)
    stream = decompressed(ReadStream(Trickle(blob, 4093), "s"), "s", threaded=threaded)
    assert read_all(stream, 100_000) == PAYLOAD
    stream.close()  # type: ignore[attr-defined]


def test_decompressed_concatenated_members_and_frames() -> None:
    two_gzip = gzip.compress(b"first,") + gzip.compress(b"second")
    assert read_all(decompressed(ReadStream(io.BytesIO(two_gzip), "s"), "s")) == b"first,second"
    skippable = (0x184D2A50).to_bytes(4, "little") + (3).to_bytes(4, "little") + b"xyz"
    zstd = zstandard.ZstdCompressor().compress(b"first,") + skippable + zstd_stream(b"second")
    assert read_all(decompressed(ReadStream(io.BytesIO(zstd), "s"), "s")) == b"first,second"


def test_decompressed_output_is_bounded_per_read() -> None:
    """A highly compressible layer must not be inflated whole into memory."""
    zeros = zstandard.ZstdCompressor().compress(b"\0" * (64 << 20))
    stream = decompressed(ReadStream(io.BytesIO(zeros), "s"), "s")
    assert len(stream.read(1 << 20)) <= 1 << 20
    stream.skip((64 << 20) - (1 << 20))
    assert stream.read(1) == b""


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
@pytest.mark.parametrize("cut", [0.5, -3, -9])
def test_decompressed_truncated_is_a_source_error(kind: str, cut: float) -> None:
    blob = COMPRESSORS[kind](PAYLOAD)
    end = int(len(blob) * cut) if cut > 0 else len(blob) + int(cut)
    stream = decompressed(ReadStream(io.BytesIO(blob[:end]), "layer 2"), "layer 2")
    with pytest.raises(SourceError, match=r"^layer 2: (truncated|corrupt) (gzip|zstd) data"):
        read_all(stream)


@pytest.mark.parametrize("kind", ["gzip", "zstd-stream-checksum"])
def test_decompressed_corrupt_is_a_source_error(kind: str) -> None:
    """gzip always has a CRC; zstd only when the frame carries a checksum (else --verify catches it)."""
    blob = bytearray(COMPRESSORS[kind](PAYLOAD))
    for i in range(len(blob) // 3, len(blob) // 3 + 64):
        blob[i] ^= 0xFF
    stream = decompressed(ReadStream(io.BytesIO(bytes(blob)), "s"), "s")
    with pytest.raises(SourceError) as info:
        read_all(stream)
    assert "\n" not in str(info.value)


def test_declared_compression_that_the_bytes_contradict() -> None:
    with pytest.raises(SourceError, match="declared gzip but the data is not gzip"):
        decompressed(ReadStream(io.BytesIO(b"plain tar bytes"), "s"), "s", Compression.GZIP)
    # Declared uncompressed but gzip inside: decompressed anyway.
    stream = decompressed(ReadStream(io.BytesIO(gzip.compress(b"abc")), "s"), "s", Compression.NONE)
    assert read_all(stream) == b"abc"


# --- StreamedLayer --------------------------------------------------------------------------------


def _layer(raw: bytes, digest: str | None, diff_id: str | None, verify: bool) -> StreamedLayer:
    desc = LayerDescriptor(index=0, digest=digest, diff_id=diff_id)
    return StreamedLayer(desc, ReadStream(io.BytesIO(raw), "src"), "src", verify=verify)


def test_streamed_layer_verifies_blob_and_diff_id() -> None:
    blob = gzip.compress(PAYLOAD)
    layer = _layer(blob, sha(blob), sha(PAYLOAD), verify=True)
    layer.stream.read(100)
    assert layer.finish() == sha(PAYLOAD)
    assert _layer(blob, sha(blob), sha(PAYLOAD), verify=False).finish() is None


def test_streamed_layer_diff_id_mismatch() -> None:
    blob = gzip.compress(PAYLOAD)
    with pytest.raises(DigestMismatchError, match="diff id digest mismatch"):
        _layer(blob, sha(blob), sha(b"other"), verify=True).finish()


def test_streamed_layer_blob_mismatch_uncompressed() -> None:
    with pytest.raises(DigestMismatchError, match="blob digest mismatch"):
        _layer(PAYLOAD, sha(b"other"), None, verify=True).finish()
    with pytest.raises(DigestMismatchError, match="diff id digest mismatch"):
        _layer(PAYLOAD, sha(PAYLOAD), sha(b"other"), verify=True).finish()

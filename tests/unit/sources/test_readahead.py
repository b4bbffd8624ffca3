"""Layers read ahead in worker threads give exactly what the inline read gives: bytes, digests and errors.

Every comparison reads the same real layout twice, once with ``DEADWEIGHT_THREADS=1`` (inline, the old
path) and once with 4 threads, the layers being big enough (several MiB) that the bounded queues fill
and the workers wait on the parser.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from deadweight.errors import DigestMismatchError, SourceError
from deadweight.sources import readahead
from deadweight.sources.base import SourceOptions
from deadweight.sources.oci_layout import OciLayoutSource
from deadweight.sources.readahead import ReadAhead, worker_threads
from deadweight.sources.streams import CHUNK, FileWindow
from deadweight.sources.tarstream import iter_tar
from tests.imagebuilder import F, ImageSpec, sha256, write_oci_layout
from tests.unit.sources.test_oci_layout import _blob, _rewrite_manifest

_RNG = random.Random(14)
BIG = bytes(_RNG.getrandbits(8) for _ in range(1 << 20)) * 3 + b"text " * 600_000  # 6 MiB, half compressible
LAYERS = [
    [F("usr", kind="dir"), F("usr/lib", kind="dir"), F("usr/lib/libbig.so", BIG), F("usr/lib/a.py", b"a = 1\n")],
    [F(f"srv/f{i}.txt", f"file {i}\n".encode() * (i + 1)) for i in range(300)],
    [F("usr/lib/libbig.so", kind="whiteout"), F("srv/link", kind="symlink", target="f1.txt")],
]
SPEC = ImageSpec(layers=LAYERS)


def _read(path: Path, verify: bool) -> tuple[list[Any], set[str]]:
    """Entries, file contents and diff id of every layer, and the stream types the source handed out."""
    out: list[Any] = []
    kinds: set[str] = set()
    with OciLayoutSource(str(path), SourceOptions(verify=verify)) as source:
        for layer in source.iter_layers(verify=verify):
            kinds.add(type(layer.stream).__name__)
            members = [
                (m.entry.path, m.entry.kind.value, m.entry.size, m.content)
                for m in iter_tar(layer.stream, source="t", want=lambda _p: True)
            ]
            out.append((layer.descriptor.index, members, layer.finish()))
    return out, kinds


def _both(monkeypatch: pytest.MonkeyPatch, path: Path, verify: bool) -> tuple[list[Any], list[Any], set[str]]:
    """The inline read, the read-ahead one, and the stream types the latter handed out."""
    monkeypatch.setenv("DEADWEIGHT_THREADS", "1")
    serial, serial_kinds = _read(path, verify)
    monkeypatch.setenv("DEADWEIGHT_THREADS", "4")
    parallel, parallel_kinds = _read(path, verify)
    assert "ReadAhead" not in serial_kinds
    return serial, parallel, parallel_kinds


@pytest.mark.parametrize("as_tar", [False, True])
@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
@pytest.mark.parametrize("verify", [False, True])
def test_read_ahead_equals_inline(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, compression: str, verify: bool, as_tar: bool
) -> None:
    path = tmp_path / ("layout.tar" if as_tar else "layout")
    built = write_oci_layout(SPEC, path, compression=compression, as_tar=as_tar)
    serial, parallel, parallel_kinds = _both(monkeypatch, path, verify)
    assert parallel == serial
    assert [diff for _, _, diff in serial] == (built.diff_ids if verify else [None] * 3)
    assert serial[0][1][2][3] == BIG  # the big file's bytes came through whole
    # layers whose digests are checked were read ahead: the parser reads the last stage (a compressed
    # layer) or the peeked prefix over the fetch-and-hash stage (an uncompressed one); others inline
    assert ("ReadAhead" in parallel_kinds) == (verify and compression != "none")


def _cut_layer(path: Path, built: Any, layer: int, data: bytes) -> None:
    """Replace a layer blob by ``data``, the manifest agreeing on its digest and size (no size check saves us)."""
    _blob(path, sha256(data)).write_bytes(data)

    def change(doc: dict[str, Any]) -> None:
        doc["layers"][layer].update(digest=sha256(data), size=len(data))

    _rewrite_manifest(path, built.manifest_digest, change)


def _outcome(monkeypatch: pytest.MonkeyPatch, threads: str, path: Path, verify: bool) -> tuple[str, Any]:
    monkeypatch.setenv("DEADWEIGHT_THREADS", threads)
    try:
        return "read", _read(path, verify)[0]
    except SourceError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
@pytest.mark.parametrize("damage", ["truncate", "garble"])
@pytest.mark.parametrize("verify", [False, True])
def test_damaged_layer_same_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, compression: str, damage: str, verify: bool
) -> None:
    path = tmp_path / "layout"
    built = write_oci_layout(SPEC, path, compression=compression)
    blob = built.layer_blobs[0]
    if damage == "truncate":
        bad = blob[: len(blob) // 2]
    else:
        middle = bytearray(blob)
        middle[len(blob) // 2 : len(blob) // 2 + 64] = bytes(64)
        bad = bytes(middle)
    _cut_layer(path, built, 0, bad)
    serial = _outcome(monkeypatch, "1", path, verify)
    parallel = _outcome(monkeypatch, "4", path, verify)
    assert parallel == serial
    if damage == "truncate" or verify or compression == "gzip":  # gzip's CRC catches garbling unverified
        kind, message = serial
        assert kind == "error"
        assert "\n" not in message
        assert "layer 0" in message
        assert any(word in message for word in ("truncated", "corrupt", "mismatch"))


def test_wrong_diff_id_same_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A blob that inflates fine but to other bytes than the config's diff id: the same mismatch both ways."""
    path = tmp_path / "layout"
    built = write_oci_layout(SPEC, path, compression="gzip")
    other = write_oci_layout(ImageSpec(layers=[[F("x", b"other")]] * 3), tmp_path / "other", compression="gzip")
    _cut_layer(path, built, 2, other.layer_blobs[0])
    errors = []
    for threads in ("1", "4"):
        monkeypatch.setenv("DEADWEIGHT_THREADS", threads)
        with pytest.raises(DigestMismatchError) as info:
            _read(path, verify=True)
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    assert "layer 2 diff id digest mismatch" in errors[0]


class _Counting:
    """A stream of ``total`` bytes that counts what was read from it."""

    def __init__(self, total: int) -> None:
        self.left = total
        self.read_bytes = 0
        self.closed = False

    def read(self, n: int = -1, /) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        self.read_bytes += n
        return b"x" * n

    def skip(self, n: int, /) -> None:
        raise AssertionError("a read-ahead stage reads, never skips, its inner stream")

    def close(self) -> None:
        self.closed = True


def test_read_ahead_is_bounded_and_closes() -> None:
    inner = _Counting(64 * CHUNK)
    stream = ReadAhead(inner, "t", depth=3)
    assert stream.read(10) == b"x" * 10
    time.sleep(0.3)  # the worker runs ahead until the queue is full
    # the current chunk, a full queue of 3, and the one the worker holds waiting for room
    assert inner.read_bytes <= 5 * CHUNK
    stream.skip(20 * CHUNK)
    assert len(stream.read(CHUNK)) <= CHUNK
    threads = {t.name for t in threading.enumerate()}
    assert "deadweight-readahead" in threads
    stream.close()
    assert inner.closed
    assert "deadweight-readahead" not in {t.name for t in threading.enumerate()}


def test_read_ahead_reads_everything_in_order() -> None:
    data = bytes(range(256)) * 20_000
    path_bytes = iter([data[i : i + 70_000] for i in range(0, len(data), 70_000)] + [b""])

    class Pieces:
        def read(self, n: int = -1, /) -> bytes:
            return next(path_bytes)

        def skip(self, n: int, /) -> None:  # pragma: no cover - not called
            raise AssertionError

    stream = ReadAhead(Pieces(), "t")
    got = bytearray()
    sizes = [1, 511, 512, 4096, CHUNK, 3]
    i = 0
    while chunk := stream.read(sizes[i % len(sizes)]):
        got += chunk
        i += 1
    assert bytes(got) == data
    assert stream.read(5) == b""
    with pytest.raises(SourceError, match="t: truncated: stream ended 1 bytes early"):
        stream.skip(1)
    stream.close()


def test_read_ahead_error_after_the_good_bytes(tmp_path: Path) -> None:
    blob = tmp_path / "blob"
    blob.write_bytes(b"y" * (3 * CHUNK))

    class Failing:
        def __init__(self) -> None:
            self.window = FileWindow(blob.open("rb"), 0, 3 * CHUNK, "blob")

        def read(self, n: int = -1, /) -> bytes:
            if self.window.remaining == 0:
                raise SourceError("blob: corrupt gzip data (invalid block type)")
            return self.window.read(n)

        def skip(self, n: int, /) -> None:  # pragma: no cover - not called
            raise AssertionError

    stream = ReadAhead(Failing(), "blob")
    stream.skip(3 * CHUNK - 1)
    assert stream.read(10) == b"y"
    for _ in range(2):  # raised again by every later read
        with pytest.raises(SourceError, match=r"^blob: corrupt gzip data \(invalid block type\)$"):
            stream.read(1)
    stream.close()


@pytest.mark.parametrize(("value", "expected"), [("1", 1), ("3", 3), ("0", 1), ("junk", 1)])
def test_threads_knob(monkeypatch: pytest.MonkeyPatch, value: str, expected: int) -> None:
    monkeypatch.setenv("DEADWEIGHT_THREADS", value)
    assert worker_threads() == expected
    assert readahead.pipelined() is (expected > 1)


def test_threads_default_is_the_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.delenv("DEADWEIGHT_THREADS", raising=False)
    assert worker_threads() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_inflate_stage_without_verify_equals_inline(tmp_path: Path, compression: str) -> None:
    """The inflate stage alone (``readahead=True`` without digests: off by default) gives the inline bytes."""
    from deadweight.model.image import LayerDescriptor
    from deadweight.sources.streams import StreamedLayer

    built = write_oci_layout(SPEC, tmp_path / "layout", compression=compression)
    blob = tmp_path / "blob"
    blob.write_bytes(built.layer_blobs[0])
    got = []
    for ahead in (False, True):
        with blob.open("rb") as f:
            desc = LayerDescriptor(index=0, digest=None, diff_id=None, media_type=None, compressed_size=None)
            layer = StreamedLayer(desc, FileWindow(f, 0, blob.stat().st_size, "b"), "b", verify=False, readahead=ahead)
            assert isinstance(layer.stream, ReadAhead) is ahead
            got.append([(m.entry.path, m.content) for m in iter_tar(layer.stream, source="t", want=lambda _p: True)])
            assert layer.finish() is None
    assert got[0] == got[1]
    assert dict(got[0])["usr/lib/libbig.so"] == BIG

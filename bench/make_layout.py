#!/usr/bin/env python3
"""Write a synthetic multi-layer OCI layout (gzip or zstd layers) for the compressed-layer benches.

Usage: python bench/make_layout.py OUT_DIR [--compression gzip|zstd] [--big-mb 1200] [--seed 14]

Stands in for bench/build_cuda_image.sh's layout when that ~5 GB PyPI build is not at hand: five layers
shaped like a Python image with one big dependency layer (a base of many small text files, two small
layers, one big layer of large "shared library" files, one small app layer). File data is a mix of
random bytes and text made of a random vocabulary, so it deflates to ~55% as the CUDA wheels' libraries
do (3.36 GB of gzip for 5.58 GB of tar), and inflating it costs about what real layers cost per byte.
gzip layers are deflated by zlib level 6 (what Go's compress/gzip default, used by docker and skopeo,
is close to); zstd layers by zstandard level 3 in frames of 16 MiB (as a multi-threaded compressor writes).
Everything streams: no layer is held in memory.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import sys
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path

import zstandard

MIB = 1 << 20


class _BlobWriter(io.RawIOBase):
    """Takes tar bytes: hashes them (the diff id), compresses them, hashes and writes the blob."""

    def __init__(self, path: Path, compression: str) -> None:
        self._out = path.open("wb")
        self.diff = hashlib.sha256()
        self.blob = hashlib.sha256()
        self.size = 0
        self._compression = compression
        self._zlib = zlib.compressobj(6, zlib.DEFLATED, 31)
        self._zstd = zstandard.ZstdCompressor(level=3).compressobj()
        self._since_frame = 0

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        chunk = bytes(data)  # type: ignore[call-overload]
        self.diff.update(chunk)
        if self._compression == "gzip":
            self._emit(self._zlib.compress(chunk))
        else:
            self._emit(self._zstd.compress(chunk))
            self._since_frame += len(chunk)
            if self._since_frame >= 16 * MIB:  # a new frame, as zstd -T writes
                self._emit(self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))
                self._zstd = zstandard.ZstdCompressor(level=3).compressobj()
                self._since_frame = 0
        return len(chunk)

    def _emit(self, data: bytes) -> None:
        if data:
            self.blob.update(data)
            self.size += len(data)
            self._out.write(data)

    def finish(self) -> None:
        if self._compression == "gzip":
            self._emit(self._zlib.flush())
        else:
            self._emit(self._zstd.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))
        self._out.close()


class Data:
    """Deterministic file contents: random bytes and vocabulary text interleaved in 4 KiB pieces."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        words = [
            "".join(rng.choice("abcdefghijklmnopqrstuvwxyz_") for _ in range(rng.randint(2, 12))) for _ in range(4000)
        ]
        self._text = " ".join(rng.choice(words) for _ in range(2_000_000)).encode()[: 8 * MIB]
        self._rng = rng

    def chunks(self, size: int, random_share: float) -> Iterator[bytes]:
        rng = self._rng
        left = size
        while left > 0:
            piece = min(left, MIB)
            parts = []
            for start in range(0, piece, 4096):
                n = min(4096, piece - start)
                if rng.random() < random_share:
                    parts.append(rng.randbytes(n))
                else:
                    at = rng.randrange(0, len(self._text) - n)
                    parts.append(self._text[at : at + n])
            left -= piece
            yield b"".join(parts)


class _Chunks(io.RawIOBase):
    def __init__(self, it: Iterator[bytes]) -> None:
        self._it = it
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: object) -> int:
        view = memoryview(b)  # type: ignore[arg-type]
        while not self._buf:
            try:
                self._buf = next(self._it)
            except StopIteration:
                return 0
        n = min(len(view), len(self._buf))
        view[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def write_layer(blobs: Path, compression: str, files: list[tuple[str, int, float]], data: Data) -> dict[str, object]:
    tmp = blobs / "tmp-layer"
    writer = _BlobWriter(tmp, compression)
    with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        dirs: set[str] = set()
        for name, size, random_share in files:
            parent = os.path.dirname(name)
            missing = []
            while parent and parent not in dirs:
                missing.append(parent)
                dirs.add(parent)
                parent = os.path.dirname(parent)
            for d in reversed(missing):
                info = tarfile.TarInfo(d)
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.size = size
            info.mode = 0o644
            tar.addfile(info, io.BufferedReader(_Chunks(data.chunks(size, random_share)), MIB))
    writer.finish()
    digest = writer.blob.hexdigest()
    tmp.rename(blobs / digest)
    media = "application/vnd.oci.image.layer.v1.tar+" + ("gzip" if compression == "gzip" else "zstd")
    return {
        "mediaType": media,
        "digest": f"sha256:{digest}",
        "size": writer.size,
        "diff_id": f"sha256:{writer.diff.hexdigest()}",
    }


def plan(big_mb: int, rng: random.Random) -> list[list[tuple[str, int, float]]]:
    base = [(f"usr/lib/python3.11/pkg{i // 50}/mod{i}.py", rng.randint(500, 60_000), 0.05) for i in range(3000)]
    small1 = [(f"usr/lib/x86_64-linux-gnu/lib{i}.so", rng.randint(100_000, 3 * MIB), 0.5) for i in range(12)]
    small2 = [
        (f"usr/local/lib/python3.11/site-packages/dep/f{i}.py", rng.randint(1000, 40_000), 0.1) for i in range(800)
    ]
    big: list[tuple[str, int, float]] = []
    left = big_mb * MIB
    i = 0
    while left > 0:
        size = min(left, rng.randint(4 * MIB, 160 * MIB))
        big.append((f"usr/local/lib/python3.11/site-packages/nvidia/lib/libbig{i}.so", size, 0.45))
        big.append((f"usr/local/lib/python3.11/site-packages/nvidia/py/m{i}.py", 20_000, 0.05))
        left -= size
        i += 1
    app = [(f"app/src/m{i}.py", rng.randint(200, 8000), 0.05) for i in range(200)]
    return [base, small1, small2, big, app]


def write_json(blobs: Path, doc: dict[str, object]) -> dict[str, object]:
    data = json.dumps(doc, separators=(",", ":")).encode()
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--compression", choices=("gzip", "zstd"), default="gzip")
    ap.add_argument("--big-mb", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=14)
    args = ap.parse_args(argv)
    if args.out.exists():
        print(f"make_layout: {args.out} exists", file=sys.stderr)
        return 2
    blobs = args.out / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    data = Data(args.seed)
    layers = [
        write_layer(blobs, args.compression, files, data) for files in plan(args.big_mb, random.Random(args.seed))
    ]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [layer["diff_id"] for layer in layers]},
        "history": [{"created_by": f"synthetic layer {i}"} for i in range(len(layers))],
    }
    config_ref = write_json(blobs, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config_ref},
        "layers": [{k: v for k, v in layer.items() if k != "diff_id"} for layer in layers],
    }
    manifest_ref = write_json(blobs, manifest)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                **manifest_ref,
                "annotations": {"org.opencontainers.image.ref.name": "bench"},
            }
        ],
    }
    (args.out / "index.json").write_text(json.dumps(index))
    (args.out / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    for layer in layers:
        print(f"{layer['digest']} {layer['size']:>12} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

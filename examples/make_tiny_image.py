#!/usr/bin/env python3
"""Write examples/tiny-image: a very small OCI image layout that looks like a Python service image.

Usage: python examples/make_tiny_image.py [OUT_DIR]   (default: examples/tiny-image next to this script)

Why: the README's first command must work on a fresh machine, before any Docker engine exists, so the repository
ships a tiny image to inspect. It has what deadweight looks for, in miniature: a Debian-like base with a dpkg
status file, a Python environment with real dist-info (METADATA, RECORD), a pip cache baked into a layer and
deleted by a later one (shadowed bytes), and the service's code. Everything is deterministic (mtime 0, uid 0,
fixed pseudo-random bytes), so the layers' diff ids stay the same each time it is regenerated. Standard library
only.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import random
import sys
import tarfile
from pathlib import Path

SITE = "usr/local/lib/python3.11/site-packages"
CREATED = "2024-06-01T00:00:00Z"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

DPKG_STATUS = """\
Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12988
Architecture: amd64
Version: 2.36-9+deb12u7
Description: GNU C Library: Shared libraries

Package: ca-certificates
Status: install ok installed
Priority: optional
Section: misc
Installed-Size: 384
Architecture: all
Version: 20230311
Description: Common CA certificates

"""

SIX_PY = '''\
"""Utilities for writing code that runs on Python 2 and 3 (abridged copy for deadweight's tiny example image)."""

__version__ = "1.16.0"

PY2 = False
PY3 = True
string_types = (str,)
integer_types = (int,)


def ensure_str(s, encoding="utf-8", errors="strict"):
    if isinstance(s, bytes):
        return s.decode(encoding, errors)
    return s
'''

APP_PY = '''\
"""The tiny example service: prints a greeting; six is its only dependency."""

import six

print(six.ensure_str(b"hello from the tiny image"))
'''


def blob_bytes(name: str, size: int) -> bytes:
    return random.Random(name).randbytes(size)


def record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def dist(name: str, version: str, modules: dict[str, bytes], requested: bool = True) -> dict[str, bytes]:
    """Files of one installed distribution, RECORD paths relative to site-packages as pip writes them."""
    info = f"{name}-{version}.dist-info"
    files = {f"{SITE}/{p}": d for p, d in modules.items()}
    meta = {
        "METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: {name}\n".encode(),
        "INSTALLER": b"pip\n",
        "WHEEL": b"Wheel-Version: 1.0\nGenerator: bdist_wheel (0.36.2)\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        "top_level.txt": ("\n".join(sorted({m.split("/")[0].removesuffix(".py") for m in modules})) + "\n").encode(),
    }
    if requested:
        meta["REQUESTED"] = b""
    for fname, data in meta.items():
        files[f"{SITE}/{info}/{fname}"] = data
    prefix = f"{SITE}/"
    lines = [record_line(p.removeprefix(prefix), d) for p, d in sorted(files.items())]
    lines.append(f"{info}/RECORD,,")
    files[f"{SITE}/{info}/RECORD"] = ("\n".join(lines) + "\n").encode()
    return files


def layer_tar(files: dict[str, bytes], whiteouts: tuple[str, ...] = ()) -> bytes:
    """An uncompressed layer tar with parent directories, sorted, fixed metadata."""
    buf = io.BytesIO()
    dirs = sorted({"/".join(p.split("/")[:i]) for p in [*files, *whiteouts] for i in range(1, p.count("/") + 1)})
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in dirs:
            ti = tarfile.TarInfo(d + "/")
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
            tar.addfile(ti)
        entries = list(files.items())
        entries += [(w.rsplit("/", 1)[0] + "/.wh." + w.rsplit("/", 1)[1], b"") for w in whiteouts]
        for path, data in sorted(entries):
            ti = tarfile.TarInfo(path)
            ti.size, ti.mtime = len(data), 0
            ti.mode = 0o755 if path.startswith("usr/local/bin/") else 0o644
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def layers() -> list[tuple[str, bytes]]:
    base = {
        "etc/os-release": b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
        "var/lib/dpkg/status": DPKG_STATUS.encode(),
        "usr/lib/x86_64-linux-gnu/libc.so.6": blob_bytes("libc", 24_000),
        "usr/local/bin/python3.11": blob_bytes("python", 16_000),
        "usr/local/lib/python3.11/os.py": b'"""Stand-in for the standard library."""\n',
    }
    pip_cache = {f"root/.cache/pip/http-v2/{c}/{c}{i}": blob_bytes(f"cache{c}{i}", 9_000)
                 for c in "ab" for i in range(3)}
    deps = dist("six", "1.16.0", {"six.py": SIX_PY.encode()}) | pip_cache
    app = {"app/main.py": APP_PY.encode(), "app/requirements.txt": b"six==1.16.0\n"}
    return [
        ("/bin/sh -c #(nop) ADD file:tiny-rootfs in / ", layer_tar(base)),
        ("RUN /bin/sh -c pip install -r /tmp/requirements.txt # buildkit", layer_tar(deps)),
        ("RUN /bin/sh -c rm -rf /root/.cache/pip # buildkit", layer_tar({}, whiteouts=("root/.cache/pip",))),
        ("COPY app /app # buildkit", layer_tar(app)),
    ]


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_layout(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    blobs = out / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    keep: set[str] = set()

    def put(data: bytes) -> str:
        digest = sha256(data)
        keep.add(digest.split(":", 1)[1])
        path = blobs / digest.split(":", 1)[1]
        if not path.exists() or path.read_bytes() != data:
            path.write_bytes(data)
        return digest

    built = [(created_by, tar, gzip.compress(tar, compresslevel=9, mtime=0)) for created_by, tar in layers()]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
            "Cmd": ["python3.11", "/app/main.py"],
            "WorkingDir": "/app",
            "Labels": {"org.opencontainers.image.title": "deadweight tiny example"},
        },
        "rootfs": {"type": "layers", "diff_ids": [sha256(tar) for _, tar, _ in built]},
        "history": [{"created": CREATED, "created_by": cb} for cb, _, _ in built],
    }
    config_bytes = json.dumps(config, indent=2, sort_keys=True).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": put(config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": OCI_GZIP_LAYER, "digest": put(gz), "size": len(gz)} for _, _, gz in built],
    }
    manifest_bytes = json.dumps(manifest, indent=2).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": OCI_MANIFEST, "digest": put(manifest_bytes), "size": len(manifest_bytes),
            "annotations": {"org.opencontainers.image.ref.name": "latest"},
            "platform": {"architecture": "amd64", "os": "linux"},
        }],
    }
    (out / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}\n')
    (out / "index.json").write_text(json.dumps(index, indent=2) + "\n")
    for stale in blobs.iterdir():
        if stale.name not in keep:
            stale.unlink()


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent / "tiny-image"
    write_layout(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Build stand-in wheels that play PyPI's CUDA torch, and lay them out as a PEP 503 index.

Usage: make_wheels.py OUT_DIR

Why: PyPI's Linux torch 2.5.1 pulls about 3 GB of nvidia-*-cu12 wheels, far too much for CI. These wheels have
the same names and the same shape (a `torch` package with CUDA libraries under torch/lib, `nvidia/<lib>/lib/*.so`
packages it requires) but only a few MB of incompressible bytes each, and a tiny importable `torch` with just
enough API (device, tensor, no_grad, cuda.is_available) for the example services. Their versions carry the local
label `+standin` so that, served as an extra index next to PyPI, pip prefers them over PyPI's files of the same
release. The bytes are derived from a fixed seed and the zip timestamps are fixed, so the wheels (and the images
built from them) are reproducible. Only the standard library is used.
"""

from __future__ import annotations

import base64
import hashlib
import random
import sys
import zipfile
from pathlib import Path

LABEL = "+standin"
ZIP_DATE = (2024, 10, 29, 0, 0, 0)
MIB = 1 << 20

TORCH_INIT = '''\
"""Stand-in for PyTorch (CUDA build shape, tiny API): enough for deadweight's example services to import."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

from torch import cuda, version

__version__ = "2.5.1"
__all__ = ["Tensor", "cuda", "device", "float32", "no_grad", "tensor", "version"]

float32 = "float32"


class device:  # noqa: N801 - same name as torch's
    def __init__(self, kind: str) -> None:
        self.type = kind.split(":")[0]

    def __repr__(self) -> str:
        return f"device(type={self.type!r})"

    def __str__(self) -> str:
        return self.type


class Tensor:
    def __init__(self, values: Iterable[float], dev: device | None = None) -> None:
        self._values = [float(v) for v in values]
        self.device = dev or device("cpu")

    def to(self, dev: device) -> Tensor:
        if dev.type == "cuda" and not cuda.is_available():
            raise RuntimeError("Found no NVIDIA driver on your system.")
        return Tensor(self._values, dev)

    def __mul__(self, other: Tensor) -> Tensor:
        return Tensor([a * b for a, b in zip(self._values, other._values, strict=True)], self.device)

    def __add__(self, other: Tensor) -> Tensor:
        return Tensor([a + b for a, b in zip(self._values, other._values, strict=True)], self.device)

    def sum(self) -> Tensor:
        return Tensor([sum(self._values)], self.device)

    def item(self) -> float:
        return self._values[0]

    def tolist(self) -> list[float]:
        return list(self._values)

    def __float__(self) -> float:
        return self.item()

    def __len__(self) -> int:
        return len(self._values)


def tensor(values: Iterable[float], dtype: str | None = None, device: device | None = None) -> Tensor:
    return Tensor(values, device)


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    yield
'''

TORCH_CUDA = '''\
"""CUDA runtime queries: this stand-in never finds a GPU, like the real build on a CPU-only host."""


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0
'''

TORCH_VERSION = '__version__ = "2.5.1"\ncuda = "12.4"\ngit_version = "stand-in"\ndebug = False\n'


def blob(name: str, size: int) -> bytes:
    """Incompressible but reproducible bytes, so layer sizes behave like real shared libraries."""
    return random.Random(name).randbytes(size)


def dist_files(spec: dict[str, object]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for path, content in dict(spec["text"]).items():  # type: ignore[call-overload]
        files[path] = str(content).encode()
    for path, size in dict(spec["libs"]).items():  # type: ignore[call-overload]
        files[path] = blob(path, int(size))
    return files


WHEELS: list[dict[str, object]] = [
    {
        "name": "nvidia-cublas-cu12",
        "version": "12.4.5.8",
        "summary": "CUBLAS native runtime libraries (deadweight stand-in)",
        "requires": [],
        "text": {"nvidia/__init__.py": "", "nvidia/cublas/__init__.py": "", "nvidia/cublas/lib/__init__.py": "",
                 "nvidia/cublas/include/cublas_api.h": "/* stand-in header */\n"},
        "libs": {"nvidia/cublas/lib/libcublas.so.12": 2 * MIB, "nvidia/cublas/lib/libcublasLt.so.12": 3 * MIB,
                 "nvidia/cublas/lib/libnvblas.so.12": MIB // 4},
    },
    {
        "name": "nvidia-cudnn-cu12",
        "version": "9.1.0.70",
        "summary": "cuDNN runtime libraries (deadweight stand-in)",
        "requires": ["nvidia-cublas-cu12"],
        "text": {"nvidia/__init__.py": "", "nvidia/cudnn/__init__.py": "", "nvidia/cudnn/lib/__init__.py": "",
                 "nvidia/cudnn/include/cudnn.h": "/* stand-in header */\n"},
        "libs": {"nvidia/cudnn/lib/libcudnn.so.9": MIB // 2, "nvidia/cudnn/lib/libcudnn_engines_precompiled.so.9":
                 3 * MIB, "nvidia/cudnn/lib/libcudnn_graph.so.9": MIB},
    },
    {
        "name": "torch",
        "version": "2.5.1",
        "summary": "Tensors and Dynamic neural networks in Python with strong GPU acceleration (deadweight stand-in)",
        "requires": [
            'nvidia-cublas-cu12==12.4.5.8; platform_system == "Linux" and platform_machine == "x86_64"',
            'nvidia-cudnn-cu12==9.1.0.70; platform_system == "Linux" and platform_machine == "x86_64"',
        ],
        "text": {"torch/__init__.py": TORCH_INIT, "torch/cuda/__init__.py": TORCH_CUDA,
                 "torch/version.py": TORCH_VERSION},
        "libs": {"torch/lib/libtorch_cuda.so": 3 * MIB, "torch/lib/libtorch_cpu.so": 2 * MIB,
                 "torch/lib/libc10_cuda.so": MIB // 4, "torch/lib/libc10.so": MIB // 4},
    },
]


def record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(spec: dict[str, object], out: Path) -> Path:
    name = str(spec["name"])
    version = f"{spec['version']}{LABEL}"
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files = dist_files(spec)
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}", f"Summary: {spec['summary']}",
                "License: stand-in"]
    metadata += [f"Requires-Dist: {r}" for r in spec["requires"]]  # type: ignore[attr-defined]
    files[f"{info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: deadweight-standin\nRoot-Is-Purelib: true\n"
                              b"Tag: py3-none-any\n")
    files[f"{info}/top_level.txt"] = (sorted({p.split("/")[0] for p in files if "/" in p and ".dist-info" not in p})[0]
                                      + "\n").encode()
    if "entry_points" in spec:
        files[f"{info}/entry_points.txt"] = str(spec["entry_points"]).encode()
    record = [record_line(p, d) for p, d in sorted(files.items())] + [f"{info}/RECORD,,"]
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = out / f"{dist}-{version}-py3-none-any.whl"
    partial = wheel.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, data in files.items():  # RECORD last, as installers expect
            zi = zipfile.ZipInfo(path, ZIP_DATE)
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
    partial.replace(wheel)
    return wheel


def write_index(root: Path) -> None:
    """PEP 503 layout: root/index.html names the projects, root/<project>/index.html links their wheels."""
    projects = sorted(p.name for p in root.iterdir() if p.is_dir())
    links = "".join(f'<a href="{p}/">{p}</a><br>\n' for p in projects)
    (root / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    for p in projects:
        rows = []
        for whl in sorted((root / p).glob("*.whl")):
            sha = hashlib.sha256(whl.read_bytes()).hexdigest()
            rows.append(f'<a href="{whl.name}#sha256={sha}">{whl.name}</a><br>\n')
        (root / p / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{''.join(rows)}</body></html>\n")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    root = Path(argv[0])
    for spec in WHEELS:
        project = root / str(spec["name"])
        project.mkdir(parents=True, exist_ok=True)
        build_wheel(spec, project)
    # A constraint file the example builds can use (PIP_CONSTRAINT=<index>/constraints.txt) to hold torch at the
    # stand-in's release while the requirements stay as loose as people write them.
    (root / "constraints.txt").write_text("torch==2.5.1\n")
    write_index(root)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

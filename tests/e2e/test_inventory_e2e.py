"""The inventory on images built by the real engine, checked against the filesystem of a running container.

One image covers the cases: ``pip install numpy scipy pandas`` into Debian's dist-packages, a venv built in
a builder stage and copied in (multi-stage), a venv made with ``--system-site-packages``, and a CUDA
stand-in (small fake ``nvidia-*-cu12`` wheels and a fake ``torch`` that requires them, built as real wheels
here and installed from a local folder). The image is read the daemonless way (``docker save`` ->
docker-archive source -> one streaming pass), and every distribution's bytes are compared with ``os.lstat``
sums over its RECORD inside a container of the same image.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from deadweight.model.inventory import DistClass, Inventory

pytestmark = pytest.mark.e2e

BASE = "python:3.11-slim"
DEB = "usr/local/lib/python3.11/dist-packages"
VENV = "opt/venv/lib/python3.11/site-packages"
LINUX_X86 = "platform_system == 'Linux' and platform_machine == 'x86_64'"
#: name -> (subpackage, library, bytes)
NVIDIA = {
    "nvidia-cublas-cu12": ("cublas", "libcublas.so.12", 3_000_000),
    "nvidia-cudnn-cu12": ("cudnn", "libcudnn.so.9", 2_000_000),
}
TORCH_CUDA_LIB = 1_500_000

DOCKERFILE = f"""\
FROM {BASE} AS builder
RUN python3 -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir six==1.16.0

FROM {BASE}
RUN pip install --no-cache-dir numpy scipy pandas
COPY wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels torch sysextra \
 && python3 -m venv --system-site-packages /opt/sysvenv \
 && /opt/sysvenv/bin/pip install --no-cache-dir --no-index --find-links /wheels venvuser \
 && rm -rf /wheels
COPY --from=builder /opt/venv /opt/venv
"""

# Runs inside the container: bytes per distribution as the kernel sees them (lstat of each RECORD entry).
MEASURE = """\
import json, os, sys
from importlib.metadata import distributions
out = {}
for site in sys.argv[1:]:
    for dist in distributions(path=[site]):
        seen, total = set(), 0
        for f in dist.files or []:
            p = os.path.normpath(str(dist.locate_file(f)))
            if p in seen:
                continue
            seen.add(p)
            try:
                total += os.lstat(p).st_size
            except FileNotFoundError:
                pass
        out[site.lstrip("/") + "|" + dist.metadata["Name"].lower().replace("_", "-")] = total
print(json.dumps(out))
"""


def _docker(*args: str, timeout: int = 900) -> str:
    res = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, check=False)
    if res.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:2])} failed: {res.stderr[-2000:]}")
    return res.stdout


def _engine_ready() -> str | None:
    if shutil.which("docker") is None:
        return "no docker CLI"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
        if info.returncode != 0:
            return "docker info fails (no engine)"
        image = subprocess.run(["docker", "image", "inspect", BASE], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker does not answer ({type(exc).__name__})"
    if image.returncode != 0:
        return f"no {BASE} image in the engine (scripts/lab up builds it)"
    return None


def _payload(seed: str, size: int) -> bytes:
    """Deterministic incompressible bytes, so the build context (and the image cache key) is stable."""
    return random.Random(seed).randbytes(size)


def _write_wheels(folder: Path) -> None:
    from tests.support.wheels import build_wheel

    folder.mkdir(parents=True)
    for name, (sub, lib, size) in NVIDIA.items():
        build_wheel(
            folder,
            name,
            "12.4.5",
            {
                "nvidia/__init__.py": b"",
                f"nvidia/{sub}/__init__.py": b"",
                f"nvidia/{sub}/lib/{lib}": _payload(name, size),
            },
            tag="py3-none-manylinux1_x86_64",
        )
    build_wheel(
        folder,
        "torch",
        "2.5.1",
        {
            "torch/__init__.py": b"__version__ = '2.5.1'\n",
            "torch/lib/libtorch_cuda.so": _payload("torch-cuda", TORCH_CUDA_LIB),
            "torch/lib/libtorch_cpu.so": _payload("torch-cpu", 500_000),
        },
        requires=tuple(f"{name}==12.4.5; {LINUX_X86}" for name in NVIDIA),
        tag="py3-none-manylinux1_x86_64",
        entry_points="[console_scripts]\ntorchrun = torch.distributed.run:main\n",
    )


    # a venv made with --system-site-packages installs venvuser only: sysbase comes from Debian's interpreter
    build_wheel(folder, "sysbase", "1.0", {"sysbase/__init__.py": _payload("sysbase", 200_000)})
    build_wheel(folder, "sysextra", "1.0", {"sysextra/__init__.py": b"x = 1\n"}, requires=("sysbase>=1",))
    build_wheel(folder, "venvuser", "1.0", {"venvuser/__init__.py": b"import sysbase\n"}, requires=("sysbase",))


def _context_key(context: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(path.relative_to(context).as_posix().encode() + b"\0" + path.read_bytes())
    digest.update(_docker("image", "inspect", "-f", "{{.Id}}", BASE).encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """(tag, docker-archive path) of the test image; reused when its context did not change."""
    reason = _engine_ready()
    if reason is not None:
        pytest.skip(reason)
    context = tmp_path_factory.mktemp("inventory-image")
    (context / "Dockerfile").write_text(DOCKERFILE)
    _write_wheels(context / "wheels")
    tag = f"deadweight-e2e/inventory:{_context_key(context)}"
    have = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, timeout=60, check=False)
    if have.returncode != 0:
        _docker("build", "--network", "host", "-t", tag, str(context), timeout=1800)
    archive = context / "image.tar"
    _docker("save", "-o", str(archive), tag)
    return tag, archive


@pytest.fixture(scope="module")
def analysed(built: tuple[str, Path]) -> tuple[Inventory, Any]:
    from deadweight.inventory import capture
    from deadweight.inventory.build import build_inventory
    from deadweight.pipeline.analyze import analyze_image
    from deadweight.sources.base import SourceOptions
    from deadweight.sources.resolve import open_source

    _, archive = built
    with open_source(f"docker-archive:{archive}", SourceOptions()) as source:
        config = source.config()
        analysis = analyze_image(source, want=capture.for_config(config))
    return build_inventory(analysis.tree, config), analysis


@pytest.fixture(scope="module")
def measured(built: tuple[str, Path]) -> dict[str, int]:
    tag, _ = built
    out = _docker(
        "run", "--rm", "--network", "none", "--entrypoint", "python3", tag, "-c", MEASURE, "/" + DEB, "/" + VENV
    )
    result: dict[str, int] = json.loads(out)
    return result


def test_environments_found(analysed: tuple[Inventory, Any]) -> None:
    inv, _ = analysed
    envs = {e.path: e for e in inv.environments}
    assert envs[DEB].kind == "system" and envs[DEB].python_version == "3.11"
    venv = envs[VENV]
    assert venv.kind == "venv" and venv.prefix == "opt/venv"
    assert venv.python_version is not None and venv.python_version.startswith("3.11")
    assert venv.warnings == ()
    assert venv.find("six") is not None and venv.find("six").requested is True  # type: ignore[union-attr]
    deb = envs[DEB]
    for name in ("numpy", "scipy", "pandas", "torch"):
        dist = deb.find(name)
        assert dist is not None, name
        assert dist.requested is True and dist.installer == "pip"
    numpy = deb.find("numpy")
    assert numpy is not None
    assert any(p.startswith("usr/local/bin/f2py") for p in numpy.files)  # console script outside site-packages
    assert numpy.pycache_bytes > 0
    scipy = deb.find("scipy")
    assert scipy is not None and scipy.exclusive_bytes >= scipy.size_bytes
    pandas = deb.find("pandas")
    assert pandas is not None
    active = {r.name for r in pandas.requires if r.active}
    assert {"numpy", "python-dateutil"} <= active
    # markers evaluated for the image's Python 3.11 on linux, not for this machine
    for req in pandas.requires:
        if req.marker and ("win32" in req.marker or '>= "3.14"' in req.marker):
            assert not req.active, req


def test_a_system_site_packages_venv_keeps_its_requirements_in_the_base_environment(
    analysed: tuple[Inventory, Any],
) -> None:
    inv, _ = analysed
    envs = {e.path: e for e in inv.environments}
    venv = envs["opt/sysvenv/lib/python3.11/site-packages"]
    # what Debian's /usr/bin/python3 puts on sys.path after the venv's own site-packages
    assert set(venv.base_environments) == {DEB, "usr/lib/python3/dist-packages"}
    assert venv.find("venvuser") is not None and venv.find("sysbase") is None  # pip took sysbase from the system
    sysextra, sysbase = envs[DEB].find("sysextra"), envs[DEB].find("sysbase")
    assert sysextra is not None and sysbase is not None and sysbase.size_bytes >= 200_000
    # removing sysextra frees only itself: the venv still imports sysbase
    assert sysextra.exclusive_bytes == sysextra.size_bytes
    assert {e.path for e in inv.environments if e.base_environments} == {venv.path}


def test_bytes_per_distribution_match_the_running_container(
    analysed: tuple[Inventory, Any], measured: dict[str, int]
) -> None:
    inv, _ = analysed
    compared = 0
    for env in inv.environments:
        for dist in env.distributions:
            key = f"{env.path}|{dist.name}"
            if key not in measured:
                continue
            want = measured[key]
            assert abs(dist.size_bytes - want) <= max(want // 100, 64), (key, dist.size_bytes, want)
            compared += 1
    assert compared >= 10  # numpy, scipy, pandas and deps, torch, nvidia-*, six, the venv's pip


def test_cuda_stand_in_is_gpu_with_the_right_bytes(analysed: tuple[Inventory, Any]) -> None:
    inv, analysis = analysed
    env = next(e for e in inv.environments if e.path == DEB)
    torch = env.find("torch")
    assert torch is not None
    assert torch.build == "cuda" and torch.dist_class is DistClass.ML
    assert {r.name for r in torch.requires if r.active} == set(NVIDIA)
    nvidia_bytes = 0
    for name, (_sub, _lib, size) in NVIDIA.items():
        dist = env.find(name)
        assert dist is not None and dist.dist_class is DistClass.GPU
        assert dist.size_bytes >= size
        nvidia_bytes += dist.size_bytes
    assert torch.exclusive_bytes == torch.size_bytes + nvidia_bytes
    assert inv.breakdown["gpu"] == nvidia_bytes + TORCH_CUDA_LIB
    assert sum(inv.breakdown.values()) == analysis.size_bytes


# Runs inside the container: an egg-info distribution Debian installed (no RECORD) as the kernel sees it: the
# files its dpkg package lists, plus the __pycache__ Debian compiled beside them at install time.
MEASURE_DEB_EGG = """\
import os, subprocess, sys
for pkg in sys.argv[1:]:
    out = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True, check=True).stdout
    listed = [line.strip() for line in out.splitlines() if line.strip().startswith("/")]
    files = {p for p in listed if not os.path.isdir(p) or os.path.islink(p)}
    for d in listed:
        cache = os.path.join(d, "__pycache__")
        if d.startswith("/usr/lib/python3/dist-packages") and os.path.isdir(cache) and not os.path.islink(d):
            files.update(os.path.join(cache, f) for f in os.listdir(cache))
    files = {f for f in files if os.path.lexists(f)}
    print(pkg, sum(os.lstat(f).st_size for f in files), len(files))
"""
DEB_PURELIB = "usr/lib/python3/dist-packages"


def test_egg_info_distributions_match_the_running_container(
    built: tuple[str, Path], analysed: tuple[Inventory, Any]
) -> None:
    """Debian's setuptools and wheel are egg-info directories with no RECORD: their files come from dpkg."""
    tag, _ = built
    out = _docker("run", "--rm", "--network", "none", "--entrypoint", "python3", tag, "-c", MEASURE_DEB_EGG,
                  "python3-setuptools", "python3-wheel")
    measured = {line.split()[0]: (int(line.split()[1]), int(line.split()[2])) for line in out.splitlines()}
    inv, _ = analysed
    env = next(e for e in inv.environments if e.path == DEB_PURELIB)
    for dist_name, pkg in (("setuptools", "python3-setuptools"), ("wheel", "python3-wheel")):
        dist = env.find(dist_name)
        assert dist is not None and dist.metadata_path.endswith(".egg-info"), dist_name
        size, count = measured[pkg]
        assert abs(dist.size_bytes - size) <= max(size // 100, 64), (dist_name, dist.size_bytes, size)
        assert len(dist.files) == count
        assert any("files taken from OS package" in w for w in dist.warnings)

"""What kind of weight things are: distribution classes, framework builds, and path classes.

Kept as data plus tiny predicates so rules and the breakdown agree on one definition of "GPU",
"toolchain" or "cache". The predicates run once per file of the image, so they use string tests.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable

from packaging.version import Version

from deadweight.model.inventory import DistClass

_GPU_NAMES = frozenset(
    {
        "triton",
        "pytorch-triton",
        "pytorch-triton-rocm",
        "cupy",
        "tensorrt",
        "pycuda",
        "nccl",
        "cudnn",
        "jax-cuda12-plugin",
        "jax-cuda12-pjrt",
        "jax-cuda13-plugin",
        "jax-cuda13-pjrt",
        "jax-cuda11-plugin",
        "jax-cuda11-pjrt",
    }
)
_GPU_PREFIXES = ("nvidia-", "cuda-", "cupy-", "tensorrt-", "jax-cuda", "jax-rocm", "pytorch-triton")

_ML_NAMES = frozenset(
    {
        "torch",
        "torchvision",
        "torchaudio",
        "torchtext",
        "torchdata",
        "tensorflow",
        "tensorflow-cpu",
        "tensorflow-gpu",
        "tensorflow-intel",
        "tensorflow-macos",
        "tensorflow-io-gcs-filesystem",
        "tf-keras",
        "keras",
        "tensorboard",
        "jax",
        "jaxlib",
        "flax",
        "onnx",
        "onnxruntime",
        "onnxruntime-gpu",
        "openvino",
        "xgboost",
        "lightgbm",
        "catboost",
        "scikit-learn",
        "transformers",
        "tokenizers",
        "safetensors",
        "accelerate",
        "sentence-transformers",
        "faiss",
        "faiss-cpu",
        "faiss-gpu",
        "opencv-python",
        "opencv-python-headless",
        "opencv-contrib-python",
        "opencv-contrib-python-headless",
        "paddlepaddle",
        "paddlepaddle-gpu",
        "mxnet",
        "spacy",
        "thinc",
        "timm",
        "diffusers",
        "vllm",
        "xformers",
        "bitsandbytes",
        "deepspeed",
    }
)
_ML_PREFIXES = ("faiss-gpu", "mxnet-", "tensorflow-")

_SCIENTIFIC_NAMES = frozenset(
    {
        "numpy",
        "scipy",
        "pandas",
        "polars",
        "pyarrow",
        "numba",
        "llvmlite",
        "sympy",
        "mpmath",
        "statsmodels",
        "matplotlib",
        "scikit-image",
        "h5py",
        "numexpr",
        "bottleneck",
        "xarray",
        "networkx",
        "patsy",
        "tables",
        "dask",
        "shapely",
        "pyproj",
        "seaborn",
        "contourpy",
        "fonttools",
        "kiwisolver",
        "scikit-learn-intelex",
        "mkl",
        "intel-openmp",
        "tbb",
    }
)
_PACKAGING_NAMES = frozenset({"pip", "setuptools", "wheel", "distribute"})
#: Python distributions that are build tools, counted as toolchain in the breakdown.
_TOOLCHAIN_DISTS = frozenset(
    {"cmake", "ninja", "meson", "meson-python", "scikit-build", "scikit-build-core", "cython", "pybind11"}
)

#: Substrings of shared-library names that are CUDA (or ROCm) code inside framework wheels.
_GPU_LIB_TOKENS = (
    "cuda",
    "cudnn",
    "cublas",
    "nccl",
    "cufft",
    "curand",
    "cusparse",
    "cusolver",
    "nvrtc",
    "nvjitlink",
    "cupti",
    "nvtoolsext",
    "nvperf",
    "cufile",
    "nvjpeg",
    "nvshmem",
    "tensorrt",
    "libmagma",
)
_ROCM_LIB_PREFIXES = (
    "libamdhip",
    "libhip",
    "librocm",
    "libmiopen",
    "librccl",
    "libhsa",
    "librocblas",
    "librocfft",
    "librocrand",
    "librocsolver",
    "librocsparse",
    "libroctx",
    "libroctracer",
)

_CACHE_HOME_DIRS = (".cache/pip/", ".cache/uv/", ".cache/pypoetry/", ".cache/pipenv/", ".npm/_cacache/")
_CACHE_PREFIXES = (
    "var/cache/apt/",
    "var/lib/apt/lists/",
    "var/cache/apk/",
    "etc/apk/cache/",
    "var/cache/yum/",
    "var/cache/dnf/",
)
_TEST_DOC_DIRS = frozenset({"tests", "test", "docs", "doc"})


def dist_class(name: str) -> DistClass:
    """Class of a distribution by canonical name."""
    if name in _GPU_NAMES or name.startswith(_GPU_PREFIXES):
        return DistClass.GPU
    if name in _ML_NAMES or name.startswith(_ML_PREFIXES):
        return DistClass.ML
    if name in _SCIENTIFIC_NAMES:
        return DistClass.SCIENTIFIC
    if name in _PACKAGING_NAMES:
        return DistClass.PACKAGING
    return DistClass.OTHER


def breakdown_class(name: str, cls: DistClass) -> str:
    """Breakdown class of the (non-GPU-library, non-test) files of a distribution."""
    if cls is DistClass.GPU:
        return "gpu"
    if cls is DistClass.ML:
        return "ml"
    if cls is DistClass.SCIENTIFIC:
        return "scientific"
    if name in _TOOLCHAIN_DISTS:
        return "toolchain"
    return "other_python"


def is_gpu_library(path: str) -> bool:
    """A CUDA/ROCm shared library, e.g. ``torch/lib/libcudnn.so.9`` or ``libtorch_cuda.so``."""
    return is_gpu_library_name(path.rpartition("/")[2])


def is_gpu_library_name(filename: str) -> bool:
    """``is_gpu_library`` of a file name without its directory (for loops that split the path anyway)."""
    base = filename.lower()
    if ".so" not in base and not base.endswith((".dll", ".cubin", ".fatbin")):
        return False
    return any(tok in base for tok in _GPU_LIB_TOKENS) or base.startswith(_ROCM_LIB_PREFIXES)


def is_cache_path(path: str, conda_prefixes: Iterable[str] = ()) -> bool:
    """Package-manager caches baked into the image (pip/uv/poetry, apt lists and archives, apk, conda)."""
    if path.startswith(_CACHE_PREFIXES):
        return True
    if ".cache/" in path or ".npm/" in path:
        for marker in _CACHE_HOME_DIRS:
            i = path.find(marker)
            if i >= 0 and (i == 0 or path[i - 1] == "/"):
                return True
    if not conda_prefixes:
        return False  # the usual image: no conda, and this runs once per file
    return any(path.startswith(f"{prefix}/pkgs/" if prefix else "pkgs/") for prefix in conda_prefixes)


def is_tests_or_docs(rel_path: str) -> bool:
    """A file under a ``tests``/``test``/``docs``/``doc`` directory of an installed package.

    ``rel_path`` is relative to the environment directory; metadata directories do not count.
    """
    parts = rel_path.split("/")
    if len(parts) < 2 or parts[0].endswith((".dist-info", ".egg-info", ".data")) or parts[0] == "..":
        return False
    return any(p.lower() in _TEST_DOC_DIRS for p in parts[:-1])


def local_label(version: str) -> str | None:
    try:
        return Version(version).local
    except ValueError:  # InvalidVersion, or a number too long for int() (4300 digits)
        _, sep, label = version.partition("+")
        return label if sep else None


def detect_build(
    name: str,
    version: str,
    requires: Iterable[str],
    installed: Iterable[str],
    files: Iterable[str],
) -> tuple[str | None, tuple[str, ...]]:
    """The framework build (``cuda``, ``cpu``, ``rocm``, ``gpu``, ``headless``, ``gui``) and why.

    ``requires`` are the names of the distribution's active requirements, ``installed`` every
    distribution name in its environment, ``files`` its image paths.
    """
    reqs = sorted(set(requires))
    env = set(installed)
    evidence: list[str] = []
    nvidia_reqs = [r for r in reqs if r.startswith("nvidia-")]
    if name in ("torch", "torchvision", "torchaudio"):
        return _torch_build(version, nvidia_reqs, files)
    if name in ("tensorflow-cpu", "tensorflow-intel", "tensorflow-macos"):
        return "cpu", (f"distribution is {name}",)
    if name in ("tensorflow", "tensorflow-gpu"):
        if nvidia_reqs:
            return "cuda", (f"requires {len(nvidia_reqs)} nvidia-* distributions: {', '.join(nvidia_reqs)}",)
        return "gpu", (f"{name} ships GPU kernels; tensorflow-cpu is the CPU-only variant",)
    if name in ("onnxruntime-gpu", "onnxruntime"):
        libs = [f for f in files if is_gpu_library(f)]
        if name == "onnxruntime-gpu" or libs:
            evidence.append(f"distribution is {name}")
            evidence.extend(f"ships {posixpath.basename(f)}" for f in libs[:3])
            return "gpu", tuple(evidence)
        return "cpu", ("distribution is onnxruntime (CPU)",)
    if name in ("jax", "jaxlib"):
        plugins = sorted(n for n in env if n.startswith(("jax-cuda", "jax-rocm")))
        label = local_label(version) or ""
        if plugins or "cuda" in label:
            return "cuda", tuple(f"{p} installed" for p in plugins) or (f"version label +{label}",)
        return "cpu", ("no jax CUDA plugin installed",)
    if name.startswith("faiss"):
        if "gpu" in name:
            return "gpu", (f"distribution is {name}",)
        libs = [f for f in files if is_gpu_library(f)]
        if libs:
            return "gpu", tuple(f"ships {posixpath.basename(f)}" for f in libs[:3])
        return "cpu", (f"distribution is {name}",)
    if name.startswith("opencv-"):
        if name.endswith("-headless"):
            return "headless", (f"distribution is {name}",)
        return "gui", (f"{name} links GUI libraries; {name}-headless is the server variant",)
    if name.startswith("cupy"):
        return ("rocm" if "rocm" in name else "cuda"), (f"distribution is {name}",)
    if name.startswith(("paddlepaddle", "mxnet")):
        gpu = "gpu" in name or "-cu" in name
        return ("cuda" if gpu else "cpu"), (f"distribution is {name}",)
    return None, ()


def _torch_build(version: str, nvidia_reqs: list[str], files: Iterable[str]) -> tuple[str | None, tuple[str, ...]]:
    evidence: list[str] = []
    label = local_label(version) or ""
    cuda_libs = sorted({posixpath.basename(f) for f in files if is_gpu_library(f)})
    if label:
        evidence.append(f"version label +{label}")
    if nvidia_reqs:
        evidence.append(f"requires {len(nvidia_reqs)} nvidia-* distributions: {', '.join(nvidia_reqs)}")
    if cuda_libs:
        shown = ", ".join(cuda_libs[:4]) + (", ..." if len(cuda_libs) > 4 else "")
        evidence.append(f"ships {len(cuda_libs)} CUDA/ROCm libraries: {shown}")
    if label.startswith("cu"):
        return "cuda", tuple(evidence)
    if label.startswith("rocm"):
        return "rocm", tuple(evidence)
    if label == "cpu":
        return "cpu", tuple(evidence)
    if nvidia_reqs or any("cuda" in lib or "cudnn" in lib for lib in cuda_libs):
        return "cuda", tuple(evidence)
    if cuda_libs:
        return "rocm", tuple(evidence)
    evidence.append("no CUDA version label, nvidia-* requirement or CUDA library")
    return "cpu", tuple(evidence)

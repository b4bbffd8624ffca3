"""Where the image's bytes go: every byte counted once, the classes summing exactly to the image size.

The image size here is what the layers store: visible bytes of the final tree plus the bytes later
layers hid (shadowed). Each visible file lands in the first class that claims it, in this order:
package-manager caches; files of a Python distribution (GPU distributions and CUDA libraries inside
framework wheels as ``gpu``, ``tests``/``docs`` folders as ``tests_docs``, else the distribution's
class); files of an OS package (``toolchain`` or ``other_os``); application code under WORKDIR;
files in a Python environment nobody owns (``other_python``, or ``tests_docs``); everything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from deadweight.inventory import classify
from deadweight.inventory.pythonenv import TreeLike
from deadweight.model.python import DistClass, Distribution, OsPackage

_GPU_OS_PREFIXES = ("cuda-", "libcu", "libnccl", "libcudnn", "nvidia-", "libnvidia-", "libnpp", "libnvjpeg")


def _env_rel(path: str, env: str) -> str:
    return path[len(env) + 1 :] if env else path


def _in_tests_or_docs(path: str, cut: int, memo: dict[str, bool]) -> bool:
    """``classify.is_tests_or_docs`` of ``path[cut:]``, answered once per directory (it depends on nothing else)."""
    directory = path.rpartition("/")[0]
    if len(directory) < cut:
        return False  # directly in the environment directory
    hit = memo.get(directory)
    if hit is None:
        hit = memo[directory] = classify.is_tests_or_docs(directory[cut:] + "/_")
    return hit


def compute_breakdown(
    tree: TreeLike,
    sizes: Mapping[str, int],
    *,
    py_owner: Mapping[str, Distribution],
    os_owner: Mapping[str, str],
    os_packages: Sequence[OsPackage],
    orphans: Mapping[str, str],
    workdir: str,
    conda_prefixes: Sequence[str] = (),
) -> tuple[dict[str, int], list[str]]:
    """Bytes per class (every class present, zeros included) and any accounting warnings.

    ``sizes`` maps every visible non-directory of ``tree`` to its size (``FileTree.files()``).
    """
    counts = dict.fromkeys(classify.BREAKDOWN_CLASSES, 0)
    pkg_class: dict[str, str] = {}
    for pkg in os_packages:
        key = f"{pkg.manager}:{pkg.name}"
        if pkg.is_toolchain:
            pkg_class[key] = "toolchain"
        elif pkg.name.startswith(_GPU_OS_PREFIXES):
            pkg_class[key] = "gpu"
        else:
            pkg_class[key] = "other_os"
    app = workdir.strip("/")
    app_prefix = app + "/" if app else None
    # Per distribution, worked out once: its environment's "dir/", whether it is a GPU distribution,
    # its environment's tests/docs answers by directory, and its class. The loop runs once per file.
    per_dist: dict[int, tuple[str, bool, dict[str, bool], str]] = {}
    tests_by_env: dict[str, dict[str, bool]] = {}
    is_cache_path = classify.is_cache_path
    is_gpu_library = classify.is_gpu_library
    owner_of = py_owner.get

    for path, size in sizes.items():
        if not size:
            continue
        dist = owner_of(path)
        if is_cache_path(path, conda_prefixes):
            cls = "caches"
        elif dist is not None:
            info = per_dist.get(id(dist))
            if info is None:
                info = per_dist[id(dist)] = (
                    dist.environment + "/",
                    dist.dist_class is DistClass.GPU,
                    tests_by_env.setdefault(dist.environment, {}),
                    classify.breakdown_class(dist.name, dist.dist_class),
                )
            prefix, gpu_dist, tests_memo, dist_cls = info
            if gpu_dist or is_gpu_library(path):
                cls = "gpu"
            elif path.startswith(prefix) and _in_tests_or_docs(path, len(prefix), tests_memo):
                cls = "tests_docs"
            else:
                cls = dist_cls
        elif path in os_owner:
            cls = pkg_class.get(os_owner[path], "other_os")
        elif app_prefix is not None and path.startswith(app_prefix):
            cls = "application"
        elif path in orphans:
            cls = "tests_docs" if classify.is_tests_or_docs(_env_rel(path, orphans[path])) else "other_python"
        else:
            cls = "other"
        counts[cls] += size

    warnings: list[str] = []
    counted = sum(counts.values())
    if counted != tree.visible_bytes:
        # Cannot happen with a consistent tree; keep the sum exact and say so rather than hide it.
        warnings.append(
            f"breakdown: file sizes sum to {counted} bytes but the tree reports {tree.visible_bytes} "
            "visible bytes; the difference is put in 'other'"
        )
        counts["other"] += tree.visible_bytes - counted
    counts["shadowed"] = tree.shadowed_bytes
    return counts, warnings

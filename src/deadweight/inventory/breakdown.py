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
from deadweight.model.inventory import BREAKDOWN_CLASSES, DistClass, Distribution, OsPackage
from deadweight.model.tree import TreeView

_GPU_OS_PREFIXES = ("cuda-", "libcu", "libnccl", "libcudnn", "nvidia-", "libnvidia-", "libnpp", "libnvjpeg")


def _tests_or_docs_dir(directory: str, env: str) -> bool:
    """Whether files in ``directory`` are tests or docs of environment ``env`` (``classify.is_tests_or_docs``)."""
    if not env:
        return classify.is_tests_or_docs(directory + "/_")
    if directory.startswith(env + "/"):
        return classify.is_tests_or_docs(directory[len(env) + 1 :] + "/_")
    return False  # directly in the environment directory, or outside it


def compute_breakdown(
    tree: TreeView,
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
    counts = dict.fromkeys(BREAKDOWN_CLASSES, 0)
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
    # Per distribution, worked out once: its environment's directory, whether it is a GPU distribution, and
    # its class. Per directory, worked out once: whether it is a cache, and whether it is a tests/docs folder
    # of the environment that owns the file (every answer depends on the directory alone). The loop runs
    # once per file, so it does no more than it must.
    per_dist: dict[int, tuple[str, bool, str]] = {}
    cache_dirs: dict[str, bool] = {}
    is_cache_path = classify.is_cache_path
    is_gpu_library_name = classify.is_gpu_library_name
    owner_of = py_owner.get
    # files come in runs of one directory: its answers are kept until the directory changes
    last_dir: str | None = None
    in_cache = False
    tests_here: dict[str, bool] = {}  # environment -> is this directory a tests/docs folder in it

    for path, size in sizes.items():
        if not size:
            continue
        directory, _, filename = path.rpartition("/")
        if directory != last_dir:
            last_dir = directory
            tests_here = {}
            cached = cache_dirs.get(directory)
            if cached is None:
                # every cache marker ends in "/": a file is in a cache exactly when its directory is
                cached = cache_dirs[directory] = is_cache_path(directory + "/", conda_prefixes)
            in_cache = cached
        dist = owner_of(path)
        if in_cache:
            cls = "caches"
        elif dist is not None:
            info = per_dist.get(id(dist))
            if info is None:
                info = per_dist[id(dist)] = (
                    dist.environment,
                    dist.dist_class is DistClass.GPU,
                    classify.breakdown_class(dist.name, dist.dist_class),
                )
            env, gpu_dist, dist_cls = info
            if gpu_dist or is_gpu_library_name(filename):
                cls = "gpu"
            else:
                in_tests = tests_here.get(env)
                if in_tests is None:
                    in_tests = tests_here[env] = _tests_or_docs_dir(directory, env)
                cls = "tests_docs" if in_tests else dist_cls
        elif path in os_owner:
            cls = pkg_class.get(os_owner[path], "other_os")
        elif app_prefix is not None and path.startswith(app_prefix):
            cls = "application"
        elif path in orphans:
            cls = "tests_docs" if _tests_or_docs_dir(directory, orphans[path]) else "other_python"
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

"""Could this image's distributions install on alpine without compiling? Checked on the index: a
musllinux wheel (or a pure-Python one) of the installed version for the target Python, per distribution.

DW601 only mentions alpine with that proof; otherwise it names what would have to compile.
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.version import Version

from deadweight.errors import SourceError
from deadweight.model.image import Platform
from deadweight.model.inventory import Distribution
from deadweight.pypi.index import IndexClient
from deadweight.pypi.store import JsonStore
from deadweight.pypi.tags import target_tags, wheel_rank


def musl_gaps(
    dists: Sequence[Distribution],
    python: str,
    platform: Platform,
    index_urls: Sequence[str],
    store: JsonStore,
    *,
    offline: bool,
) -> tuple[str, ...] | None:
    """Names of distributions with no musllinux or pure wheel of their version; None when it could not be
    checked (an index unreachable, or offline without the answer cached)."""
    tags = target_tags(python, platform, libc="musl")
    clients = [IndexClient(url, store, offline=offline) for url in index_urls]
    missing: list[str] = []
    try:
        for dist in sorted(dists, key=lambda d: d.name):
            try:
                wanted = Version(dist.version.split("+", 1)[0])
            except ValueError:  # InvalidVersion, or a number too long for int() (4300 digits)
                return None
            found = False
            for client in clients:
                files = client.project_files(dist.name)
                if any(f.version() == wanted and wheel_rank(f.filename, tags) is not None for f in files):
                    found = True
                    break
            if not found:
                missing.append(dist.name)
    except SourceError:
        return None
    finally:
        for client in clients:
            client.close()
    return tuple(missing)

"""One image out of a local archive that holds several (``docker save a b``, an OCI layout with many tags).

The reference syntax is skopeo's: ``docker-archive:PATH[:NAME|:@INDEX]`` and ``oci:PATH[:NAME]``, where
NAME is a tag the archive knows the image by (``RepoTags`` of a ``docker save``; the
``org.opencontainers.image.ref.name`` or ``io.containerd.image.name`` annotation of an OCI index) and INDEX
counts from 0 in the archive's own order. Guessing is not an option: with several images and no name the
user is told which names there are.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from deadweight.errors import SourceError, UsageError
from deadweight.safetext import printable
from deadweight.sources.registry_ref import parse_image_ref


def split_archive_ref(raw: str) -> tuple[Path, str | None]:
    """``PATH[:SELECTOR]`` -> (path, selector). The longest existing path wins, so a path may hold ``:``."""
    path = Path(raw).expanduser()
    if path.exists():
        return path, None
    cut = raw.rfind(":")
    while cut > 0:
        head = Path(raw[:cut]).expanduser()
        if head.exists():
            selector = raw[cut + 1 :]
            if not selector:
                raise UsageError(f"{printable(raw)}: empty image name after ':'")
            return head, selector
        cut = raw.rfind(":", 0, cut)
    if os.path.lexists(path):  # there, but stat fails: a dangling symlink or a loop
        raise SourceError(f"{printable(raw)}: a dangling symlink or a symlink loop")
    raise SourceError(f"{printable(raw)}: no such file or directory")


def choose(names: Sequence[tuple[str, ...]], selector: str | None, ref: str) -> int:
    """Index of the image ``selector`` names among images known by ``names`` (one tuple per image).

    No selector: the only image, else a ``UsageError`` listing what to pick. ``@N`` picks by position;
    anything else must equal one of an image's names, compared as image references (``app`` is
    ``docker.io/library/app:latest``) where both parse as such.
    """
    listed = _listing(names)
    if selector is None:
        if len(names) == 1:
            return 0
        raise UsageError(
            f"{ref} holds {len(names)} images ({listed}): name one, e.g. {ref}:{_label(names[0], 0)}"
        )
    if selector.startswith("@"):
        position = selector[1:]
        if not position.isdigit() or int(position) >= len(names):
            raise SourceError(
                f"{ref}: no image {printable(selector)} (the archive holds {len(names)}, counted from @0)"
            )
        return int(position)
    wanted = _normal(selector)
    found = [i for i, image_names in enumerate(names)
             if selector in image_names or (wanted is not None and wanted in map(_normal, image_names))]
    if len(found) == 1:
        return found[0]
    if not found:
        raise SourceError(f"{ref}: no image named {selector!r} in the archive (it holds {listed})")
    raise SourceError(f"{ref}: {len(found)} images are named {selector!r}: pick one by position ({listed})")


def _label(image_names: tuple[str, ...], index: int) -> str:
    return printable(image_names[0][:200]) if image_names else f"@{index}"


#: Names listed in one error message; a hostile archive may hold thousands.
_LISTED = 10


def _listing(names: Sequence[tuple[str, ...]]) -> str:
    listed = ", ".join(_label(n, i) for i, n in enumerate(names[:_LISTED]))
    return listed + (f" and {len(names) - _LISTED} more" if len(names) > _LISTED else "")


def _normal(name: str) -> tuple[str, str, str] | None:
    """(host, repository, tag) of an image name, None when it is not one (an OCI ref name may be a bare tag)."""
    if name.startswith("@"):
        return None
    try:
        ref = parse_image_ref(name)
    except UsageError:
        return None
    if ref.digest and not ref.tag:
        return (ref.host, ref.repository, ref.digest)
    return (ref.host, ref.repository, ref.tag or "latest")

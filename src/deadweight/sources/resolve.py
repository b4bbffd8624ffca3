"""Turn what the user typed into an ``ImageSource``.

| ref | source |
|---|---|
| ``docker-archive:PATH[:NAME|:@N]`` | a ``docker save`` tarball (NAME or position when it holds several) |
| ``oci:PATH[:NAME]`` | an OCI image layout (directory or tar) |
| ``registry:HOST/REPO[:TAG|@DIGEST]`` (also ``docker://...``) | the registry API |
| ``docker:NAME`` | the local Docker engine |
| an existing ``*.tar`` file / OCI layout directory | docker-archive / oci (convenience) |
| bare ``NAME[:TAG]`` | the engine if it has the image, else the registry |

Only these prefixes are schemes: ``localhost:5000/app`` or ``python:3.11`` are bare references.
"""

from __future__ import annotations

import re
from pathlib import Path

from deadweight.errors import UsageError
from deadweight.sources.archive_select import split_archive_ref
from deadweight.sources.auth import strip_userinfo
from deadweight.sources.base import ImageSource, SourceOptions
from deadweight.sources.daemon import DaemonSource, daemon_has
from deadweight.sources.docker_archive import DockerArchiveSource
from deadweight.sources.oci_layout import OciLayoutSource
from deadweight.sources.registry import RegistrySource
from deadweight.sources.registry_ref import parse_image_ref

#: The engine also takes image ids: ``sha256:<hex>`` or a hex prefix.
_IMAGE_ID = re.compile(r"(?:sha256:)?[0-9a-f]{12,64}")

SCHEMES = ("docker-archive:", "oci-archive:", "oci:", "registry:", "docker://", "docker:")


def describe_ref(ref: str) -> str:
    """``ref`` safe to print: any ``user:password@`` before a registry host is removed."""
    scheme = next((s for s in SCHEMES if ref.startswith(s)), "")
    if scheme in ("docker-archive:", "oci-archive:", "oci:"):
        return ref  # a path: nothing to strip (an '@' in a file name is not a credential)
    return scheme + strip_userinfo(ref[len(scheme) :])


def _has_credentials(ref: str) -> bool:
    return describe_ref(ref) != ref


def open_source(ref: str, options: SourceOptions | None = None) -> ImageSource:
    """The source for ``ref``; ``UsageError`` for bad syntax, ``SourceError`` when it cannot be opened."""
    options = options or SourceOptions()
    text = ref.strip()
    if not text:
        raise UsageError("empty image reference")
    if _has_credentials(text):
        raise UsageError(
            f"image reference {describe_ref(text)!r} carries credentials: remove them and use "
            "docker login (or DOCKER_CONFIG) instead"
        )
    if text.startswith("docker-archive:"):
        return _docker_archive(*_archive(text, "docker-archive:"), options)
    if text.startswith(("oci:", "oci-archive:")):
        return _oci(*_archive(text, "oci:" if text.startswith("oci:") else "oci-archive:"), options)
    if text.startswith("registry:"):
        return _registry(text.removeprefix("registry:"), options)
    if text.startswith("docker://"):
        return _registry(text.removeprefix("docker://"), options)
    if text.startswith("docker:"):
        name = text.removeprefix("docker:")
        if not _IMAGE_ID.fullmatch(name):
            _check_name(name, text)
        return _daemon(name, options)
    candidate = Path(text).expanduser()
    if candidate.is_file() and text.endswith(".tar"):
        return _docker_archive(candidate, None, options)
    if candidate.is_dir() and (candidate / "oci-layout").is_file():
        return _oci(candidate, None, options)
    if "/" in text and candidate.exists():
        raise UsageError(f"{text}: not an image archive (use docker-archive:PATH or oci:PATH)")
    _check_name(text, text)
    if daemon_has(text):
        return _daemon(text, options)
    return _registry(text, options)


def _archive(text: str, scheme: str) -> tuple[Path, str | None]:
    """``SCHEME:PATH[:IMAGE]`` -> (path, image name or ``@N`` when the archive holds several)."""
    raw = text[len(scheme) :]
    if not raw:
        raise UsageError(f"{text!r}: missing path after {scheme}")
    return split_archive_ref(raw)


def _check_name(name: str, text: str) -> None:
    """Validate reference syntax early so typos are usage errors, not network errors."""
    if not name:
        raise UsageError(f"{text!r}: missing image name")
    parse_image_ref(name)


def _docker_archive(path: Path, image: str | None, options: SourceOptions) -> ImageSource:
    return DockerArchiveSource(str(path), options, image)


def _oci(path: Path, image: str | None, options: SourceOptions) -> ImageSource:
    return OciLayoutSource(str(path), options, image)


def _registry(name: str, options: SourceOptions) -> ImageSource:
    _check_name(name, name)
    return RegistrySource(name, options)


def _daemon(name: str, options: SourceOptions) -> ImageSource:
    return DaemonSource(name, options)

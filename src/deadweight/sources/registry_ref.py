"""Image references for the registry: docker's reference grammar and Docker Hub naming.

:func:`parse_image_ref` turns ``[HOST[:PORT]/]REPO[:TAG][@DIGEST]`` into a :class:`RegistryRef` with a
canonical host, or raises ``UsageError`` for anything docker would refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deadweight.errors import UsageError
from deadweight.sources.auth import strip_userinfo

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_PATH_RE = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_RE = re.compile(rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?")
_TAG_RE = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}")
MAX_NAME_LENGTH = 255


@dataclass(frozen=True, slots=True)
class RegistryRef:
    """A parsed image reference. ``host`` is canonical (``docker.io`` for Docker Hub)."""

    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def api_host(self) -> str:
        """Where the API lives (Docker Hub's API is not at ``docker.io``)."""
        return DOCKER_HUB_API if self.host == DOCKER_HUB else self.host

    @property
    def reference(self) -> str:
        """What goes after ``/manifests/``: the digest when pinned, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def is_local(self) -> bool:
        return self.host.rsplit(":", 1)[0] in LOCAL_HOSTS or self.host.startswith("[::1]")

    def __str__(self) -> str:
        text = f"{self.host}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image_ref(text: str) -> RegistryRef:
    """Parse ``[HOST[:PORT]/]REPO[:TAG][@DIGEST]`` with docker's rules.

    The first path component is a host when it contains ``.`` or ``:`` or is ``localhost``;
    otherwise the image is on Docker Hub, where one-component names live under ``library/``.
    Raises ``UsageError`` for anything docker would refuse.
    """
    original = text
    text = text.strip()
    if not text:
        raise UsageError("empty image reference")
    if "://" in text:
        raise UsageError(f"bad image reference {_safe(original)!r}: drop the URL scheme (HOST/REPO[:TAG])")
    name, at, digest = text.partition("@")
    if at:
        if not _DIGEST_RE.fullmatch(digest):
            raise UsageError(f"bad image reference {_safe(original)!r}: invalid digest")
        digest = digest.lower()
    tag: str | None = None
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name, tag = name[:colon], name[colon + 1 :]
        if not _TAG_RE.fullmatch(tag):
            raise UsageError(f"bad image reference {_safe(original)!r}: invalid tag {tag!r}")
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        host, path = first, rest
        if not _DOMAIN_RE.fullmatch(host):
            raise UsageError(f"bad image reference {_safe(original)!r}: invalid registry host {host!r}")
        host = host.lower()
        if host in DOCKER_HUB_ALIASES:
            host = DOCKER_HUB
    else:
        host, path = DOCKER_HUB, name
    if not path or not _PATH_RE.fullmatch(path):
        raise UsageError(
            f"bad image reference {_safe(original)!r}: "
            "repository names are lower case letters, digits and . _ - /"
        )
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if len(host) + 1 + len(path) > MAX_NAME_LENGTH:
        raise UsageError(f"bad image reference {_safe(original)!r}: name longer than {MAX_NAME_LENGTH} chars")
    if tag is None and not digest:
        tag = "latest"
    return RegistryRef(host=host, repository=path, tag=tag, digest=digest or None)


def _safe(text: str) -> str:
    return strip_userinfo(text)

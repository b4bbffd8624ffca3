"""A client for the Simple Repository API (PEP 503 HTML and PEP 691 JSON, with PEP 658/714 metadata).

PyPI, the PyTorch wheel indexes and the Artifactory/Nexus mirrors companies put in front of them all speak
this API, so one client covers them; ``--torch-cpu-index`` simply points it elsewhere.
"""

from __future__ import annotations

import atexit
import os
import re
import ssl
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from threading import Lock
from typing import Any
from urllib.parse import urldefrag, urljoin

import httpx
from packaging.utils import canonicalize_name
from packaging.version import Version

from deadweight.errors import SourceError
from deadweight.model.project import InstallCommand
from deadweight.pypi.store import JsonStore

JSON_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
)


#: Source archive suffixes pip accepts from an index (pip's SUPPORTED_EXTENSIONS, less ``.whl``).
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma",
                  ".tgz", ".tar")
#: Concurrent connections per client; a bounded pool, as pip has none and PyPI asks for restraint.
MAX_CONNECTIONS = 8


class OfflineMiss(SourceError):
    """The answer is not in the cache and the network may not be used."""


PYPI_SIMPLE = "https://pypi.org/simple/"


def pip_index_urls(options: Iterable[tuple[str, str]], installs: Iterable[InstallCommand] = ()) -> list[str]:
    """The indexes pip reads, in its order: the last ``--index-url`` given (requirements-file options, then the
    RUN lines' own), else ``PIP_INDEX_URL``, else PyPI; then every ``--extra-index-url`` and
    ``PIP_EXTRA_INDEX_URL``. ``options`` are ``(name, value)`` pairs as the requirements parser records them.
    The one reading for the static estimate, the musl check and ``fix``'s version and hash lookups."""
    primary: str | None = None
    extra: list[str] = []
    for name, value in options:
        if name in ("--index-url", "-i"):
            primary = value
        elif name == "--extra-index-url":
            extra.append(value)
    for cmd in installs:
        if cmd.index_urls:
            primary = cmd.index_urls[-1]
        extra += list(cmd.extra_index_urls)
    primary = primary or os.environ.get("PIP_INDEX_URL") or PYPI_SIMPLE
    extra += os.environ.get("PIP_EXTRA_INDEX_URL", "").split()
    return list(dict.fromkeys([primary, *extra]))


@lru_cache(maxsize=1 << 14)
def _version(text: str) -> Version | None:
    try:
        return Version(text)
    except ValueError:  # InvalidVersion, or a number too long for int() (4300 digits)
        return None


def file_version(filename: str) -> Version | None:
    """The version a wheel or sdist file name carries (``name-1.2.tar.gz``: 1.2); None for anything else.

    Only the version field is parsed (a page of 15k files has a few hundred distinct versions); whether a
    wheel's tags fit is ``tags.wheel_rank``'s business."""
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        return _version(parts[1]) if len(parts) in (5, 6) else None
    for suffix in SDIST_SUFFIXES:
        if filename.endswith(suffix):
            _, dash, text = filename[: -len(suffix)].rpartition("-")
            return _version(text) if dash else None
    return None


_SHARED: dict[float, httpx.Client] = {}
_SSL: list[ssl.SSLContext] = []
_SHARED_LOCK = Lock()


def shared_http_client(timeout: float) -> httpx.Client:
    """The process's HTTP client for index pages and wheels (one per timeout): a bounded pool of
    ``MAX_CONNECTIONS`` connections kept alive across services, and one TLS context for all (httpx's
    default: ``SSL_CERT_FILE``/``SSL_CERT_DIR``, else certifi), built once instead of once per client.
    httpx's client may be shared between threads. Closed at exit."""
    with _SHARED_LOCK:
        client = _SHARED.get(timeout)
        if client is None:
            if not _SSL:
                _SSL.append(httpx.create_ssl_context())
                atexit.register(_close_shared)
            limits = httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS)
            client = httpx.Client(timeout=timeout, follow_redirects=True, limits=limits, verify=_SSL[0])
            _SHARED[timeout] = client
        return client


def _close_shared() -> None:
    with _SHARED_LOCK:
        for client in _SHARED.values():
            client.close()
        _SHARED.clear()


@dataclass(frozen=True, slots=True)
class IndexFile:
    filename: str
    url: str
    sha256: str | None
    requires_python: str | None
    has_metadata: bool  # PEP 658: <url>.metadata can be fetched
    yanked: bool
    size: int | None  # PEP 700; None when the index does not say

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")

    @property
    def is_sdist(self) -> bool:
        return self.filename.endswith(SDIST_SUFFIXES)

    def version(self) -> Version | None:
        """The version of a wheel or source archive; None for other files (eggs, installers)."""
        return file_version(self.filename)

    def as_json(self) -> dict[str, Any]:
        return {slot: getattr(self, slot) for slot in IndexFile.__slots__}


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._current = dict(attrs)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.anchors.append((self._current, "".join(self._text).strip()))
            self._current = None


def _split_hash(url: str) -> tuple[str, str | None]:
    base, fragment = urldefrag(url)
    match = re.match(r"sha256=([0-9a-fA-F]{64})", fragment or "")
    return base, (match.group(1).lower() if match else None)


def parse_html(text: str, page_url: str) -> list[IndexFile]:
    parser = _AnchorParser()
    parser.feed(text)
    files: list[IndexFile] = []
    for attrs, label in parser.anchors:
        href = attrs.get("href")
        if not href:
            continue
        url, sha = _split_hash(urljoin(page_url, href))
        filename = label or url.rsplit("/", 1)[-1]
        meta = attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata")
        files.append(
            IndexFile(
                filename=filename,
                url=url,
                sha256=sha,
                requires_python=attrs.get("data-requires-python"),
                has_metadata=meta is not None and meta != "false",
                yanked="data-yanked" in attrs,
                size=None,
            )
        )
    return files


def parse_json(doc: dict[str, Any], page_url: str) -> list[IndexFile]:
    files: list[IndexFile] = []
    for item in doc.get("files", []):
        if not isinstance(item, dict) or "url" not in item or "filename" not in item:
            continue
        meta = item.get("core-metadata", item.get("dist-info-metadata", item.get("data-dist-info-metadata")))
        hashes = item.get("hashes") or {}
        size = item.get("size")
        files.append(
            IndexFile(
                filename=str(item["filename"]),
                url=urljoin(page_url, str(item["url"])),
                sha256=str(hashes["sha256"]).lower() if "sha256" in hashes else None,
                requires_python=item.get("requires-python"),
                has_metadata=bool(meta),
                yanked=bool(item.get("yanked")),
                size=size if isinstance(size, int) else None,
            )
        )
    return files


class IndexClient:
    """Reads project pages of one index, caching each answer; ``offline`` answers from the cache only.

    Safe to call from several threads at once (the resolver fetches pages concurrently): the HTTP client is
    the caller's or the process's shared one, and httpx's client may be shared between threads.
    """

    def __init__(
        self,
        base_url: str,
        store: JsonStore,
        *,
        offline: bool = False,
        timeout: float = 20.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.store = store
        self.offline = offline
        self.timeout = timeout
        self._client = client

    def _http(self) -> httpx.Client:
        return self._client if self._client is not None else shared_http_client(self.timeout)

    def close(self) -> None:
        """Nothing to release: a given client belongs to the caller, the shared one lives until exit."""

    def page_url(self, name: str) -> str:
        return f"{self.base_url}{canonicalize_name(name)}/"

    def page_token(self, name: str, *, create: bool = False) -> str | None:
        """A token that changes whenever the cached page of ``name`` is written again, for caches derived
        from the page (``closure``'s picks); None when there is none (``create``: make one, for a page
        cached before tokens existed)."""
        key = f"simple-token:{self.page_url(name)}"
        token = self.store.get(key)
        if isinstance(token, str):
            return token
        if not create:
            return None
        token = uuid.uuid4().hex
        self.store.put(key, token)
        return token

    def project_files(self, name: str) -> list[IndexFile]:
        url = self.page_url(name)
        key = f"simple:{url}"
        cached = self.store.load(key, _decode_files)
        if cached is not None:
            return list(cached)
        if self.offline:
            raise OfflineMiss(f"{url}: not in the cache and running offline")
        try:
            response = self._http().get(url, headers={"Accept": JSON_ACCEPT})
        except httpx.HTTPError as exc:
            raise SourceError(f"index {self.base_url}: {type(exc).__name__} fetching {name}") from None
        if response.status_code == 404:
            files: list[IndexFile] = []
        elif response.status_code != 200:
            raise SourceError(f"index {self.base_url}: HTTP {response.status_code} for {name}")
        elif "json" in response.headers.get("content-type", ""):
            try:
                files = parse_json(response.json(), str(response.url))
            except ValueError:
                raise SourceError(f"index {self.base_url}: invalid JSON for {name}") from None
        else:
            files = parse_html(response.text, str(response.url))
        saved = self.store.save(key, [f.as_json() for f in files], tuple(files))
        self.store.put(f"simple-token:{url}", uuid.uuid4().hex)
        return list(saved)


def _decode_files(raw: Any) -> tuple[IndexFile, ...]:
    return tuple(IndexFile(**item) for item in raw)

"""A client for the Simple Repository API (PEP 503 HTML and PEP 691 JSON, with PEP 658/714 metadata).

PyPI, the PyTorch wheel indexes and the Artifactory/Nexus mirrors companies put in front of them all speak
this API, so one client covers them; ``--torch-cpu-index`` simply points it elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin

import httpx
from packaging.utils import canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from deadweight.errors import SourceError
from deadweight.pypi.store import JsonStore

JSON_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
)


class OfflineMiss(SourceError):
    """The answer is not in the cache and the network may not be used."""


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

    def version(self) -> Version | None:
        if not self.is_wheel:
            return None
        try:
            return parse_wheel_filename(self.filename)[1]
        except (ValueError, InvalidVersion):
            return None


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
    """Reads project pages of one index, caching each answer; ``offline`` answers from the cache only."""

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
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=True)
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def project_files(self, name: str) -> list[IndexFile]:
        url = f"{self.base_url}{canonicalize_name(name)}/"
        key = f"simple:{url}"
        cached = self.store.get(key)
        if cached is not None:
            return [IndexFile(**item) for item in cached]
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
        self.store.put(key, [_as_dict(f) for f in files])
        return files


def _as_dict(item: IndexFile) -> dict[str, Any]:
    return {slot: getattr(item, slot) for slot in IndexFile.__slots__}

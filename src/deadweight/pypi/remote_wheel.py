"""What a wheel installs, read from its zip central directory over HTTP range requests.

A wheel's central directory lists every file with its uncompressed size, so the bytes a wheel adds to an
image are known exactly from a few kilobytes at the end of the file; METADATA and RECORD are read the same
way. A 2 GB CUDA torch wheel is sized without downloading it.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from deadweight.errors import SourceError
from deadweight.pypi.index import OfflineMiss, shared_http_client
from deadweight.pypi.store import JsonStore

#: Range requests smaller than this are rounded up: central directories are read in few round trips.
MIN_FETCH = 256 * 1024
#: File-name prefixes of the CUDA runtime libraries that GPU builds bundle.
CUDA_LIBRARY_PREFIXES = ("libcu", "libnv", "libnccl", "libcudnn", "libcusparse", "libcufft", "libcurand")
#: Servers that ignore Range get a full download only up to this size.
MAX_FULL_DOWNLOAD = 64 << 20


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over an HTTP URL, fetched lazily in ranges (what ``zipfile`` needs).

    The first request reads the last ``MIN_FETCH`` bytes; with the file's size known from the index (PEP
    700, which PyPI's JSON pages give) that is the only request needed to start, otherwise a HEAD asks for
    it first. When that tail holds the zip's end record, the whole central directory (and the files just
    before it, where wheels keep METADATA) is fetched with one more request, so most wheels are read in one
    or two round trips.
    """

    def __init__(self, client: httpx.Client, url: str, size: int | None = None) -> None:
        super().__init__()
        self._client = client
        self._url = url
        self._pos = 0
        self._chunks: dict[int, bytes] = {}  # start offset -> bytes
        self.requests = 0
        self.length = size if size is not None and size > 0 else self._head_length()
        self._fetch_tail()
        self._prefetch_central_directory()

    def _head_length(self) -> int:
        head = self._client.head(self._url)
        self.requests += 1
        if head.status_code == 200 and "content-length" in head.headers:
            return int(head.headers["content-length"])
        head = self._client.get(self._url, headers={"Range": "bytes=0-0"})
        self.requests += 1
        if head.status_code == 206 and "/" in head.headers.get("content-range", ""):
            return int(head.headers["content-range"].rsplit("/", 1)[1])
        raise SourceError(f"{self._url}: HTTP {head.status_code}, cannot size the file")

    def _fetch_tail(self) -> None:
        start = max(0, self.length - MIN_FETCH)
        with self._client.stream("GET", self._url, headers={"Range": f"bytes={start}-{self.length - 1}"}) as response:
            self.requests += 1
            if response.status_code == 206:
                total = response.headers.get("content-range", "").rsplit("/", 1)[-1]
                if total.isdigit():
                    self.length = int(total)  # the server's word over the index's, should they differ
                self._chunks[start] = response.read()
                return
            if response.status_code == 200:
                declared = response.headers.get("content-length", "")
                if (declared.isdigit() and int(declared) > MAX_FULL_DOWNLOAD) or self.length > MAX_FULL_DOWNLOAD:
                    raise SourceError(f"{self._url}: range request answered HTTP 200 for a file over "
                                      f"{MAX_FULL_DOWNLOAD} bytes")
                body = response.read()
                self._chunks = {0: body}
                self.length = len(body)
                return
            raise SourceError(f"{self._url}: range request answered HTTP {response.status_code}")

    def _prefetch_central_directory(self) -> None:
        """Fetch the central directory and the ``MIN_FETCH`` bytes before it up to the tail in one request,
        when the tail's end record says where the directory starts (zip64 too) and it is not held yet."""
        (tail_start, tail), = self._chunks.items()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return
        cd_offset = int.from_bytes(tail[at + 16 : at + 20], "little")
        if cd_offset == 0xFFFFFFFF:
            locator = at - 20
            if locator < 0 or tail[locator : locator + 4] != b"PK\x06\x07":
                return
            eocd64 = int.from_bytes(tail[locator + 8 : locator + 16], "little") - tail_start
            if eocd64 < 0 or tail[eocd64 : eocd64 + 4] != b"PK\x06\x06":
                return
            cd_offset = int.from_bytes(tail[eocd64 + 48 : eocd64 + 56], "little")
        if not 0 <= cd_offset < tail_start:
            return
        start = max(0, cd_offset - MIN_FETCH)  # the .dist-info files, METADATA among them, come last
        response = self._client.get(self._url, headers={"Range": f"bytes={start}-{tail_start - 1}"})
        self.requests += 1
        if response.status_code == 206 and len(response.content) == tail_start - start:
            self._chunks = {start: response.content + tail}

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _cached(self, start: int, end: int) -> bytes | None:
        for chunk_start, data in self._chunks.items():
            if chunk_start <= start and end <= chunk_start + len(data):
                return data[start - chunk_start : end - chunk_start]
        return None

    def _fetch(self, start: int, end: int) -> None:
        end = min(self.length, max(end, start + MIN_FETCH))
        response = self._client.get(self._url, headers={"Range": f"bytes={start}-{end - 1}"})
        self.requests += 1
        if response.status_code == 206:
            self._chunks[start] = response.content
        elif response.status_code == 200 and self.length <= MAX_FULL_DOWNLOAD:
            self._chunks = {0: response.content}
        else:
            raise SourceError(f"{self._url}: range request answered HTTP {response.status_code}")

    def read(self, size: int = -1) -> bytes:
        end = self.length if size < 0 else min(self.length, self._pos + size)
        if end <= self._pos:
            return b""
        data = self._cached(self._pos, end)
        if data is None:
            self._fetch(self._pos, end)
            data = self._cached(self._pos, end)
            if data is None:
                raise SourceError(f"{self._url}: server returned a short range")
        self._pos = end
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@dataclass(frozen=True)
class WheelFacts:
    """What installing a wheel puts on disk, before byte-compilation."""

    url: str
    installed_bytes: int  # sum of uncompressed sizes of every member
    file_count: int
    metadata: str | None  # the METADATA file
    top_level: tuple[str, ...]  # top-level importable names from the member list
    gpu_bytes: int  # bytes of CUDA libraries bundled inside (libcu*, libcudnn*, libnccl*, *_cuda*.so)
    # compressed bytes of every member: about the wheel file's size, what pip downloads and keeps in its cache
    # (0 in facts cached before it was recorded)
    archive_bytes: int = 0


def top_level_names(names: Iterable[str]) -> tuple[str, ...]:
    """Top-level importable names a wheel installs, from its member names: packages (first directory) and
    single-file modules or extensions. Metadata directories and dunder entries (``__pycache__``,
    ``__editable__``) are not importable names."""
    tops: set[str] = set()
    for name in names:
        first = name.split("/", 1)[0]
        if first.endswith((".dist-info", ".data", ".egg-info")) or first.startswith("__"):
            continue
        if "/" in name:
            tops.add(first)
        elif name.endswith(".py"):
            tops.add(first[:-3])
        elif name.endswith((".so", ".pyd")):
            tops.add(first.split(".", 1)[0])
    return tuple(sorted(t for t in tops if t.isidentifier()))


def _is_cuda_library(path: str) -> bool:
    base = path.rsplit("/", 1)[-1]
    if ".so" not in base:
        return False
    return base.startswith(CUDA_LIBRARY_PREFIXES) or "_cuda" in base


def read_wheel(client: httpx.Client, url: str, size: int | None = None) -> WheelFacts:
    """What the wheel at ``url`` installs; ``size`` (its length in bytes, if the index said) saves a HEAD."""
    raw = RangeFile(client, url, size)
    try:
        with zipfile.ZipFile(io.BufferedReader(raw, buffer_size=64 * 1024)) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            metadata = None
            for info in infos:
                parts = info.filename.split("/")
                if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                    metadata = zf.read(info).decode("utf-8", "replace")
                    break
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{url}: not a valid wheel ({exc})") from None
    names = [i.filename for i in infos]
    return WheelFacts(
        url=url,
        installed_bytes=sum(i.file_size for i in infos),
        file_count=len(infos),
        metadata=metadata,
        top_level=top_level_names(names),
        gpu_bytes=sum(i.file_size for i in infos if _is_cuda_library(i.filename)),
        archive_bytes=sum(i.compress_size for i in infos),
    )


class WheelInspector:
    """Cached ``read_wheel``: each URL is read once per cache directory, ever. Safe to share between the
    resolver's threads (the caller's HTTP client or the process's shared one)."""

    def __init__(
        self, store: JsonStore, *, offline: bool = False, timeout: float = 30.0, client: httpx.Client | None = None
    ) -> None:
        self.store = store
        self.offline = offline
        self.timeout = timeout
        self._client: httpx.Client | None = client

    def _http(self) -> httpx.Client:
        return self._client if self._client is not None else shared_http_client(self.timeout)

    def facts(self, url: str, size: int | None = None) -> WheelFacts:
        """The facts of the wheel at ``url`` (``size``: its length, when the index gave it)."""
        key = f"wheel:{url}"
        cached = self.store.load(key, _decode_facts)
        if cached is not None:
            return cached
        if self.offline:
            raise OfflineMiss(f"{url}: not in the cache and running offline")
        try:
            facts = read_wheel(self._http(), url, size)
        except httpx.HTTPError as exc:
            raise SourceError(f"{url}: {type(exc).__name__}") from None
        return self.store.save(key, asdict(facts), facts)

    def close(self) -> None:
        """Nothing to release: a given client belongs to the caller, the shared one lives until exit."""


def _decode_facts(raw: Any) -> WheelFacts:
    if not isinstance(raw, dict):
        raise TypeError("not a wheel record")
    return WheelFacts(**{**raw, "top_level": tuple(raw.get("top_level", ()))})

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

import httpx

from deadweight.errors import SourceError
from deadweight.pypi.index import OfflineMiss
from deadweight.pypi.store import JsonStore

#: Range requests smaller than this are rounded up: central directories are read in few round trips.
MIN_FETCH = 256 * 1024
#: File-name prefixes of the CUDA runtime libraries that GPU builds bundle.
CUDA_LIBRARY_PREFIXES = ("libcu", "libnv", "libnccl", "libcudnn", "libcusparse", "libcufft", "libcurand")
#: Servers that ignore Range get a full download only up to this size.
MAX_FULL_DOWNLOAD = 64 << 20


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over an HTTP URL, fetched lazily in ranges (what ``zipfile`` needs)."""

    def __init__(self, client: httpx.Client, url: str) -> None:
        super().__init__()
        self._client = client
        self._url = url
        self._pos = 0
        self._chunks: dict[int, bytes] = {}  # start offset -> bytes
        head = client.head(url)
        if head.status_code != 200 or "content-length" not in head.headers:
            head = client.get(url, headers={"Range": "bytes=0-0"})
            if head.status_code == 206 and "/" in head.headers.get("content-range", ""):
                self.length = int(head.headers["content-range"].rsplit("/", 1)[1])
            else:
                raise SourceError(f"{url}: HTTP {head.status_code}, cannot size the file")
        else:
            self.length = int(head.headers["content-length"])
        self.ranges_ok = head.headers.get("accept-ranges", "bytes") != "none"
        self.requests = 0

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
        start = max(0, min(start, end - MIN_FETCH))
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


def read_wheel(client: httpx.Client, url: str) -> WheelFacts:
    raw = RangeFile(client, url)
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
    )


class WheelInspector:
    """Cached ``read_wheel``: each URL is read once per cache directory, ever."""

    def __init__(
        self, store: JsonStore, *, offline: bool = False, timeout: float = 30.0, client: httpx.Client | None = None
    ) -> None:
        self.store = store
        self.offline = offline
        self.timeout = timeout
        self._client: httpx.Client | None = client

    def facts(self, url: str) -> WheelFacts:
        key = f"wheel:{url}"
        cached = self.store.get(key)
        if isinstance(cached, dict):
            cached["top_level"] = tuple(cached.get("top_level", ()))
            try:
                return WheelFacts(**cached)
            except TypeError:
                pass
        if self.offline:
            raise OfflineMiss(f"{url}: not in the cache and running offline")
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout, follow_redirects=True)
        try:
            facts = read_wheel(self._client, url)
        except httpx.HTTPError as exc:
            raise SourceError(f"{url}: {type(exc).__name__}") from None
        self.store.put(key, asdict(facts))
        return facts

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

"""The dependencies of a package that has only a source distribution, read from the sdist's metadata.

Why: a static audit does not build packages, so an sdist-only package cannot be sized, but what it requires
must still count as used when it is used: its dependencies are never to be called unused because its
metadata was missing. The sdist's ``PKG-INFO`` says what it requires only from Metadata 2.2 on, and only
when ``Requires-Dist`` is not listed as ``Dynamic`` (PEP 643); else the sdist's ``pyproject.toml``
``[project] dependencies``, when not dynamic either; else the requirements are *unknown*, and the audit
marks what the package might need as unknown, never unused.

Reading is bounded: the index's PEP 658 metadata file when it serves one (PEP 714 allows it for sdists);
a zip sdist by range requests on its central directory; a tarball streamed and decompressed only until
the members are found, never past ``MAX_SDIST_BYTES``. Facts are cached in the index's JSON store.
"""

from __future__ import annotations

import io
import tarfile
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from email.parser import Parser
from typing import Any

import httpx
from packaging.version import InvalidVersion, Version

from deadweight.errors import SourceError
from deadweight.pypi.index import IndexFile, OfflineMiss, shared_http_client
from deadweight.pypi.remote_wheel import RangeFile
from deadweight.pypi.store import JsonStore

#: At most this many (compressed) bytes of a tarball are read looking for PKG-INFO and pyproject.toml.
MAX_SDIST_BYTES = 16 << 20
#: Members larger than this are no metadata file: skipped unread.
MAX_MEMBER_BYTES = 1 << 20
_TARBALLS = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")


@dataclass(frozen=True)
class SdistFacts:
    """What an sdist says it requires: ``requires`` (Requires-Dist strings), or None when unknown (``why``)."""

    url: str
    requires: tuple[str, ...] | None
    source: str  # "PKG-INFO", "pyproject.toml", or "" when unknown
    why: str = ""  # why the requirements are unknown


def requires_from_pkg_info(text: str) -> tuple[tuple[str, ...] | None, str]:
    """(Requires-Dist entries, "") when PKG-INFO states them (Metadata 2.2+, not Dynamic), else (None, why)."""
    message = Parser().parsestr(text, headersonly=True)
    raw_version = (message.get("Metadata-Version") or "").strip()
    try:
        version = Version(raw_version)
    except InvalidVersion:
        return None, f"PKG-INFO has no valid Metadata-Version ({raw_version!r})"
    if version < Version("2.2"):
        return None, f"PKG-INFO is Metadata {raw_version}: before 2.2 its Requires-Dist need not be complete"
    dynamic = {d.strip().lower() for d in message.get_all("Dynamic") or []}
    if "requires-dist" in dynamic:
        return None, "PKG-INFO marks Requires-Dist as Dynamic: decided when the package is built"
    return tuple(r.strip() for r in message.get_all("Requires-Dist") or [] if r.strip()), ""


def requires_from_pyproject(text: str) -> tuple[tuple[str, ...] | None, str]:
    """[project] dependencies and optional-dependencies (as ``extra ==`` markers) unless dynamic."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None, "its pyproject.toml does not parse"
    project = doc.get("project")
    if not isinstance(project, dict):
        return None, "its pyproject.toml has no [project] table"
    dynamic = project.get("dynamic") or []
    if "dependencies" in dynamic or not isinstance(project.get("dependencies", []), list):
        return None, "its pyproject.toml lists dependencies as dynamic"
    out = [str(d) for d in project.get("dependencies", [])]
    optional = project.get("optional-dependencies", {})
    if isinstance(optional, dict) and "optional-dependencies" not in dynamic:
        for extra, deps in sorted(optional.items()):
            for dep in deps if isinstance(deps, list) else ():
                joiner = " and " if ";" in str(dep) else "; "
                out.append(f"{dep}{joiner}extra == {extra!r}".replace("'", '"'))
    return tuple(out), ""


def _top_level_member(name: str, leaf: str) -> bool:
    parts = name.strip("/").split("/")
    return len(parts) == 2 and parts[1] == leaf


def _judge(pkg_info: str | None, pyproject: str | None, url: str) -> SdistFacts:
    why = "the sdist has no PKG-INFO"
    if pkg_info is not None:
        requires, why = requires_from_pkg_info(pkg_info)
        if requires is not None:
            return SdistFacts(url, requires, "PKG-INFO")
    if pyproject is not None:
        requires, pyproject_why = requires_from_pyproject(pyproject)
        if requires is not None:
            return SdistFacts(url, requires, "pyproject.toml")
        why = f"{why}; {pyproject_why}"
    return SdistFacts(url, None, "", why)


class _Capped(io.RawIOBase):
    """A response body as a file that refuses to go past ``limit`` bytes (the bounded download)."""

    def __init__(self, chunks: Iterator[bytes], limit: int) -> None:
        self._chunks = chunks
        self._buffer = b""
        self._read = 0
        self._limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, out: Any) -> int:
        while not self._buffer:
            chunk = next(self._chunks, b"")
            if not chunk:
                return 0
            self._read += len(chunk)
            if self._read > self._limit:
                raise SourceError(f"sdist larger than {self._limit >> 20} MiB before its metadata was found")
            self._buffer = chunk
        n = min(len(out), len(self._buffer))
        out[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def _read_tarball(client: httpx.Client, url: str) -> tuple[str | None, str | None]:
    pkg_info = pyproject = None
    with client.stream("GET", url) as response:
        response.raise_for_status()
        raw = io.BufferedReader(_Capped(response.iter_bytes(64 * 1024), MAX_SDIST_BYTES), 64 * 1024)
        try:
            with tarfile.open(fileobj=raw, mode="r|*") as tar:
                for member in tar:
                    if not member.isfile() or member.size > MAX_MEMBER_BYTES:
                        continue
                    if _top_level_member(member.name, "PKG-INFO") and pkg_info is None:
                        pkg_info = _text(tar.extractfile(member))
                    elif _top_level_member(member.name, "pyproject.toml") and pyproject is None:
                        pyproject = _text(tar.extractfile(member))
                    if pkg_info is not None and pyproject is not None:
                        break
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise SourceError(f"{url}: not a readable sdist ({exc})") from None
    return pkg_info, pyproject


def _read_zip(client: httpx.Client, url: str, size: int | None) -> tuple[str | None, str | None]:
    pkg_info = pyproject = None
    try:
        with zipfile.ZipFile(io.BufferedReader(RangeFile(client, url, size), buffer_size=64 * 1024)) as zf:
            for info in zf.infolist():
                if info.file_size > MAX_MEMBER_BYTES:
                    continue
                if _top_level_member(info.filename, "PKG-INFO") and pkg_info is None:
                    pkg_info = zf.read(info).decode("utf-8", "replace")
                elif _top_level_member(info.filename, "pyproject.toml") and pyproject is None:
                    pyproject = zf.read(info).decode("utf-8", "replace")
    except zipfile.BadZipFile as exc:
        raise SourceError(f"{url}: not a valid zip sdist ({exc})") from None
    return pkg_info, pyproject


def _text(fh: io.BufferedReader | Any | None) -> str | None:
    return None if fh is None else fh.read(MAX_MEMBER_BYTES).decode("utf-8", "replace")


def read_sdist(client: httpx.Client, file: IndexFile) -> SdistFacts:
    """What the sdist ``file`` says it requires (the bounded reading the module describes)."""
    if file.has_metadata:
        response = client.get(file.url + ".metadata")
        if response.status_code == 200:
            requires, _why = requires_from_pkg_info(response.text)
            if requires is not None:
                return SdistFacts(file.url, requires, "PKG-INFO")
    name = file.filename.lower()
    if name.endswith(".zip"):
        pkg_info, pyproject = _read_zip(client, file.url, file.size)
    elif name.endswith(_TARBALLS):
        pkg_info, pyproject = _read_tarball(client, file.url)
    else:
        return SdistFacts(file.url, None, "", f"{file.filename}: not an sdist format deadweight reads")
    return _judge(pkg_info, pyproject, file.url)


class SdistInspector:
    """Cached ``read_sdist``: each URL is read once per cache directory."""

    def __init__(
        self, store: JsonStore, *, offline: bool = False, timeout: float = 30.0, client: httpx.Client | None = None
    ) -> None:
        self.store = store
        self.offline = offline
        self.timeout = timeout
        self._client = client

    def facts(self, file: IndexFile) -> SdistFacts:
        key = f"sdist:{file.url}"
        cached = self.store.load(key, _decode)
        if cached is not None:
            return cached
        if self.offline:
            raise OfflineMiss(f"{file.url}: not in the cache and running offline")
        client = self._client if self._client is not None else shared_http_client(self.timeout)
        try:
            facts = read_sdist(client, file)
        except httpx.HTTPError as exc:
            raise SourceError(f"{file.url}: {type(exc).__name__}") from None
        return self.store.save(key, asdict(facts), facts)


def _decode(raw: Any) -> SdistFacts:
    if not isinstance(raw, dict):
        raise TypeError("not an sdist record")
    requires = raw.get("requires")
    return SdistFacts(
        str(raw["url"]),
        None if requires is None else tuple(str(r) for r in requires),
        str(raw.get("source", "")),
        str(raw.get("why", "")),
    )

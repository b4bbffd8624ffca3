"""Read an image straight from a registry (HTTP API v2), streaming each layer once.

Three parts, each small: :func:`parse_image_ref` (docker's reference grammar and Docker Hub naming),
:class:`RegistryClient` (HTTP with retries, backoff, auth challenges and one-line errors) and
:class:`RegistrySource` (manifest -> platform -> config -> layers, every digest verified: bytes from
the network are never trusted, so ``verify`` is always on here).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from deadweight.errors import DigestMismatchError, RegistryError, SourceError, UsageError
from deadweight.model.image import ImageConfig, LayerDescriptor, Platform
from deadweight.sources.auth import Authenticator, Credentials, lookup_credentials, strip_userinfo
from deadweight.sources.base import ImageSource, OpenedLayer, SourceOptions
from deadweight.sources.manifest import (
    DOCKER_SCHEMA1,
    is_index,
    layer_compression,
    parse_config,
    parse_index,
    parse_manifest,
    select_platform,
)
from deadweight.sources.streams import ChunkStream, ReadStream, StreamedLayer

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
DOCKER_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})

MANIFEST_ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)
CHUNK = 1 << 20

# --------------------------------------------------------------------------- references

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


# --------------------------------------------------------------------------- retries


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try: ``attempts`` in total, exponential backoff with full jitter, capped.

    ``Retry-After`` (seconds or an HTTP date) is honoured up to ``max_retry_after``.
    """

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before attempt number ``attempt + 1`` (``attempt`` counts from 0)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.max_retry_after))
        ceiling: float = min(self.max_delay, self.base_delay * (2.0**attempt))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # jitter, not crypto


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; ``None`` if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


# --------------------------------------------------------------------------- HTTP client


class RegistryClient:
    """The registry's HTTP API for one repository: auth, retries and error messages in one place."""

    def __init__(
        self,
        ref: RegistryRef,
        options: SourceOptions,
        *,
        label: str | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        credentials: Callable[[], Credentials | None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.ref = ref
        self.label = label or str(ref)
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._timeout = options.timeout
        local = ref.is_local
        if local:
            self._schemes = ["http"]
        elif options.insecure:
            self._schemes = ["https", "http"]  # docker's rule: try TLS (unverified), then plain HTTP
        else:
            self._schemes = ["https"]
        self._http = httpx.Client(
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=True,
            verify=not options.insecure,
            transport=transport,
            headers={"User-Agent": "deadweight"},
        )
        self._scope = f"repository:{ref.repository}:pull"
        creds_host = ref.host
        self.auth = Authenticator(
            creds_host,
            self._send_unauthenticated,
            credentials=credentials or (lambda: lookup_credentials(creds_host)),
        )

    def close(self) -> None:
        self._http.close()

    def url(self, path: str) -> str:
        host = self.ref.api_host
        return f"{self._schemes[0]}://{host}/v2/{self.ref.repository}/{path}"

    # -- public calls -----------------------------------------------------------------------

    def get_manifest(self, reference: str) -> tuple[bytes, str]:
        """Body and media type of the manifest (or index) at ``reference`` (a tag or digest)."""
        response = self.request(
            "GET", f"manifests/{reference}", headers={"Accept": MANIFEST_ACCEPT}, what=f"manifest {reference}"
        )
        body = response.content
        media_type = response.headers.get("Content-Type", "").split(";", 1)[0].strip()
        return body, media_type

    def get_blob(self, digest: str, what: str) -> bytes:
        """A small blob (a config), read whole and verified against ``digest``."""
        response = self.request("GET", f"blobs/{digest}", what=f"{what} {digest}")
        body = response.content
        verify_digest(body, digest, f"registry {self.label}: {what}")
        return body

    def open_blob(self, digest: str, what: str) -> BlobReader:
        """A forward-only reader over a (large) blob; resumes with ``Range`` after a dropped link."""
        return BlobReader(self, digest, what)

    # -- machinery --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        what: str,
        ok: frozenset[int] = frozenset({200}),
    ) -> httpx.Response:
        """Send with auth; answer one challenge; raise a one-line ``RegistryError`` on failure."""
        answered = False
        while True:
            sent = dict(headers or {})
            authorization = self.auth.header(self._scope)
            if authorization:
                sent["Authorization"] = authorization
            response = self._send(method, path, sent, stream=stream, what=what)
            if response.status_code == 401 and not answered:
                challenge = response.headers.get("WWW-Authenticate", "")
                response.close()
                answered = True
                if self.auth.answer(challenge, self._scope):
                    continue
            if response.status_code not in ok:
                try:
                    raise self.status_error(response, what)
                finally:
                    response.close()
            return response

    def status_error(self, response: httpx.Response, what: str) -> RegistryError:
        status = response.status_code
        detail = ""
        try:
            body = response.read()[:65536]
            parsed = json.loads(body) if body else None
        except (httpx.HTTPError, json.JSONDecodeError, UnicodeDecodeError):
            parsed = None
        if isinstance(parsed, dict) and isinstance(parsed.get("errors"), list) and parsed["errors"]:
            first = parsed["errors"][0]
            if isinstance(first, dict):
                message = first.get("message") or str(first.get("code", "")).replace("_", " ").lower()
                detail = str(message)
        if not detail:
            detail = response.reason_phrase.lower() if response.reason_phrase else ""
        detail = " ".join(self.auth.scrub(detail).split())[:200]
        prefix = f"registry {self.label}"
        if status == 401:
            hint = "" if self.auth.has_credentials else f"; no docker config credentials for {self.ref.host}"
            return RegistryError(f"{prefix}: unauthorized (HTTP 401) reading {what}: {detail}{hint}")
        if status == 403:
            return RegistryError(f"{prefix}: denied (HTTP 403) reading {what}: {detail}")
        return RegistryError(f"{prefix}: HTTP {status} {detail} ({what})")

    def _send_unauthenticated(self, request: httpx.Request) -> httpx.Response:
        """For the token endpoint: retries, a read body, no registry auth."""
        return self._send_request(request, stream=False, what="token")

    def _send(
        self, method: str, path: str, headers: dict[str, str], *, stream: bool, what: str
    ) -> httpx.Response:
        while True:
            request = self._http.build_request(method, self.url(path), headers=headers)
            try:
                response = self._send_request(request, stream=stream, what=what)
            except _SchemeFallback:
                continue
            if len(self._schemes) > 1:
                del self._schemes[1:]  # this scheme answered: keep it
            return response

    def _send_request(self, request: httpx.Request, *, stream: bool, what: str) -> httpx.Response:
        """One logical request: retry transport errors, 429 and 5xx with backoff."""
        where = f"registry {self.label}"
        attempts = max(1, self.retry.attempts)
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            try:
                response = self._http.send(request, stream=True)
            except httpx.TimeoutException:
                if last:
                    raise RegistryError(
                        f"{where}: timed out after {self._timeout:g}s ({what}, {attempts} attempts)"
                    ) from None
                self._sleep(self.retry.delay(attempt))
                continue
            except httpx.TransportError as exc:
                reason = _transport_reason(exc)
                if _is_tls_error(reason) and len(self._schemes) > 1 and self._schemes[0] == "https":
                    self._schemes.pop(0)
                    raise _SchemeFallback from None
                if _is_tls_error(reason) or last:
                    raise RegistryError(
                        f"{where}: cannot reach {request.url.host}: {reason} ({what}, {attempt + 1} attempts)"
                    ) from None
                self._sleep(self.retry.delay(attempt))
                continue
            if response.status_code in RETRY_STATUSES and not last:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                response.close()
                self._sleep(self.retry.delay(attempt, retry_after))
                continue
            if not stream:
                try:
                    response.read()
                except httpx.TimeoutException:
                    response.close()
                    if last:
                        raise RegistryError(f"{where}: timed out after {self._timeout:g}s ({what})") from None
                    self._sleep(self.retry.delay(attempt))
                    continue
                except httpx.TransportError as exc:
                    response.close()
                    if last:
                        raise RegistryError(f"{where}: {_transport_reason(exc)} ({what})") from None
                    self._sleep(self.retry.delay(attempt))
                    continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover


class _SchemeFallback(Exception):
    """HTTPS failed at the TLS layer on an insecure registry: retry the request over HTTP."""


def _transport_reason(exc: httpx.TransportError) -> str:
    cause: BaseException | None = exc
    text = ""
    while cause is not None:
        text = str(cause) or text
        cause = cause.__cause__ or cause.__context__
        if cause is exc:
            break
    text = " ".join(text.split())
    return text[:160] or type(exc).__name__


def _is_tls_error(reason: str) -> bool:
    lowered = reason.lower()
    return "ssl" in lowered or "certificate" in lowered or "tls" in lowered


def verify_digest(body: bytes, digest: str, where: str) -> None:
    """Raise ``DigestMismatchError`` unless ``body`` hashes to ``digest`` (sha256/sha384/sha512)."""
    algorithm, _, expected = digest.partition(":")
    if algorithm not in ("sha256", "sha384", "sha512"):
        raise SourceError(f"{where}: unsupported digest algorithm {algorithm!r}")
    actual = hashlib.new(algorithm, body).hexdigest()
    if actual != expected.lower():
        raise DigestMismatchError(f"{where}: digest mismatch: expected {digest}, got {algorithm}:{actual}")


class BlobReader(ChunkStream):
    """Forward-only ``read(n)`` over a blob response, resuming with ``Range`` after a dropped link.

    Multi-GB layers over flaky links are the norm; restarting from zero after a reset at 90 % is
    what makes pulls miserable. Resumption is bounded by the client's retry policy.
    """

    def __init__(self, client: RegistryClient, digest: str, what: str) -> None:
        super().__init__()
        self._client = client
        self._digest = digest
        self._what = f"{what} {digest}"
        self._offset = 0
        self._resumes = 0
        self._response = client.request("GET", f"blobs/{digest}", stream=True, what=self._what)
        self._chunks: Iterator[bytes] = self._response.iter_raw()

    def _next_chunk(self) -> bytes:
        while True:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                return b""
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                self._resume(exc)
                continue
            if chunk:  # an empty chunk is not the end of the body
                self._offset += len(chunk)
                return chunk

    def _resume(self, exc: httpx.TransportError) -> None:
        self._response.close()
        where = f"registry {self._client.label}"
        if self._resumes + 1 >= max(1, self._client.retry.attempts):
            if isinstance(exc, httpx.TimeoutException):
                raise RegistryError(
                    f"{where}: timed out after {self._client._timeout:g}s reading {self._what}"
                ) from None
            reason = _transport_reason(exc)
            raise RegistryError(f"{where}: connection lost reading {self._what}: {reason}") from None
        self._client._sleep(self._client.retry.delay(self._resumes))
        self._resumes += 1
        headers = {"Range": f"bytes={self._offset}-"} if self._offset else {}
        response = self._client.request(
            "GET",
            f"blobs/{self._digest}",
            headers=headers,
            stream=True,
            what=self._what,
            ok=frozenset({200, 206}),
        )
        chunks = response.iter_raw()
        if response.status_code == 200 and self._offset:
            # The server ignored Range: discard what we already have.
            to_skip = self._offset
            pending = b""
            for chunk in chunks:
                if len(chunk) <= to_skip:
                    to_skip -= len(chunk)
                    continue
                pending = chunk[to_skip:]
                to_skip = 0
                break
            if to_skip:
                response.close()
                raise RegistryError(f"{where}: {self._what} is shorter on retry than before")
            self._buffer += pending
            self._offset += len(pending)
        elif response.status_code == 206 and not _range_starts_at(response, self._offset):
            response.close()
            raise RegistryError(f"{where}: bad Content-Range resuming {self._what}")
        self._response = response
        self._chunks = chunks

    def close(self) -> None:
        self._response.close()


def _range_starts_at(response: httpx.Response, offset: int) -> bool:
    match = re.match(r"bytes\s+(\d+)-", response.headers.get("Content-Range", ""))
    return match is not None and int(match.group(1)) == offset


# --------------------------------------------------------------------------- the source


class RegistrySource(ImageSource):
    """``registry:HOST[:PORT]/REPO[:TAG|@DIGEST]``: manifest, config and layers over HTTP.

    Every byte is verified: the manifest against a pinned digest (the ref's or the index's), the
    config against the manifest, each layer blob against its digest and its uncompressed tar against
    the config's diff id. Network reads happen lazily, on the first ``config()``/``layers()``.
    """

    def __init__(
        self,
        ref: str,
        options: SourceOptions | None = None,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        credentials: Callable[[], Credentials | None] | None = None,
    ) -> None:
        name = ref.removeprefix("registry:")
        self._options = options or SourceOptions()
        self.image = parse_image_ref(name)
        self.label = strip_userinfo(name).strip()
        self.ref = f"registry:{self.label}"
        self._where = f"registry {self.label}"
        self._wanted = Platform.parse(self._options.platform) if self._options.platform else None
        self._client = RegistryClient(
            self.image, self._options, label=self.label, retry=retry, sleep=sleep, credentials=credentials
        )
        self._config: ImageConfig | None = None
        self._layers: tuple[LayerDescriptor, ...] = ()
        #: Digest of the image manifest actually read (the platform's, when the ref names an index).
        self.manifest_digest: str | None = None

    # -- ImageSource ------------------------------------------------------------------------

    def config(self) -> ImageConfig:
        return self._load()

    def layers(self) -> Sequence[LayerDescriptor]:
        self._load()
        return self._layers

    def iter_layers(self, *, verify: bool = False) -> Iterator[OpenedLayer]:
        del verify  # network bytes are always verified
        for descriptor in self.layers():
            if descriptor.digest is None:  # pragma: no cover - parse_manifest requires digests
                raise SourceError(f"{self._where}: layer {descriptor.index} has no digest")
            reader = self._client.open_blob(descriptor.digest, f"layer {descriptor.index}")
            try:
                layer = StreamedLayer(
                    descriptor,
                    ReadStream(reader, self._where),
                    self._where,
                    verify=True,
                    compression=layer_compression(descriptor.media_type),
                )
            except BaseException:
                reader.close()
                raise
            try:
                yield layer
            finally:
                layer.close()

    def close(self) -> None:
        self._client.close()

    # -- loading ----------------------------------------------------------------------------

    def _load(self) -> ImageConfig:
        if self._config is not None:
            return self._config
        body, media_type = self._client.get_manifest(self.image.reference)
        digest = self.image.digest
        if digest:
            verify_digest(body, digest, f"{self._where}: manifest")
        from_index = False
        if media_type in DOCKER_SCHEMA1:
            raise SourceError(f"{self._where}: Docker schema 1 manifests are not supported (re-push it)")
        if is_index(media_type, body):
            entries = parse_index(body, self._where)
            entry = select_platform(entries, self._wanted, self._where)
            body, media_type = self._client.get_manifest(entry.digest)
            verify_digest(body, entry.digest, f"{self._where}: manifest for {entry.platform or 'the image'}")
            digest, from_index = entry.digest, True
        manifest = parse_manifest(body, self._where)
        self.manifest_digest = digest or "sha256:" + hashlib.sha256(body).hexdigest()
        config_body = self._client.get_blob(manifest.config_digest, "config")
        config = parse_config(config_body, manifest.config_digest, self._where)
        if len(config.diff_ids) != len(manifest.layers):
            raise SourceError(
                f"{self._where}: manifest lists {len(manifest.layers)} layers but the config has "
                f"{len(config.diff_ids)} diff ids"
            )
        if self._wanted is not None and not from_index and not config.platform.matches(self._wanted):
            raise SourceError(f"{self._where}: the image is {config.platform}, not {self._wanted}")
        self._layers = tuple(
            LayerDescriptor(
                index=layer.index,
                digest=layer.digest,
                diff_id=config.diff_ids[layer.index],
                media_type=layer.media_type,
                compressed_size=layer.compressed_size,
            )
            for layer in manifest.layers
        )
        self._config = config
        return config

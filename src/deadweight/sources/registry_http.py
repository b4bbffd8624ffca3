"""The registry's HTTP API for one repository: retries with backoff, auth challenges, one-line errors.

:class:`RegistryClient` sends every request through one place: TLS then plain HTTP for insecure
registries, ``Retry-After`` and jittered backoff (:class:`RetryPolicy`) for 429/5xx and dropped links,
one answered auth challenge, and a scrubbed ``RegistryError`` naming what was being read.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpx

from deadweight.errors import DigestMismatchError, RegistryError, SourceError
from deadweight.sources.auth import Authenticator, Credentials, lookup_credentials
from deadweight.sources.base import SourceOptions
from deadweight.sources.registry_ref import RegistryRef

MANIFEST_ACCEPT = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


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

#: The largest answer read into memory (a manifest, an index, a config, a token): registries cap manifests at
#: 4 MiB; an endless body would otherwise fill memory.
MAX_BODY_BYTES = 16 << 20


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
        self.sleep = sleep
        self.timeout = options.timeout
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
                        f"{where}: timed out after {self.timeout:g}s ({what}, {attempts} attempts)"
                    ) from None
                self.sleep(self.retry.delay(attempt))
                continue
            except httpx.TooManyRedirects:
                raise RegistryError(f"{where}: redirected in a loop ({what})") from None
            except httpx.TransportError as exc:
                reason = transport_reason(exc)
                if _is_tls_error(reason) and len(self._schemes) > 1 and self._schemes[0] == "https":
                    self._schemes.pop(0)
                    raise _SchemeFallback from None
                if _is_tls_error(reason) or last:
                    raise RegistryError(
                        f"{where}: cannot reach {request.url.host}: {reason} ({what}, {attempt + 1} attempts)"
                    ) from None
                self.sleep(self.retry.delay(attempt))
                continue
            if response.status_code in RETRY_STATUSES and not last:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                response.close()
                self.sleep(self.retry.delay(attempt, retry_after))
                continue
            if not stream:
                try:
                    response = _read_bounded(response, request, f"{where}: {what}")
                except httpx.TimeoutException:
                    response.close()
                    if last:
                        raise RegistryError(f"{where}: timed out after {self.timeout:g}s ({what})") from None
                    self.sleep(self.retry.delay(attempt))
                    continue
                except httpx.TransportError as exc:
                    response.close()
                    if last:
                        raise RegistryError(f"{where}: {transport_reason(exc)} ({what})") from None
                    self.sleep(self.retry.delay(attempt))
                    continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover


def _read_bounded(response: httpx.Response, request: httpx.Request, where: str) -> httpx.Response:
    """The response with its body read, at most ``MAX_BODY_BYTES`` once decoded (else ``RegistryError``, the
    link closed): an endless manifest, or a gzip bomb, stops there instead of filling memory."""
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise RegistryError(f"{where}: the answer is larger than {MAX_BODY_BYTES >> 20} MiB")
            chunks.append(chunk)
    finally:
        response.close()
    # the body is decoded now: a new response without the encoding headers, so nothing decodes it twice
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    return httpx.Response(response.status_code, headers=headers, content=b"".join(chunks), request=request)


class _SchemeFallback(Exception):
    """HTTPS failed at the TLS layer on an insecure registry: retry the request over HTTP."""


def transport_reason(exc: httpx.TransportError) -> str:
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

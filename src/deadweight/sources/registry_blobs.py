"""Resumable blob reads: the registry source's layers as forward-only streams that survive a dropped link."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx

from deadweight.errors import RegistryError
from deadweight.sources.registry_http import RegistryClient, transport_reason
from deadweight.sources.streams import ChunkStream


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
                    f"{where}: timed out after {self._client.timeout:g}s reading {self._what}"
                ) from None
            reason = transport_reason(exc)
            raise RegistryError(f"{where}: connection lost reading {self._what}: {reason}") from None
        self._client.sleep(self._client.retry.delay(self._resumes))
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

"""The interface every image source implements.

A source delivers the config, the layer descriptors, and each layer once as a stream of uncompressed
tar bytes. Sources know nothing of analysis; the analysis knows nothing of where the bytes came from.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from deadweight.model.image import ImageConfig, LayerDescriptor


class ByteStream(Protocol):
    """A forward-only byte stream.

    ``read(n)`` returns up to ``n`` bytes and ``b""`` only at the end. ``skip(n)`` advances exactly
    ``n`` bytes (seeking where it can, reading and discarding where it must) and raises
    ``SourceError`` if the stream ends first.
    """

    def read(self, n: int = -1, /) -> bytes: ...

    def skip(self, n: int, /) -> None: ...


class OpenedLayer(ABC):
    """One layer handed out by ``ImageSource.iter_layers``.

    The consumer reads ``stream`` (uncompressed tar) as far as it needs, then calls ``finish()``,
    which drains what is left when digests must be checked, verifies them, and releases resources.
    """

    descriptor: LayerDescriptor

    @property
    @abstractmethod
    def stream(self) -> ByteStream: ...

    @abstractmethod
    def finish(self) -> str | None:
        """Verify and close. Returns the diff id if it was computed while streaming, else ``None``.

        Raises ``DigestMismatchError`` when a digest did not match.
        """


class ImageSource(ABC):
    """An image that can be read. Use as a context manager; ``close()`` releases files and sockets."""

    #: What the user named, credential-free, for messages and reports.
    ref: str

    @abstractmethod
    def config(self) -> ImageConfig: ...

    @abstractmethod
    def layers(self) -> Sequence[LayerDescriptor]:
        """Descriptors in manifest order (bottom layer first); ``index`` is the position."""

    @abstractmethod
    def iter_layers(self, *, verify: bool = False) -> Iterator[OpenedLayer]:
        """Yield every layer exactly once.

        The order is the source's choice (manifest order where it can seek; stream order for a
        ``docker save`` stream, where ``descriptor.index`` may be -1 and ``finish()`` returns the diff
        id that places the layer). Each yielded layer must be finished before the next is requested.
        With ``verify`` (always on for registries) every digest is checked while streaming.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources; the default has none."""

    def __enter__(self) -> ImageSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """Options every source may honour."""

    platform: str | None = None  # os/arch[/variant]; default: the machine's, or the only one
    insecure: bool = False  # allow plain HTTP / unverified TLS for a registry
    verify: bool = False  # verify digests of local archives and layouts too
    timeout: float = 30.0
    fast_path: bool = True  # docker: read the engine's storage directly when it can (--no-fast-path: never)

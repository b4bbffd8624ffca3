"""Read a stream ahead in a worker thread, so inflating, hashing and fetching overlap with tar parsing.

ISA-L's inflate, zstd and hashlib release the GIL on big buffers, so on a machine with two or more
cores a layer's decompression (and, under ``--verify`` or from a registry, its two sha256 passes) can
run while the main thread parses tar headers. Each stage is a ``ReadAhead``: a thread that reads its
inner stream in 1 MiB chunks into a queue of at most ``depth`` chunks, so memory stays bounded
(``depth`` MiB per stage) however big the layer. Errors raised by the inner stream (a truncated or
corrupt blob, a dropped link) are raised by ``read``/``skip`` in the consumer's thread, after every
byte that was read before them, so the consumer sees exactly what it would have seen reading inline.

``DEADWEIGHT_THREADS`` (docs/sources.md) caps the threads: 1 reads everything inline, as before.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading

from deadweight.errors import SourceError
from deadweight.sources.base import ByteStream

CHUNK = 1 << 20
#: Chunks a stage may hold ahead of its consumer (bounded memory: DEPTH MiB per stage).
DEPTH = 4
_POLL = 0.1  # seconds between checks of the stop flag while a queue is full


def worker_threads() -> int:
    """How many threads may work on one image: ``DEADWEIGHT_THREADS`` if set (>= 1), else the usable cores."""
    value = os.environ.get("DEADWEIGHT_THREADS", "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def pipelined() -> bool:
    """Whether layers are read ahead in worker threads (more than one thread allowed)."""
    return worker_threads() > 1


class ReadAhead:
    """A ``ByteStream`` over ``inner``, read up to ``depth`` chunks ahead by a daemon thread.

    ``close()`` stops the thread, waits for it (it finishes the chunk it is reading) and closes
    ``inner``; it is safe to call at any point, also after an error.
    """

    def __init__(self, inner: ByteStream, source: str, *, depth: int = DEPTH, name: str = "readahead") -> None:
        self._inner = inner
        self._source = source
        self._queue: queue.Queue[bytes | BaseException] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._chunk = b""
        self._pos = 0
        self._ended = False  # the end (or an error) came out of the queue
        self._error: BaseException | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._run, name=f"deadweight-{name}", daemon=True)
        self._thread.start()

    # -- worker ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                data = self._inner.read(CHUNK)
                if not self._put(data) or not data:
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            self._put(exc)

    def _put(self, item: bytes | BaseException) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL)
                return True
            except queue.Full:
                continue
        return False

    # -- consumer --------------------------------------------------------------------------

    def _next(self) -> bool:
        """Make the next chunk current; False at the end. Raises what the worker raised."""
        if self._error is not None:
            raise self._error
        if self._ended:
            return False
        item = self._queue.get()
        if isinstance(item, BaseException):
            self._ended = True
            self._error = item
            raise item
        if not item:
            self._ended = True
            return False
        self._chunk, self._pos = item, 0
        return True

    def read(self, n: int = -1, /) -> bytes:
        if n < 0:
            parts = [self._chunk[self._pos :]]
            self._chunk, self._pos = b"", 0
            while self._next():
                parts.append(self._chunk)
                self._chunk = b""
            return b"".join(parts)
        if n == 0:
            return b""
        if self._pos >= len(self._chunk) and not self._next():
            return b""
        chunk, pos = self._chunk, self._pos
        if pos == 0 and n >= len(chunk):
            self._chunk = b""
            return chunk
        out = chunk[pos : pos + n]
        self._pos = pos + len(out)
        return out

    def skip(self, n: int, /) -> None:
        if n < 0:
            raise ValueError("skip() needs a non-negative count")
        while n > 0:
            left = len(self._chunk) - self._pos
            if left <= 0:
                if not self._next():
                    raise SourceError(f"{self._source}: truncated: stream ended {n} bytes early")
                continue
            taken = min(left, n)
            self._pos += taken
            n -= taken

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        # Wait for the worker to leave inner.read before closing inner: a decoder closed under a read in
        # another thread is not safe. The wait is one chunk of upstream work, or a stalled network read's
        # timeout at worst.
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):  # unblock a worker waiting on a full queue
                while True:
                    self._queue.get_nowait()
            self._thread.join(_POLL)
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()
